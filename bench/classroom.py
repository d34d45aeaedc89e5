"""A class on one small server: N simulated students (default 30) plus one real browser.

A teacher shares a link and the class opens it at once. This starts the real server
(`streamlit run app.py`, 127.0.0.1 only) and N students, each a headless tab that speaks
Streamlit's own websocket protocol (bench/stclient.py: the same messages and timers as a
browser, a few ms of CPU per redraw), so the server does exactly the work a class gives it while
the students' browsers, which in a classroom run on the students' own machines, cost this
machine almost nothing. One extra student is a real headless Chromium page, so the simulated
students' numbers can be checked against a real one (printed side by side).

The lesson (seeded): most students on the 2-D page (the circle, a spiral with six layers of 8,
a regression), a few on the Images page training the seed CNN on the shipped subset. Each student
opens its link within the first few seconds, presses Play, and at random moments (seeded) pauses
and plays again, steps, resets or moves the learning rate; it closes its tab at a random time in
the last part of the lesson, and some reopen the link a little later. Everything stops by itself.

Measured, all from what the pages receive:
  refresh      redraws per second that changed the page, while the student's network trains
               (the slowest student is the figure; a page never redrawn counts as 0)
  pause        click on Pause to the first redraw that shows Play with the epoch no longer
               moving (stclient's pause_latency), every pause of every student
  fairness     per link, the slowest student's epochs per second over the fastest's, over the
               time each trained (a queued Images student waiting for a turn does not count as
               training); the figure is the worst link's
  rss          server plus workers, peak (VmRSS, sampled every 2 s)
  errors       exception elements seen on any page + tracebacks in the server log + students
               whose network was lost (progress went back without a Reset, or the page said it
               started afresh)
  freed        a closed tab to its job's "closed" line in the server log, the longest

    python bench/classroom.py [--students 30] [--minutes 4] [--seed 0] [--no-browser]
                              [--capacity] [--executor process|ray]

With --capacity it then runs shorter classes of growing size and prints the largest that meets
every target (`figure classroom-capacity <n>`).

Prints a table per kind of student, then
  figure classroom-students <n>
  figure classroom-min-refresh <per-s>
  figure classroom-pause-p95 <ms>
  figure classroom-fairness <ratio>
  figure classroom-rss <MiB>
  figure classroom-errors <n>
  figure classroom-freed-s <s>
Targets (issue 11, 30 students on 2 cores): >= 1, < 1000, >= 0.5, < 3072, 0, <= 30.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from stclient import Tab  # noqa: E402

from tests import live_app  # noqa: E402

SPIRAL = ("/?dataset=spiral&networkShape=8,8,8,8,8,8&x=true&y=true&xSquared=true&ySquared=true"
          "&xTimesY=true&sinX=true&sinY=true")
LESSON = (  # (kind, link, share of the class)
    ("circle", "/", 0.40),
    ("spiral-6x8", SPIRAL, 0.25),
    ("regression", "/?problem=regression&regDataset=reg-gauss&loss=mse", 0.20),
    ("images-seed-cnn", "/images?epochs=100", 0.15),
)
LEARNING_RATE_KEYS = {"images-seed-cnn": "img_learning_rate"}
OPEN_WITHIN_S = 8.0  # the class opens the shared link within this long
WARMUP_S = 3.0  # after Play, before a training window counts
SAMPLE_EVERY_S = 1.0
CLOSE_GRACE_S = 60.0  # after the last tab closed, how long the log is watched for its job's close
TARGETS = {"min-refresh": 1.0, "pause-p95": 1000.0, "fairness": 0.5, "rss": 3072.0, "errors": 0, "freed-s": 30.0}
BATCH_RE = re.compile(r"Epoch (\d+) of \d+: \d+% \(batch ([\d,]+) of ([\d,]+)\)")
LOST_TEXT = "started afresh"


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def lesson_plan(students: int, seed: int) -> list[tuple[str, str]]:
    """Who opens what: the lesson's shares rounded, the remainder to the first kinds."""
    counts = [int(students * share) for _, _, share in LESSON]
    for index in range(students - sum(counts)):
        counts[index % len(counts)] += 1
    plan = [(kind, link) for (kind, link, _), n in zip(LESSON, counts) for _ in range(n)]
    random.Random(seed).shuffle(plan)
    return plan


@dataclass
class Visit:
    """One opened tab of one student: its samples and what the student did on it."""

    tab: Tab
    opened: float
    closed: float | None = None
    closed_wall: float | None = None
    samples: list[tuple[float, float, bool, bool]] = field(default_factory=list)  # t, progress, training, waiting
    pauses: list[float] = field(default_factory=list)  # click times
    resets: list[float] = field(default_factory=list)
    exceptions: set[str] = field(default_factory=set)
    lost: list[str] = field(default_factory=list)


@dataclass
class Student:
    number: int
    kind: str
    link: str
    rng: random.Random
    visits: list[Visit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"student-{self.number:02d}-{self.kind}"


def progress(tab: Tab) -> float | None:
    """Epochs trained, with the Images page's batch count as the fraction."""
    for text in tab.texts(sidebar=False):
        match = BATCH_RE.search(text)
        if match:
            done, total = (int(g.replace(",", "")) for g in match.groups()[1:])
            return int(match.group(1)) - 1 + done / max(total, 1)
    return tab.epoch()


def act(student: Student, visit: Visit, until: float) -> None:
    """The student's lesson on one tab: Play, then random actions until `until`."""
    rng, tab = student.rng, visit.tab
    tab.wait_for(lambda t: t.play_label() == "Play" and t.button("Play") and not t.button("Play").disabled,
                 timeout_s=90, what="the Play button")
    tab.click("Play")
    while True:
        wait = rng.uniform(6.0, 16.0)
        if time.monotonic() + wait >= until:
            time.sleep(max(0.0, until - time.monotonic()))
            return
        time.sleep(wait)
        action = rng.choices(["pause", "rate", "step", "reset"], weights=[45, 30, 10, 15])[0]
        label = tab.play_label()
        if action == "pause" and label == "Pause":
            visit.pauses.append(tab.click("Pause"))
            time.sleep(rng.uniform(3.0, 6.0))
            # A person looks before the next click: a page that has not yet redrawn since the
            # Pause still shows "Pause"; wait for the label that follows, then go on.
            paused = _wait_quietly(tab, lambda t: t.play_label() == "Play")
            if paused and rng.random() < 0.5 and tab.button("Step") is not None:
                tab.click("Step")
                time.sleep(2.0)
            if paused and _wait_quietly(tab, lambda t: t.play_label() == "Play"):
                tab.click("Play")
        elif action == "rate":
            key = LEARNING_RATE_KEYS.get(student.kind, "learning_rate")
            try:
                widget = tab.widget(key)
                options = list(widget.options) if getattr(widget, "options", None) else []
                if options:
                    here = options.index(widget.value) if widget.value in options else len(options) // 2
                    tab.set_value(key, options[max(0, min(len(options) - 1, here + rng.choice([-1, 1])))])
            except (LookupError, ValueError, RuntimeError) as error:
                student.problems.append(f"learning rate: {error}")
        elif action == "step" and label == "Play":
            tab.click("Step")
        elif action == "reset":
            visit.resets.append(time.monotonic())
            tab.click("Reset")


def _wait_quietly(tab: Tab, condition, timeout_s: float = 20.0) -> bool:
    try:
        tab.wait_for(condition, timeout_s, "the page to show its new state")
        return True
    except TimeoutError:
        return False


def run_student(student: Student, base_url: str, start: float, end: float, stop: threading.Event) -> None:
    rng = student.rng
    opens = start + rng.uniform(0.0, OPEN_WITHIN_S)
    closes = start + (end - start) * rng.uniform(0.7, 0.95)
    while not stop.is_set():
        time.sleep(max(0.0, opens - time.monotonic()))
        try:
            tab = Tab(base_url, student.link, name=student.name)
        except Exception as error:  # noqa: BLE001 - a tab that cannot open is an error of the server
            student.problems.append(f"could not open: {type(error).__name__}: {error}")
            return
        visit = Visit(tab, time.monotonic())
        student.visits.append(visit)
        try:
            act(student, visit, closes)
        except Exception as error:  # noqa: BLE001 - reported, the class goes on
            student.problems.append(f"{type(error).__name__}: {str(error)[:300]}")
        visit.closed, visit.closed_wall = time.monotonic(), time.time()
        tab.close()
        reopens = visit.closed + rng.uniform(5.0, 15.0)
        if rng.random() > 0.3 or reopens > end - 20.0:
            return
        opens, closes = reopens, min(end, reopens + rng.uniform(20.0, 40.0))


def sample_all(students: list[Student], stop: threading.Event) -> None:
    """Every second: each open tab's progress, whether it trains or waits, and its exceptions."""
    while not stop.wait(SAMPLE_EVERY_S):
        for student in students:
            for visit in list(student.visits):
                if visit.closed is not None:
                    continue
                tab = visit.tab
                texts = " ".join(tab.texts(sidebar=False))
                value = progress(tab)
                if value is not None:
                    visit.samples.append((time.monotonic(), value, tab.play_label() == "Pause",
                                          "Waiting for a turn" in texts))
                visit.exceptions.update(e[:200] for e in tab.exceptions())
                if LOST_TEXT in texts and not visit.lost:
                    visit.lost.append("the page said its network started afresh")


def training_windows(visit: Visit) -> list[tuple[float, float, float, float]]:
    """(t0, t1, progress0, progress1) stretches of samples where the page trained (not waiting
    for a turn), from WARMUP_S after they began, cut at every pause and reset; at least 3 s long."""
    stretches, current = [], []
    cuts = sorted(visit.pauses + visit.resets)
    for t, value, training, waiting in visit.samples:
        if current and any(current[0][0] < c <= t for c in cuts):
            stretches.append(current)
            current = []
        if training and not waiting:
            current.append((t, value))
        elif current:
            stretches.append(current)
            current = []
    stretches.append(current)
    windows = []
    for stretch in stretches:
        kept = [point for point in stretch if point[0] >= stretch[0][0] + WARMUP_S] if stretch else []
        if len(kept) >= 2 and kept[-1][0] - kept[0][0] >= 3.0:
            windows.append((kept[0][0], kept[-1][0], kept[0][1], kept[-1][1]))
    return windows


def reset_answered(visit: Visit, clicked: float) -> float:
    """When the page first showed the state after a Reset: the end of the first run that started
    after the click. Until then the page still shows the old network's progress."""
    for event in visit.tab.events("script_finished", since=clicked):
        if event.data["started"] >= clicked:
            return event.t
    return float("inf")


def judge_lost(visit: Visit) -> None:
    """Progress that went back with no Reset by the student: the network was lost. Samples taken
    between a Reset click and the page's answer to it show the old run and are skipped."""
    answered = [(r, reset_answered(visit, r)) for r in visit.resets]
    best = None
    for t, value, _, _ in visit.samples:
        if any(r <= t <= a for r, a in answered):
            best = None
            continue
        if any(best is not None and best[0] < a <= t for _, a in answered):
            best = None
        if best is not None and value < best[1] - 1e-9:
            visit.lost.append(f"progress went back from {best[1]:.2f} at {best[0]:.1f} s to {value:.2f} at {t:.1f} s"
                              f" (resets clicked at {[round(r, 1) for r in visit.resets]})")
            return
        if best is None or value >= best[1]:
            best = (t, value)


def server_log_lines(app) -> list[str]:
    return app.log_tail(10**9).splitlines()


def freed_seconds(students: list[Student], lines: list[str]) -> tuple[float, int]:
    """The longest closed-tab-to-job-closed time, and how many closed tabs' jobs never closed."""
    closed_at: dict[str, float] = {}
    pattern = re.compile(r"^(\S+ \S+) INFO playground\.jobs: job \w+ of session (\S+) closed")
    for line in lines:
        match = pattern.match(line)
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            closed_at.setdefault(match.group(2), when)
    longest, never = 0.0, 0
    for student in students:
        for visit in student.visits:
            if visit.closed_wall is None or not visit.tab.session_id:
                continue
            when = closed_at.get(visit.tab.session_id)
            if when is None:
                never += 1
            else:
                longest = max(longest, when - visit.closed_wall)
    return longest, never


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q / 100 * (len(ordered) - 1)))))]


def browser_student(base_url: str, seconds: float, results: dict, stop: threading.Event) -> None:
    """One real Chromium student on the circle link: refreshes per second while training, and
    pause latency by bench/browser.py's method, to compare with the simulated ones."""
    import browser as bb

    try:
        with live_app.chromium() as context:
            page, frames = bb.open_measured(context, base_url)
            bb.ensure_playing(page, frames)
            latencies, refresh = [], []
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline - 25 and not stop.is_set():
                t0 = page.evaluate(bb.NOW_JS)
                time.sleep(8.0)
                state = page.evaluate(bb.STATE_JS, t0)
                refresh.append(sum(1 for t in state["refreshes"] if t > t0) / ((state["now"] - t0) / 1000))
                since = page.evaluate(bb.NOW_JS)
                live_app.visible(page, ".st-key-play button").click()
                outcome, ms = bb.watch_pause(page, frames, since)
                latencies.append(ms if outcome == "paused" else bb.GIVE_UP_S * 1000)
                bb.ensure_playing(page, frames)
            results.update(refresh=refresh, pauses=latencies, errors=bb.exceptions(page))
            page.close()
    except Exception as error:  # noqa: BLE001 - reported beside the simulated students
        results["failure"] = f"{type(error).__name__}: {str(error)[:300]}"


class RssPeak(threading.Thread):
    """Server plus workers, VmRSS summed, every 2 s; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        from hostile import descendants, rss_kib

        while not self.stop.wait(2.0):
            self.peak = max(self.peak, sum(rss_kib(p) for p in descendants(self.pid)) / 1024)


def run_class(students_n: int, minutes: float, seed: int, with_browser: bool, env: dict) -> dict:
    """One lesson on a fresh server; returns its figures and tables."""
    plan = lesson_plan(students_n, seed)
    students = [Student(i + 1, kind, link, random.Random(f"{seed}-{i}")) for i, (kind, link) in enumerate(plan)]
    with live_app.LiveApp(env=env) as app:
        rss = RssPeak(app.proc.pid)
        rss.start()
        stop = threading.Event()
        start = time.monotonic()
        end = start + minutes * 60
        sampler = threading.Thread(target=sample_all, args=(students, stop), daemon=True)
        sampler.start()
        threads = [threading.Thread(target=run_student, args=(s, app.url.rstrip("/"), start, end, stop), daemon=True)
                   for s in students]
        for thread in threads:
            thread.start()
        real: dict = {}
        browser_thread = None
        if with_browser:
            browser_thread = threading.Thread(target=browser_student, args=(app.url, minutes * 60 * 0.6, real, stop),
                                              daemon=True)
            browser_thread.start()
        load = []
        while time.monotonic() < end + 5:
            time.sleep(15)
            load.append(os.getloadavg()[0])
            open_tabs = sum(1 for s in students for v in s.visits if v.closed is None)
            log(f"{students_n} students: {open_tabs} tabs open, load {load[-1]:.1f}, RSS peak {rss.peak:.0f} MiB")
        for thread in threads:
            thread.join(timeout=30)
        stop.set()
        if browser_thread:
            browser_thread.join(timeout=60)
        time.sleep(min(CLOSE_GRACE_S, max(5.0, float(env.get("PLAYGROUND_JOB_TTL_S", 20)) + 15)))
        rss.stop.set()
        lines = server_log_lines(app)
    return summarize(students, lines, rss.peak, real, load)


def summarize(students: list[Student], lines: list[str], rss_peak: float, real: dict, load: list[float]) -> dict:
    rows, pauses, refresh_by_student = {}, [], {}
    rates_by_kind: dict[str, list[float]] = {}
    errors_pages, lost = 0, 0
    for student in students:
        redraws, trained_s, progressed = 0, 0.0, 0.0
        for visit in student.visits:
            judge_lost(visit)
            for t0, t1, p0, p1 in training_windows(visit):
                redraws += visit.tab.redraws(t0, t1)
                trained_s += t1 - t0
                progressed += max(0.0, p1 - p0)
            for click in visit.pauses:
                latency = visit.tab.pause_latency(click)
                pauses.append(latency * 1000 if latency is not None else 10_000.0)
            errors_pages += 1 if visit.exceptions else 0
            lost += 1 if visit.lost else 0
            student.problems.extend(f"network lost: {why}" for why in visit.lost)
            student.problems.extend(f"exception: {text}" for text in sorted(visit.exceptions))
        if student.visits and not any(training_windows(v) for v in student.visits):
            student.problems.append("never trained 3 s on end: " + "; ".join(
                f"visit of {(v.closed or time.monotonic()) - v.opened:.0f} s, {len(v.samples)} samples, "
                f"{sum(1 for x in v.samples if x[2])} training, {sum(1 for x in v.samples if x[3])} waiting"
                for v in student.visits))
        if trained_s > 0:
            refresh_by_student[student.name] = redraws / trained_s
            rates_by_kind.setdefault(student.kind, []).append(progressed / trained_s)
        row = rows.setdefault(student.kind, {"students": 0, "visits": 0, "refresh": [], "rates": [], "problems": 0})
        row["students"] += 1
        row["visits"] += len(student.visits)
        row["problems"] += len(student.problems)
        if student.name in refresh_by_student:
            row["refresh"].append(refresh_by_student[student.name])
            row["rates"].append(rates_by_kind[student.kind][-1])
    tracebacks = sum(1 for line in lines if "Traceback" in line)
    freed, never = freed_seconds(students, lines)
    fairness = min((min(r) / max(r) for r in rates_by_kind.values() if len(r) > 1 and max(r) > 0), default=float("nan"))
    never_trained = [s.name for s in students if s.name not in refresh_by_student]
    return {
        "students": len(students), "rows": rows, "pauses": pauses, "refresh": refresh_by_student,
        "min_refresh": min(list(refresh_by_student.values()) + [0.0] * len(never_trained)) if students else 0.0,
        "never_trained": never_trained, "fairness": fairness, "rss": rss_peak,
        "errors": errors_pages + tracebacks + lost + never, "error_parts": (errors_pages, tracebacks, lost, never),
        "freed": freed if never == 0 else float("inf"), "real": real, "load": load,
        "problems": [(s.name, p) for s in students for p in s.problems],
    }


def meets_targets(result: dict) -> bool:
    return (result["min_refresh"] >= TARGETS["min-refresh"] and percentile(result["pauses"], 95) < TARGETS["pause-p95"]
            and result["fairness"] >= TARGETS["fairness"] and result["rss"] < TARGETS["rss"]
            and result["errors"] == TARGETS["errors"] and result["freed"] <= TARGETS["freed-s"])


def report(result: dict) -> None:
    print(f"\nclass of {result['students']} on {os.cpu_count()} CPU cores; load average during it: "
          + ", ".join(f"{v:.1f}" for v in result["load"]))
    print(f"{'students':20s} {'n':>3s} {'visits':>6s} {'refresh/s min':>13s} {'median':>7s} "
          f"{'epochs/s min':>12s} {'max':>8s} {'problems':>8s}")
    for kind, row in result["rows"].items():
        refresh, rates = row["refresh"] or [0.0], row["rates"] or [0.0]
        print(f"{kind:20s} {row['students']:3d} {row['visits']:6d} {min(refresh):13.2f} "
              f"{sorted(refresh)[len(refresh) // 2]:7.2f} {min(rates):12.3f} {max(rates):8.3f} {row['problems']:8d}")
    real = result["real"]
    if real.get("refresh") or real.get("failure"):
        print(f"{'chromium (circle)':20s}   1      1 {min(real.get('refresh') or [0]):13.2f} "
              f"{'':7s} pause ms {', '.join(f'{v:.0f}' for v in real.get('pauses', []))}"
              f"{'; ' + real['failure'] if real.get('failure') else ''}")
    pages, tracebacks, lost, never = result["error_parts"]
    print(f"pause latency (simulated students): {len(result['pauses'])} pauses, p50 {percentile(result['pauses'], 50):.0f} ms,"
          f" p95 {percentile(result['pauses'], 95):.0f} ms, max {max(result['pauses'] or [0]):.0f} ms")
    print(f"errors: {pages} pages with an exception, {tracebacks} tracebacks in the server log, {lost} networks lost, "
          f"{never} closed tabs whose job never closed")
    if result["never_trained"]:
        print(f"never trained (counted as 0 refreshes/s): {', '.join(result['never_trained'])}")
    for name, problem in result["problems"][:20]:
        print(f"  {name}: {problem}")


def figures(result: dict) -> None:
    print(f"figure classroom-students {result['students']}")
    print(f"figure classroom-min-refresh {result['min_refresh']:.2f} per-s")
    print(f"figure classroom-pause-p95 {percentile(result['pauses'], 95):.0f} ms")
    print(f"figure classroom-fairness {result['fairness']:.2f}")
    print(f"figure classroom-rss {result['rss']:.0f} MiB")
    print(f"figure classroom-errors {result['errors']}")
    print(f"figure classroom-freed-s {result['freed']:.1f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-browser", action="store_true", help="no real Chromium student")
    parser.add_argument("--capacity", action="store_true", help="then find the largest class that meets the targets")
    parser.add_argument("--executor", choices=("process", "ray"), default="process")
    args = parser.parse_args()
    env = {"PLAYGROUND_EXECUTOR": args.executor}
    if not args.no_browser:
        live_app.require_browser()
    result = run_class(args.students, args.minutes, args.seed, not args.no_browser, env)
    report(result)
    figures(result)
    if args.capacity:
        low, high = 0, args.students * 2
        size = args.students if meets_targets(result) else max(5, args.students // 2)
        while high - low > 5:
            trial = run_class(size, max(2.0, args.minutes / 2), args.seed + size, False, env)
            ok = meets_targets(trial)
            log(f"capacity: a class of {size}: {'meets' if ok else 'misses'} the targets")
            low, high = (size, high) if ok else (low, size)
            size = (low + high) // 2
        print(f"figure classroom-capacity {low}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
