"""A shared server that no visitor can break: hostile links and the heaviest allowed network beside
people who train, on one worker.

Starts the app with PLAYGROUND_WORKERS=1 (every job shares one worker process: the worst case).
All traffic stays on 127.0.0.1. Two kinds of client drive it:

  - Chromium (headless Debian Chromium, as bench/browser.py; its page helpers and its pause
    measurement are reused) for what must be seen in a real browser: the measured circle page,
    and the first look at the heaviest allowed network and at every hostile link (is there a
    traceback, an exception box, a blank page? screenshots on a crash).
  - stclient tabs (bench/stclient.py: Streamlit's own websocket protocol, a few ms of client CPU
    per redraw) for what only has to load the server: the other bystanders, and the hostile
    pages after their first look.

Why: the server does the same work for either client (the same reruns on the same timers, the
same jobs trained), but a Chromium renderer costs about a core of its own. With ~20 of them on a
2-core machine the load average reached 12-14 and the figures mostly measured Chromium starving
the server. In a classroom the students' browsers run on the students' machines; only the server
shares its CPUs. So only the measured page and the pages whose rendering is checked run here in
Chromium. `--browsers` runs every page in Chromium as before, for comparison.

  1. Bystanders, each its own session: four train the circle (the default link `/`, Play) and
     one trains the seed CNN (`/images` with 100 epochs, so it does not finish, Play). The first
     circle page ("circle-1", measured) is a Chromium page; circle-2..4 and seed-cnn are stclient
     tabs (Chromium pages with --browsers).
  2. Baseline: pause latency of the measured circle page with no heavy job (click on Pause to
     the last change of the epoch counter, bench/browser.py's method), --pauses tries.
  3. The heaviest allowed network, found from the product's own estimate and limits
     (`images.spec.summarize(spec, train_size=10000)` and `capacity.limit_problems`): a deep CNN
     family (conv w, conv w, maxpool2, conv 2w, maxpool2, flatten, dense256-relu, dense10) at the
     largest batch size that passes, for several widths; the one with the longest estimated
     training step (then the most memory). Another client opens it in Chromium and presses Play;
     then it is handed over (below); then the measured page's pause latency beside it, --pauses
     tries.
  4. The same client opens every hostile link (long numbers, NaN/inf, unicode, repeated keys,
     huge momentum, BatchNorm at batch 9 and 1, a network over the server's limits, a 2 KB query,
     ...) in Chromium and presses Play wherever the page lets it, then hands it over. Then one
     more pause series, for the record.
  5. Everything stays open until --minutes after the bystanders started training; then the
     hostile client closes its pages and the bench waits for the server to close their jobs.

Hand-over (not with --browsers): once a Chromium page's outcome is recorded (and its screenshot
taken, crashed or not), the page is paused if it trains (so that its job gives its heavy slot
back), closed, and a stclient tab opens the same link and presses Play where the Chromium page
did, so the server keeps the same load: the job trains. The closed page's paused job lingers
until the server's job TTL, as any closed tab's does. The tab stays open until the hostile client
leaves, and is checked for exception boxes like any page.

Meanwhile every bystander records every change of its progress (the epoch counter; on the Images
page the epoch plus the fraction of it from the progress bar's batch count), of its Play/Pause
label and of the notes it shows (alerts and toasts): a Chromium page in the page itself, a
stclient tab from its event log. A thread samples the resident memory (VmRSS) of the server and
all its descendant processes (the worker), and the load average, every 2 s.

    python bench/hostile.py [--minutes 10] [--pauses 10] [--browsers]

Prints a table (its `client` column says which pages were stclient tabs), then

  figure hostile-crashes <n>        pages (hostile or not) that showed a traceback, a Streamlit
                                    exception box, or nothing (the app's controls never appeared)
  figure jobs-lost <n>              bystanders that lost their network: progress went back, the
                                    page said it started afresh, or it stood still for > 10 s
                                    while showing Pause with no note on the page saying why
  figure pause-p95-beside-heavy <ms>
  figure pause-p95-baseline <ms>    the same page before the heavy job opened
  figure rss-growth-10min <MiB>     server + worker RSS: the end (after the hostile client left
                                    and its jobs were closed) minus 60 s after the bystanders
                                    started (with --rehearsal: minus the end of an unmeasured
                                    first hostile visit, and --minutes held from there); over the
                                    duration printed above it, not scaled
Targets (issue 10): 0, 0, < 1000 ms, < 50 MiB. Screenshots (and, for stclient tabs, text dumps of
what the tab showed) go to /tmp/hostile-shots/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import browser as bb  # noqa: E402  (bench/browser.py: page helpers and the pause measurement)
from stclient import OK_NAMES, Tab  # noqa: E402  (bench/stclient.py: a tab without a browser)

from tests import live_app  # noqa: E402

SHOTS = Path("/tmp/hostile-shots")
CIRCLE = "/"  # the default link: the circle, 4,2 tanh
SEED_CNN_EPOCHS = 100  # the seed CNN bystander must not finish during the run
CIRCLES = 4
WARMUP_S = 60.0  # RSS growth is measured from this long after the bystanders started training
STALL_S = 10.0  # a bystander showing Pause whose progress stands still this long, with no note: lost
DROP_GRACE_S = 3.0  # a progress value below the best seen, for this long: the network went back
CLEANUP_S = 45.0  # after the hostile client leaves: the job TTL (20 s) + the reaper, with margin
PAGE_TIMEOUT_MS = 60_000  # to open a page and see the app's controls
ACTION_TIMEOUT_MS = 20_000  # anything else on a page
CHECK_EVERY_S = 8.0  # how often every open page is looked at for exceptions during waits
STATUS_EVERY_S = 30.0  # how often a status line is logged during waits
HARD_EXTRA_S = 25 * 60  # the scenario stops at --minutes plus this, whatever happens
MAX_RELOADS = 3  # a bystander page that went blank (a tab whose connection the server closed) is reopened at most this often
HANDED_OVER_WAIT_S = 20.0  # a tab on a link whose Chromium page never showed the controls waits this long for them
MONO_TO_WALL = time.time() - time.monotonic()  # stclient's event times (monotonic) to the wall clock

# The Images page's progress bar: "Epoch 3 of 100: 42% (batch 33 of 79) · about 12 s left in this epoch".
BAR_RE = re.compile(r"Epoch (\d+) of \d+: (\d+)%(?: \(batch ([\d,]+) of ([\d,]+)\))?"
                    r"(?:.*?testing epoch \d+'s network: ([\d,]+) of ([\d,]+) test images)?")
# Testing between epochs is progress a person sees (the count moves); it weighs 1/1000 of an
# epoch, less than any batch, so the progress values stay in order.
TESTING_WEIGHT = 0.001

# Installed in every page we watch. Records, with the wall clock (Date.now(), comparable across
# pages and with Python's time.time()), each change of progress, label, notes and exception boxes.
MONITOR_JS = """() => {
    if (window.__hostile) return;""" + bb.LIVE_JS + """    const h = window.__hostile = {progress: [], counters: [], labels: [], alerts: [], exceptions: [], last: null,
                                  lastCounter: null, lastLabel: null, lastAlert: null, lastExc: 0, finished: false};
    function check() {
        const now = Date.now();
        let value = null;
        const counter = live('.st-key-epoch');
        if (counter) {
            const m = /Epoch\\D*(\\d+)/.exec(counter.textContent || '');
            if (m) value = parseInt(m[1], 10);
            if (value !== null && value !== h.lastCounter) { h.lastCounter = value; h.counters.push([now, value]); }
        }
        const bar = live('[data-testid="stProgress"]');
        if (bar) {
            const text = bar.textContent || '';
            const m = /Epoch (\\d+) of \\d+: (\\d+)%(?: \\(batch ([\\d,]+) of ([\\d,]+)\\))?(?:.*?testing epoch \\d+'s network: ([\\d,]+) of ([\\d,]+) test images)?/.exec(text);
            if (m) {  // the batch count where there is one: it moves when the percentage does not
                const steps = m[4] ? parseInt(m[4].replace(/,/g, ''), 10) : 0;
                const part = steps > 0 ? parseInt(m[3].replace(/,/g, ''), 10) / steps : parseInt(m[2], 10) / 100;
                const tested = m[6] ? 0.001 * parseInt(m[5].replace(/,/g, ''), 10) / parseInt(m[6].replace(/,/g, ''), 10) : 0;
                value = parseInt(m[1], 10) - 1 + part + tested;
            }
            h.finished = text.startsWith('Done');
        }
        if (value !== null && value !== h.last) { h.last = value; h.progress.push([now, value]); }
        const button = live('.st-key-play button');
        const text = button ? button.textContent.trim() : '';
        const word = text.endsWith('Pause') ? 'Pause' : text.endsWith('Play') ? 'Play' : null;
        if (word && word !== h.lastLabel) { h.lastLabel = word; h.labels.push([now, word]); }
        const notes = [];
        for (const el of document.querySelectorAll('[data-testid="stAlert"], [data-testid="stToast"]')) {
            if (!el.closest('[data-stale="true"]')) notes.push((el.textContent || '').trim().slice(0, 300));
        }
        const alert = notes.join(' || ');
        if (alert !== h.lastAlert) { h.lastAlert = alert; h.alerts.push([now, alert]); }
        const exc = document.querySelectorAll('[data-testid="stException"]').length;
        if (exc !== h.lastExc) { h.lastExc = exc; h.exceptions.push([now, exc]); }
    }
    new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
    check();
}"""

MONITOR_STATE_JS = "() => window.__hostile ? {last: window.__hostile.last, label: window.__hostile.lastLabel, " \
                   "alert: window.__hostile.lastAlert, finished: window.__hostile.finished} : null"
MONITOR_LOG_JS = "() => window.__hostile || null"

# What a page shows right now: exception boxes, a traceback, how much text, a lost connection.
PAGE_JS = """() => {
    const text = document.body ? document.body.innerText : '';
    return {exceptions: document.querySelectorAll('[data-testid="stException"]').length,
            traceback: text.includes('Traceback'),
            chars: text.trim().length,
            connection: /Connection error|Is Streamlit still running|Connecting/.test(text),
            text: text.slice(0, 4000)};
}"""


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60] or "page"


# ---- the heaviest allowed network --------------------------------------------------------------


def deep_cnn(width: int):
    from playground.images.spec import FLATTEN, conv, dense, pool

    return (conv(width, 3, padding=1), conv(width, 3, padding=1), pool(2), conv(2 * width, 3, padding=1), pool(2),
            FLATTEN, dense(256, "relu"), dense(10))


def heaviest_allowed(settings) -> tuple[object, object, list[tuple]]:
    """The deep CNN family's largest allowed batch size per width, by the product's own estimate
    and limits; returns (spec, summary, table rows) of the one with the longest training step."""
    from playground.capacity import limit_problems
    from playground.images.spec import BATCH_RANGE, ImageSpec, ImageTrainSpec, summarize, validate

    rows, best = [], None
    for width in (8, 16, 32, 48, 64, 96, 128):
        found = None
        for batch in range(BATCH_RANGE[0], BATCH_RANGE[1] + 1):
            spec, notes = validate(ImageSpec(deep_cnn(width), ImageTrainSpec(batch_size=batch, epochs=SEED_CNN_EPOCHS)))
            if notes or spec.train.batch_size != batch:
                continue
            summary = summarize(spec, train_size=10_000)
            if summary.ok and not limit_problems(summary, batch, settings):
                found = (spec, summary)
        if found is None:
            rows.append((width, None, math.nan, math.nan, math.nan))
            continue
        spec, summary = found
        rows.append((width, spec.train.batch_size, summary.seconds_per_step, summary.memory_mb, summary.seconds_per_epoch))
        key = (summary.seconds_per_step, summary.memory_mb)
        if best is None or key > best[0]:
            best = (key, spec, summary)
    if best is None:
        raise RuntimeError("no network of the deep CNN family passes this server's limits")
    return best[1], best[2], rows


def hostile_links() -> list[tuple[str, str]]:
    """(name, path and query) of every hostile link; the query is sent as written."""
    long_query = "&".join(f"k{i}=" + "x" * 20 for i in range(80))  # ~2 KB of unknown parameters
    many_layers = ",".join(["dense8-relu"] * 150) + ",dense10"  # ~1.8 KB, over the value length limit
    return [
        ("networkShape-400-ones", "/?networkShape=" + "1" * 400),
        ("2d-sgd-momentum-0.995", "/?optimizer=sgd&momentum=0.995"),
        ("images-sgd-momentum-0.995", "/images?optimizer=sgd&momentum=0.995"),
        ("images-batchnorm-batch-9", "/images?layers=flatten,dense16-relu,batchnorm,dense10&batchSize=9"),
        ("images-batchnorm-batch-1", "/images?layers=flatten,dense16-relu,batchnorm,dense10&batchSize=1"),
        ("images-7-conv256", "/images?layers=" + "conv256k3p1-relu," * 7 + "maxpool4,flatten,dense10"),
        ("2d-repeated-keys", "/?dataset=circle&dataset=spiral&networkShape=4,2&networkShape=8,8,8&seed=1&seed=2"),
        ("images-repeated-keys", "/images?layers=flatten,dense10&layers=conv8k3-relu,flatten,dense10"
                                 "&batchSize=1&batchSize=1024"),
        ("2d-nan-inf", "/?learningRate=nan&noise=inf&batchSize=-inf&regularizationRate=1e999&seed=NaN"
                       "&momentum=-Infinity&networkShape=nan,inf,-1"),
        ("images-nan-inf", "/images?learningRate=inf&momentum=nan&weightDecay=-1e308&epochs=1e999&seed=-inf"
                           "&batchSize=NaN"),
        ("2d-unicode", "/?dataset=" + quote("\u202ecircle\U0001f4a5") + "&activation=" + quote("\u0915")
                       + "&networkShape=" + quote("\uff14,\u0662") + "&seed=" + quote("\u0663")),
        ("images-unicode", "/images?layers=" + quote("conv\uff13\uff12k3-relu,\u00e9,flatten,dense10")
                           + "&optimizer=" + quote("\u0430dam")),
        ("2d-nul-bytes", "/?dataset=circle%00&seed=%00%00&%00=1"),
        ("images-conv-300-digits", "/images?layers=conv" + "9" * 300 + ",flatten,dense10"),
        ("images-dropout1e999", "/images?layers=flatten,dropout1e999,dense10"),
        ("2d-2kb-query", "/?" + long_query),
        ("images-2kb-layers", "/images?layers=" + many_layers),
    ]


# ---- memory ------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid and every process below it, from /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssSampler(threading.Thread):
    """The server's and its descendants' VmRSS, summed, and the load average, every `every_s`."""

    def __init__(self, pid: int, every_s: float = 2.0):
        super().__init__(daemon=True, name="rss-sampler")
        self.pid, self.every_s = pid, every_s
        self.samples: list[tuple[float, float, dict[int, float]]] = []  # (time, MiB, {pid: MiB})
        self.loads: list[tuple[float, float]] = []  # (time, 1-minute load average)
        self._stop = threading.Event()

    def sample(self) -> tuple[float, float, dict[int, float]]:
        per = {p: rss_kib(p) / 1024 for p in descendants(self.pid)}
        entry = (time.time(), sum(per.values()), per)
        self.samples.append(entry)
        self.loads.append((entry[0], os.getloadavg()[0]))
        return entry

    def run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        self._stop.set()

    def at(self, when: float) -> float:
        """The first sample at or after `when` (the last one if none)."""
        for t, mib, _ in self.samples:
            if t >= when:
                return mib
        return self.samples[-1][1] if self.samples else math.nan


# ---- pages -------------------------------------------------------------------------------------


class TabRecorder:
    """A stclient tab's records, in the format MONITOR_JS keeps in a Chromium page (wall-clock ms),
    built from the tab's events as they come (a listener: it runs on stclient's loop thread).

    Progress: the epoch counter, or on the Images page the progress bar's epoch plus the fraction
    of it done (the batch count, else the percentage). Notes: the alerts and toasts on the page
    after each completed run (stale elements of a run still going are not read, as MONITOR_JS skips
    them); exception boxes likewise."""

    def __init__(self, watched: Watched):
        self.watched = watched
        self.lock = threading.Lock()
        self.h = {"progress": [], "counters": [], "labels": [], "alerts": [], "exceptions": [], "last": None,
                  "lastCounter": None, "lastLabel": None, "lastAlert": None, "lastExc": 0, "finished": False,
                  "closed": None}

    def __call__(self, tab: Tab, event) -> None:
        kind = event.kind
        if kind not in ("epoch", "play_label", "script_finished", "exception", "closed", "error", "cache_miss"):
            return
        now = (event.t + MONO_TO_WALL) * 1000
        h = self.h
        if kind in ("error", "cache_miss"):
            text = event.data.get("error") or f"cache miss {event.data.get('hash', '')}"
            self.watched.errors.append((now / 1000, f"stclient: {text}"[:300]))
            return
        with self.lock:
            if kind == "closed":
                h["closed"] = now
                return
            if kind == "play_label":
                word = event.data["label"]
                if word in ("Play", "Pause") and word != h["lastLabel"]:
                    h["lastLabel"] = word
                    h["labels"].append([now, word])
                return
            if kind == "epoch" and event.data["epoch"] is not None and event.data["epoch"] != h["lastCounter"]:
                h["lastCounter"] = event.data["epoch"]
                h["counters"].append([now, event.data["epoch"]])
            value, finished = tab_progress(tab)
            if value is not None and value != h["last"]:
                h["last"] = value
                h["progress"].append([now, value])
            h["finished"] = finished
            if kind == "script_finished" and event.data["status"] in OK_NAMES:
                alert = tab_notes(tab)
                if alert != h["lastAlert"]:
                    h["lastAlert"] = alert
                    h["alerts"].append([now, alert])
            if kind in ("exception", "script_finished"):
                count = len(tab.exceptions())
                if count != h["lastExc"]:
                    h["lastExc"] = count
                    h["exceptions"].append([now, count])

    def snapshot(self) -> dict:
        with self.lock:
            return {key: list(value) if isinstance(value, list) else value for key, value in self.h.items()}


def tab_progress(tab: Tab) -> tuple[float | None, bool]:
    """(progress, finished) as the page shows it: the epoch counter, or the progress bar's epoch
    plus the fraction done; a bar that reads "Done" means finished (the counter stands)."""
    value, finished = tab.epoch(), False
    for text in tab.texts():
        match = BAR_RE.match(text)
        if match:
            steps = int(match[4].replace(",", "")) if match[4] else 0
            part = int(match[3].replace(",", "")) / steps if steps > 0 else int(match[2]) / 100
            tested = TESTING_WEIGHT * int(match[5].replace(",", "")) / int(match[6].replace(",", "")) if match[6] else 0.0
            return int(match[1]) - 1 + part + tested, False
        if text.startswith("Done"):
            finished = True
    return value, finished


def tab_notes(tab: Tab) -> str:
    """The alerts (st.info, st.warning, st.error) and toasts on the page, joined as MONITOR_JS does.
    stclient's public readers do not say what kind a text is, so its page tree is read here, under
    its lock, as its own `texts()` does."""
    notes = []
    with tab._lock:
        for node in tab._tree.elements():
            kind = node.element.WhichOneof("type")
            if kind in ("alert", "toast"):
                notes.append(getattr(node.element, kind).body.strip()[:300])
    return " || ".join(notes)


class Watched:
    """One open page: what it is, and every problem seen on it.

    A page is a Chromium page (`page`) or a stclient tab (`tab`); a hostile page starts in Chromium
    and is handed over to a tab (`handed_over`). A bystander whose page crashed (went blank; for a
    tab: the server closed its connection) is reloaded (a new tab), as a person would: what its
    page had recorded is kept as one segment, and the reloaded page (a new session, a fresh
    network) records the next one.
    """

    def __init__(self, name: str, role: str, url: str, page=None, measured: bool = False):
        self.name, self.role, self.page, self.url, self.measured = name, role, page, url, measured
        self.tab: Tab | None = None
        self.tab_at: tuple[str, str] | None = None  # (base url, path and query) of the tab, to reopen it
        self.recorder: TabRecorder | None = None
        self.handed_over = False
        self.pressed_play = False  # Play was clicked on it (the tab it is handed over to presses Play too)
        self.crash: str | None = None  # why it counts as crashed (the first time)
        self.kinds: list[str] = []  # each crash: exception box, traceback, blank after a JS error, never rendered
        self.crashes = 0
        self.blank_since: float | None = None  # a blank page not yet reloaded (time.time())
        self.errors: list[tuple[float, str]] = []  # JavaScript errors the page raised (a tab: messages it could not apply)
        self.notes: list[str] = []
        self.lost: list[str] = []  # why this bystander lost its network (beyond what its records show)
        self.segments: list[tuple[dict | None, float, float]] = []  # (records, start ms, end ms)
        self.segment_start = time.time() * 1000
        self.reloads = 0
        self.closed = False
        self.exceptions_seen = 0  # a tab counts a crash when exception boxes appear, not at every check
        self.traceback_seen = False
        if page is not None:
            self.listen()

    @property
    def client(self) -> str:
        if self.handed_over:
            return "chromium>stclient"
        return "stclient" if self.tab is not None else "chromium"

    @property
    def dead(self) -> bool:
        """Blank, and reloaded as often as the bench allows."""
        return self.blank_since is not None and self.reloads >= MAX_RELOADS

    def listen(self) -> None:
        def error(exc) -> None:
            text = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            self.errors.append((time.time(), text))
            log(f"{self.name}: JavaScript error on the page: {text}")

        def crashed(_page) -> None:
            self.errors.append((time.time(), "the renderer crashed"))
            log(f"{self.name}: the page's renderer crashed")

        self.page.on("pageerror", error)
        self.page.on("crash", crashed)

    def open_tab(self, base: str, path: str, wait_s: float) -> bool:
        """Open a stclient tab on `path` and wait for the app's controls (False if they did not come)."""
        self.recorder, self.tab_at = TabRecorder(self), (base, path)
        self.tab = Tab(base, path, name=self.name, listener=self.recorder, timeout_s=PAGE_TIMEOUT_MS / 1000)
        self.segment_start = time.time() * 1000
        try:
            self.tab.wait_for(lambda t: t.play_label() in ("Play", "Pause") or t.closed, wait_s, "the app's controls")
        except TimeoutError:
            return False
        return self.tab.play_label() is not None

    def shot(self, tag: str = "") -> str:
        """A screenshot of a Chromium page; for a tab, a text file of what it shows."""
        stem = f"{slug(self.name)}{'-' + tag if tag else ''}"
        if self.page is None:
            if self.tab is None:
                return ""
            path = SHOTS / f"{stem}.txt"
            path.write_text(f"{self.name} ({self.client}) {self.url}\nlabel {self.tab.play_label()!r}, "
                            f"epoch {self.tab.epoch()}, closed {self.tab.closed}\n\nexceptions:\n"
                            + "\n".join(self.tab.exceptions()) + "\n\ntexts:\n" + "\n".join(self.tab.texts()))
            return str(path)
        path = SHOTS / f"{stem}.png"
        try:
            self.page.screenshot(path=str(path), timeout=20_000)
        except Exception as error:  # noqa: BLE001 - a screenshot is a courtesy
            log(f"{self.name}: screenshot failed: {type(error).__name__}: {str(error)[:120]}")
        return str(path)

    def check(self) -> dict | None:
        """Look for exception boxes, tracebacks, an empty page; remember each crash."""
        if self.closed:
            return None
        if self.page is None:
            return self.check_tab() if self.tab is not None else None
        try:
            seen = self.page.evaluate(PAGE_JS)
        except Exception as error:  # noqa: BLE001
            seen = {"exceptions": 0, "traceback": False, "chars": 0, "connection": False,
                    "text": f"(the page could not be read: {type(error).__name__})"}
        why = kind = None
        if seen["exceptions"]:
            why = kind = f"{seen['exceptions']} exception box(es)"
        elif seen["traceback"]:
            why = kind = "a traceback in the page text"
        elif seen["chars"] < 30:
            why = f"a blank page ({seen['chars']} characters)"
            kind = "blank after a JavaScript error" if self.errors else "blank page"
            if self.blank_since is None:
                self.blank_since = time.time()
            else:
                why = None  # the same blank page, already counted
        self.exceptions_seen = max(self.exceptions_seen, seen["exceptions"])
        self.traceback_seen = self.traceback_seen or seen["traceback"]
        if why:
            self.crashes += 1
            self.kinds.append(kind)
            if self.errors:
                why += f"; last JavaScript error: {self.errors[-1][1][:120]}"
            self.crash = self.crash or why
            path = self.shot(f"crash{self.crashes}")
            excerpt = re.sub(r"\s+", " ", seen["text"])
            at = excerpt.find("Traceback")
            log(f"CRASH {self.name} ({self.url[:120]}): {why}; screenshot {path}; text: "
                f"{excerpt[max(0, at - 200) if at >= 0 else 0:][:600]}")
        if seen["connection"] and not any("connection" in n for n in self.notes):
            self.notes.append("the page said it lost its connection (Connection error / Connecting)")
            log(f"{self.name}: the page shows a connection problem; screenshot {self.shot('connection')}")
        return seen

    def check_tab(self) -> dict:
        """A tab's crash check: exception boxes or a traceback newly on the page (what a browser
        would show; counted once per appearance), or its connection closed by the server (a
        browser would say "Connection error"; the tab does not reconnect: a bystander is reopened)."""
        tab = self.tab
        exceptions, texts = tab.exceptions(), tab.texts()
        text = "\n".join(texts)
        seen = {"exceptions": len(exceptions), "traceback": "Traceback" in text, "chars": len(text.strip()),
                "connection": tab.closed, "text": text[:4000]}
        why = None
        if len(exceptions) > self.exceptions_seen:
            why = f"{len(exceptions)} exception box(es)"
        elif seen["traceback"] and not self.traceback_seen:
            why = "a traceback in the page text"
        self.exceptions_seen = max(self.exceptions_seen, len(exceptions))
        self.traceback_seen = self.traceback_seen or seen["traceback"]
        if why:
            self.crashes += 1
            self.kinds.append(why if why.startswith("a ") else "exception box(es)")
            self.crash = self.crash or why
            path = self.shot(f"crash{self.crashes}")
            log(f"CRASH {self.name} ({self.url[:120]}, stclient tab): {why}; what it shows: {path}; "
                f"{(exceptions or [''])[0][:600]!r}")
        if tab.closed and self.blank_since is None:
            self.blank_since = time.time()
            self.notes.append(f"the server closed the tab's connection (code {tab.close_code})")
            log(f"{self.name}: the server closed the tab's connection (code {tab.close_code}); {self.shot('connection')}")
        return seen

    def records(self) -> dict | None:
        if self.page is None:
            return self.recorder.snapshot() if self.recorder is not None else None
        try:
            return self.page.evaluate(MONITOR_LOG_JS)
        except Exception as error:  # noqa: BLE001
            self.notes.append(f"its records could not be read ({type(error).__name__})")
            return None

    def close_segment(self, end_ms: float, crashed: bool = False) -> None:
        record = self.records()
        self.segments.append((record, self.segment_start, end_ms))
        if crashed and record:  # what the page said just before it went blank
            before = [f"{(t - end_ms) / 1000:+.1f} s: {text[:160] or '(no note)'}"
                      for t, text in record["alerts"] if end_ms - 20_000 <= t <= end_ms + 1000]
            labels = [f"{(t - end_ms) / 1000:+.1f} s: {text}" for t, text in record["labels"] if end_ms - 20_000 <= t]
            progress = [v for t, v in record["progress"] if end_ms - 20_000 <= t <= end_ms]
            log(f"{self.name} in the 20 s before it went blank: notes {before or 'none'}; labels {labels or 'none'}; "
                f"progress {progress[:1] + progress[-1:] if progress else 'unchanged'}")

    def gone_text(self, end_ms: float) -> str:
        when = time.strftime('%H:%M:%S', time.localtime(end_ms / 1000))
        if self.page is None:
            return f"the server closed the tab's connection at {when}"
        return f"the page went blank at {when}" + (f" ({self.errors[-1][1][:100]})" if self.errors else "")

    def recover(self) -> None:
        """The page is blank: keep its records up to the crash, reload it and train again."""
        crashed_at = self.blank_since or time.time()
        if self.page is None and self.recorder is not None and self.recorder.h["closed"]:
            crashed_at = self.recorder.h["closed"] / 1000
        errors = [t for t, _ in self.errors if t <= crashed_at + 1]
        end_ms = (max(errors) if errors and self.page is not None else crashed_at) * 1000
        self.close_segment(end_ms, crashed=True)
        self.lost.append(self.gone_text(end_ms) + "; reloading it gives a fresh network")
        log(f"{self.name}: reloading the blank page" if self.page is not None else f"{self.name}: opening a new tab")
        self.blank_since = None
        if self.page is None:
            try:
                if not self.open_tab(*self.tab_at, PAGE_TIMEOUT_MS / 1000):
                    raise TimeoutError("the app's controls did not appear")
                log(f"{self.name} in a new tab: {start_training(self)}")
            except Exception as error:  # noqa: BLE001
                log(f"{self.name}: the new tab did not come: {type(error).__name__}: {str(error)[:200]}")
                self.segment_start = time.time() * 1000
            return
        try:
            self.page.reload(wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
            live_app.wait_for_app(self.page, PAGE_TIMEOUT_MS)
            self.page.evaluate(MONITOR_JS)
            if self.measured:
                self.page.evaluate(bb.PROBE_JS)
            self.segment_start = time.time() * 1000
            log(f"{self.name} after the reload: {start_training(self)}")
        except Exception as error:  # noqa: BLE001
            log(f"{self.name}: the reloaded page did not come back: {type(error).__name__}: {str(error)[:200]}")
            self.segment_start = time.time() * 1000

    def ensure_healthy(self) -> None:
        """Check the page; reload a blank bystander (at most MAX_RELOADS times)."""
        self.check()
        if self.blank_since is not None and self.role == "bystander" and not self.closed and not self.dead:
            self.reloads += 1
            self.recover()

    def close(self) -> None:
        """Close whatever is open (the hostile client leaving, or the end of the bench)."""
        self.closed = True
        if self.tab is not None:
            self.tab.close()
        if self.page is not None:
            try:
                self.page.close()
            except Exception:  # noqa: BLE001 - its context may be closed already
                pass


def open_page(context, name: str, role: str, url: str, with_frames: bool = False, measured: bool = False):
    """Open a page and wait for the app's controls; a page without them in time is 'blank'."""
    page = context.new_page()
    frames = bb.Frames(page) if with_frames else None
    watched = Watched(name, role, url, page, measured)
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=PAGE_TIMEOUT_MS)
        live_app.wait_for_app(page, PAGE_TIMEOUT_MS)
    except Exception as error:  # noqa: BLE001 - the page is judged on what it shows
        seen = watched.check()
        if watched.kinds == ["blank page"]:  # it never showed anything: the server did not render it in time
            watched.kinds = [f"never rendered in {PAGE_TIMEOUT_MS / 1000:.0f} s"]
        if watched.crash is None:
            chars = seen["chars"] if seen else 0
            watched.crashes += 1
            watched.kinds.append(f"controls never appeared in {PAGE_TIMEOUT_MS / 1000:.0f} s")
            watched.crash = (f"the app's controls did not appear within {PAGE_TIMEOUT_MS / 1000:.0f} s "
                             f"({type(error).__name__}; {chars} characters on the page)")
            text = re.sub(r"\s+", " ", seen["text"])[:400] if seen else ""
            log(f"CRASH {name} ({url[:120]}): {watched.crash}; screenshot {watched.shot('blank')}; text: {text}")
        return watched, frames
    page.evaluate(MONITOR_JS)
    if measured:
        page.evaluate(bb.PROBE_JS)
    watched.segment_start = time.time() * 1000
    return watched, frames


def open_tab(base: str, name: str, role: str, path: str) -> Watched:
    """A bystander as a stclient tab; a tab without the app's controls in time is 'blank'."""
    watched = Watched(name, role, base.rstrip("/") + path)
    try:
        shown = watched.open_tab(base, path, PAGE_TIMEOUT_MS / 1000)
    except Exception as error:  # noqa: BLE001 - it could not even connect
        shown = False
        log(f"{name}: the tab could not connect: {type(error).__name__}: {str(error)[:200]}")
    if not shown:
        watched.crashes += 1
        watched.kinds.append(f"controls never appeared in {PAGE_TIMEOUT_MS / 1000:.0f} s")
        watched.crash = f"the app's controls did not appear within {PAGE_TIMEOUT_MS / 1000:.0f} s (stclient tab)"
        log(f"CRASH {name} ({path[:120]}): {watched.crash}; what it shows: {watched.shot('blank')}")
    return watched


def button(watched: Watched):
    return live_app.visible(watched.page, ".st-key-play button")


def state(watched: Watched) -> dict:
    if watched.page is None:
        if watched.recorder is None:
            return {}
        h = watched.recorder.snapshot()
        return {"last": h["last"], "label": h["lastLabel"], "alert": h["lastAlert"], "finished": h["finished"]}
    try:
        return watched.page.evaluate(MONITOR_STATE_JS) or {}
    except Exception:  # noqa: BLE001
        return {}


def start_training(watched: Watched, timeout_s: float = 90.0, settle_s: float = 6.0) -> str:
    """Press Play until the label says Pause and progress moves (or a note says why it waits).
    Works for slow image networks too (bench/browser.py's ensure_playing wants a new epoch in 2 s)."""
    if watched.page is None:
        return start_training_tab(watched, timeout_s, settle_s)
    page = watched.page
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if bb.label(page) != "Pause":
            if not button(watched).is_enabled():
                return "Play is disabled"
            button(watched).click()
            watched.pressed_play = True
            # A busy server answers slowly, and a second click before the first was drawn is ignored.
            for _ in range(16):
                page.wait_for_timeout(500)
                if bb.label(page) == "Pause":
                    break
            continue
        before = state(watched).get("last")
        waited = 0.0
        while waited < settle_s:
            page.wait_for_timeout(1000)
            waited += 1
            now = state(watched)
            if bb.label(page) != "Pause":
                break
            if now.get("last") is not None and before is not None and now["last"] > before:
                return "training"
        else:
            alert = state(watched).get("alert") or ""
            return f"Pause shown, no progress in {settle_s:.0f} s; the page says: {alert[:200] or '(nothing)'}"
    return f"not training after {timeout_s:.0f} s (label {bb.label(page)!r}, progress {state(watched).get('last')})"


def start_training_tab(watched: Watched, timeout_s: float = 90.0, settle_s: float = 6.0) -> str:
    """start_training for a stclient tab: the same steps, on what the tab shows."""
    tab = watched.tab
    deadline = time.monotonic() + timeout_s

    def wait(predicate, seconds: float) -> bool:
        try:
            tab.wait_for(lambda t: t.closed or predicate(t), max(0.1, min(seconds, deadline - time.monotonic())))
        except TimeoutError:
            return False
        return not tab.closed

    while time.monotonic() < deadline:
        if tab.closed:
            return f"the server closed the tab's connection (code {tab.close_code})"
        label = tab.play_label()
        if label is None:
            wait(lambda t: t.play_label() is not None, 5)
            continue
        if label != "Pause":
            play = tab.button("play-button") or tab.button("Play")
            if play is None:
                wait(lambda t: t.button("play-button") is not None or t.play_label() == "Pause", 2)
                continue
            if play.disabled:
                return "Play is disabled"
            try:
                tab.click(play.key or play.label)
            except (LookupError, RuntimeError):  # redrawn between the look and the click
                continue
            watched.pressed_play = True
            # A busy server answers slowly, and a second click before the first was drawn is ignored.
            wait(lambda t: t.play_label() == "Pause", 8)
            continue
        before = tab_progress(tab)[0]

        def moved(t: Tab) -> bool:
            now = tab_progress(t)[0]
            return t.play_label() != "Pause" or (now is not None and before is not None and now > before)

        if not wait(moved, settle_s):
            if tab.closed:
                continue
            alert = tab_notes(tab)
            return f"Pause shown, no progress in {settle_s:.0f} s; the page says: {alert[:200] or '(nothing)'}"
        if tab.play_label() == "Pause":
            return "training"
    return f"not training after {timeout_s:.0f} s (label {tab.play_label()!r}, progress {tab_progress(tab)[0]})"


def hand_over(watched: Watched, base: str, path: str) -> None:
    """The Chromium page has been seen (and photographed): pause it if it trains, so its job gives
    its heavy slot back, close it, and open a stclient tab on the same link that presses Play
    where the Chromium page did. The server keeps the same load; the renderer's CPU is freed."""
    page, pressed = watched.page, watched.pressed_play
    rendered = not any(kind.startswith(("never", "controls")) for kind in watched.kinds)
    if page is not None:
        try:
            if bb.label(page) == "Pause":
                button(watched).click()
                for _ in range(20):
                    page.wait_for_timeout(500)
                    if bb.label(page) == "Play":
                        break
        except Exception:  # noqa: BLE001 - a page that cannot be paused is closed all the same
            pass
        try:
            page.close()
        except Exception:  # noqa: BLE001
            pass
    watched.page, watched.handed_over, watched.blank_since = None, True, None
    try:
        shown = watched.open_tab(base, path, PAGE_TIMEOUT_MS / 1000 if rendered else HANDED_OVER_WAIT_S)
    except Exception as error:  # noqa: BLE001
        watched.notes.append(f"stclient tab: could not connect ({type(error).__name__})")
        log(f"{watched.name}: the stclient tab could not connect: {type(error).__name__}: {str(error)[:200]}")
        return
    if not shown:
        watched.notes.append("stclient tab: no controls either")
        return
    watched.check()
    if pressed:
        heavy = watched.role != "hostile"
        outcome = start_training_tab(watched, timeout_s=90 if heavy else 30, settle_s=15 if heavy else 4)
        watched.notes.append(f"stclient tab: Play: {outcome}")
    else:
        watched.notes.append("stclient tab: open, Play not pressed (as in Chromium)")
    log(f"{watched.name}: handed over to a stclient tab; {watched.notes[-1]}")


def pause_series(watched: Watched, frames, tries: int, tag: str) -> tuple[list[float], list[str]]:
    """bench/browser.py's pause measurement on one page: play, train a moment, click Pause, time
    from the click to the last epoch change; a try that does not pause counts as lost."""
    page = watched.page
    latencies, lost = [], []
    for i in range(tries):
        watched.ensure_healthy()
        if watched.dead:
            lost += [f"try {j + 1}: not run, the page is blank after {MAX_RELOADS} reloads" for j in range(i, tries)]
            break
        page.evaluate(bb.PROBE_JS)
        try:
            bb.ensure_playing(page, frames)
        except Exception as error:  # noqa: BLE001
            path = str(SHOTS / f"pause-{tag}-{i + 1}-no-play.png")
            page.screenshot(path=path)
            log(f"{tag} pause try {i + 1}: could not start training ({type(error).__name__}: "
                f"{str(error).splitlines()[0][:200]}); {path}")
            lost.append(f"try {i + 1}: the page could not be played ({path})")
            if len(lost) >= 2 and lost[-2].startswith(f"try {i}:") and "could not be played" in lost[-2]:
                lost += [f"try {j + 1}: not run, the page could not be played twice in a row" for j in range(i + 1, tries)]
                break
            continue
        page.wait_for_timeout(1500 + 100 * (i % 5))
        since = page.evaluate(bb.NOW_JS)
        shown_before = live_app.read_epoch(page)
        try:
            live_app.visible(page, ".st-key-play button").click()
            verdict, latency = bb.watch_pause(page, frames, since)
        except Exception as error:  # noqa: BLE001
            verdict, latency = f"{type(error).__name__}: {str(error).splitlines()[0][:150]}", math.nan
        log(f"{tag} pause try {i + 1}: {verdict}" + (f", {latency:.0f} ms" if verdict == "paused" else "")
            + f" (epoch at the click {shown_before})")
        if verdict == "paused":
            latencies.append(latency)
        else:
            path = str(SHOTS / f"pause-{tag}-{i + 1}-lost.png")
            page.screenshot(path=path)
            lost.append(f"try {i + 1}: {verdict} ({path})")
            watched.ensure_healthy()
            try:
                paused = bb.ensure_paused(page, frames)
            except Exception:  # noqa: BLE001
                paused = False
            if not paused:
                log(f"{tag}: the page could not be paused: {watched.check() and 'see the screenshot'} {path}")
    watched.ensure_healthy()
    try:
        if not watched.dead:
            bb.ensure_playing(page, frames)  # the measured page goes on training as a bystander
    except Exception as error:  # noqa: BLE001
        log(f"after the {tag} series the measured page could not be played again: {str(error).splitlines()[0]}")
    return latencies, lost


def p95(latencies: list[float], lost: list[str]) -> float:
    return bb.percentile(latencies + [bb.GIVE_UP_S * 1000] * len(lost), 95)


# ---- judging a bystander -----------------------------------------------------------------------


def judge(record: dict, start_ms: float, end_ms: float) -> tuple[list[str], list[str]]:
    """(why it lost its network, stalls that a note explained) from a bystander's records."""
    lost, explained = [], []
    progress = [(t, v) for t, v in record["progress"] if t <= end_ms]
    labels = [(t, v) for t, v in record["labels"] if t <= end_ms]
    alerts = [(t, v) for t, v in record["alerts"] if t <= end_ms]
    for t, text in alerts:
        if re.search(r"inactive for a while|started afresh", text):
            lost.append(f"at {time.strftime('%H:%M:%S', time.localtime(t / 1000))} the page said: {text[:200]}")
            break
    # Went back: the epoch counter below the best seen so far, not made good within DROP_GRACE_S.
    # (The Images page's bar may show 0% of the next epoch before its counter moves on: not a loss.)
    counters = [(t, v) for t, v in record.get("counters", progress) if t <= end_ms]
    best = None
    for i, (t, v) in enumerate(counters):
        if best is not None and v < best:
            recovered = any(v2 >= best and t2 - t <= DROP_GRACE_S * 1000 for t2, v2 in counters[i + 1:])
            if not recovered:
                lost.append(f"the epoch counter went back from {best:g} to {v:g} at "
                            f"{time.strftime('%H:%M:%S', time.localtime(t / 1000))}")
                break
        best = v if best is None else max(best, v)

    def at(events, t, default=None):
        value = default
        for when, v in events:
            if when > t:
                break
            value = v
        return value

    # Stood still: between progress changes (and after the last), stretches that show Pause.
    changes = [t for t, _ in progress if t >= start_ms] + [end_ms]
    previous = start_ms
    for nxt in changes:
        if nxt - previous > STALL_S * 1000:
            # walk the label changes inside (previous, nxt): longest stretch with 'Pause'
            points = [previous] + [t for t, _ in labels if previous < t < nxt] + [nxt]
            for a, b in zip(points, points[1:]):
                if b - a > STALL_S * 1000 and at(labels, a + 1) == "Pause":
                    notes = {at(alerts, a + 1, "")} | {text for t, text in alerts if a < t < b}
                    notes.discard("")
                    when = time.strftime('%H:%M:%S', time.localtime(a / 1000))
                    if notes:
                        explained.append(f"{(b - a) / 1000:.0f} s still from {when}, the page said: "
                                         + " / ".join(sorted(notes))[:300])
                    else:
                        lost.append(f"stood still {(b - a) / 1000:.0f} s from {when} while showing Pause, with no note")
        previous = nxt
    return lost, explained


# ---- the run -----------------------------------------------------------------------------------


class Run:
    def __init__(self, app, sampler, minutes: float, pauses: int):
        self.app, self.sampler, self.minutes, self.pauses = app, sampler, minutes, pauses
        self.pages: list[Watched] = []
        self.contexts: list = []  # the bystanders' own browser contexts (the first page has the default one)
        self.hostile_ctx = None
        self.measured: Watched | None = None
        self.last_check = 0.0
        self.last_status = 0.0

    def check_all(self, force: bool = False) -> None:
        if not force and time.monotonic() - self.last_check < CHECK_EVERY_S:
            return
        self.last_check = time.monotonic()
        for watched in self.pages:
            watched.ensure_healthy()
        if time.monotonic() - self.last_status >= STATUS_EVERY_S:
            self.last_status = time.monotonic()
            self.status()

    def status(self) -> None:
        """One log line: what each bystander's page shows now (read from the page) and what its
        records say, so a gap in the records can be told from a page that stopped."""
        parts = []
        for watched in self.pages:
            if watched.role == "bystander" and not watched.closed:
                try:
                    shown = watched.tab.epoch() if watched.page is None else live_app.read_epoch(watched.page)
                except Exception:  # noqa: BLE001
                    shown = "?"
                now = state(watched)
                parts.append(f"{watched.name.split()[0]} epoch {shown} (records {now.get('last')}, "
                             f"{now.get('label')})")
        rss = self.sampler.samples[-1][1] if self.sampler.samples else math.nan
        log(f"status: {'; '.join(parts)}; RSS {rss:.0f} MiB; load {os.getloadavg()[0]:.1f}")

    def close_tabs(self) -> None:
        """Every stclient tab still open (the end of the bench, whatever happened)."""
        for watched in self.pages:
            if watched.tab is not None and not watched.tab.closed:
                watched.tab.close()

    def wait(self, page, seconds: float) -> None:
        """Wait while looking at every page now and then (pumps Playwright's events via `page`)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            page.wait_for_timeout(min(1000, max(1, (end - time.monotonic()) * 1000)))
            self.check_all()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="how long the bystanders train in all (default 10); the phases may take longer")
    parser.add_argument("--pauses", type=int, default=10, help="pause tries per series (at least 10 for the figure)")
    parser.add_argument("--browsers", action="store_true",
                        help="every page in Chromium, as before: the bystanders, and the hostile pages are not "
                             "handed over to stclient tabs (the Chromium renderers then load this machine's CPUs)")
    parser.add_argument("--rehearsal", action="store_true",
                        help="the hostile visit once, unmeasured, before the warm-up RSS is taken "
                             "(see rehearse); then --minutes are held from there")
    args = parser.parse_args()
    if not live_app.chromium_available():
        print(f"{live_app.CHROMIUM} is missing", file=sys.stderr)
        return 2
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in [*SHOTS.glob("*.png"), *SHOTS.glob("*.txt")]:
        old.unlink()

    from playground.capacity import limit_problems
    from playground.images.spec import ImageSpec, ImageTrainSpec, summarize
    from playground.sharelink import decode_image, image_query, parse_link
    from playground.settings import read_settings

    os.environ["PLAYGROUND_WORKERS"] = "1"
    settings = read_settings()
    heavy_spec, heavy_summary, heavy_rows = heaviest_allowed(settings)
    heavy_path = "/images?" + image_query(heavy_spec)
    seed_path = "/images?" + image_query(ImageSpec(train=ImageTrainSpec(epochs=SEED_CNN_EPOCHS)))
    links = hostile_links()
    over_spec, _ = decode_image(parse_link(dict(links)["images-7-conv256"].split("?", 1)[1]))
    over_summary = summarize(over_spec, train_size=10_000)
    over_problems = limit_problems(over_summary, over_spec.train.batch_size, settings)
    log(f"heaviest allowed: {heavy_path} (step {heavy_summary.seconds_per_step:.3f} s, "
        f"{heavy_summary.memory_mb:.0f} MB, {heavy_summary.seconds_per_epoch:.0f} s per 10,000-image epoch)")
    log(f"7 x conv256 link by the product's own estimate: {over_summary.memory_mb:,.0f} MB, "
        f"{over_summary.seconds_per_step:.1f} s per step; {len(over_problems)} limit problem(s)")

    # Bounded in time: past the hard limit the scenario stops where it is, the hostile client
    # leaves, and what was measured is reported (the parts not reached say so).
    budget_s = args.minutes * 60 + HARD_EXTRA_S

    def out_of_time(*_):
        raise OutOfTime(f"the bench ran past its hard limit of {budget_s / 60:.0f} min")

    def terminated(*_):
        raise OutOfTime("the bench was sent SIGTERM")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.signal(signal.SIGTERM, terminated)  # stop, clean up and report what was measured
    signal.alarm(int(budget_s))

    load_before = os.getloadavg()
    app = live_app.LiveApp(workers=1)
    app.start(timeout_s=90)
    sampler = RssSampler(app.proc.pid)
    sampler.start()
    run = Run(app, sampler, args.minutes, args.pauses)
    result: dict = {"heavy_caption": "", "aborted": None}
    try:
        with live_app.chromium() as context:
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            try:
                scenario(run, context, result, args, seed_path, heavy_path, links)
            except OutOfTime as stop:
                result["aborted"] = str(stop)
                log(f"STOPPED: {stop}; reporting what was measured")
            signal.alarm(int(CLEANUP_S + 120))  # the clean-up below is bounded too
            try:
                leave(run, result)
            except OutOfTime as stop:
                result["aborted"] = (result["aborted"] or "") + f"; the clean-up too: {stop}"
                result.setdefault("end", time.time())
                result.setdefault("rss_end", sampler.sample()[1])
            signal.alarm(0)
    finally:
        signal.alarm(0)
        run.close_tabs()
        sampler.stop()
        server_log = app.log_tail(200_000)
        app.stop()
    load_after = os.getloadavg()
    report(run, result, args, settings, load_before, load_after, server_log,
           heavy_path, heavy_summary, heavy_rows, over_summary, over_problems)
    return 0


class OutOfTime(BaseException):  # not an Exception: nothing on the way may swallow it
    pass


def new_context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    return ctx


def scenario(run: Run, context, result: dict, args, seed_path: str, heavy_path: str, links) -> None:
    app, sampler = run.app, run.sampler
    base = app.url.rstrip("/")
    browser = context.browser

    def bystander(name: str, path: str) -> Watched:
        if not args.browsers:
            return open_tab(app.url, name, "bystander", path)
        run.contexts.append(new_context(browser))
        return open_page(run.contexts[-1], name, "bystander", base + path)[0]

    def seen_by_chromium(watched: Watched, path: str) -> None:
        """The page's outcome is recorded: from now on a stclient tab keeps its load on the server."""
        if not args.browsers:
            hand_over(watched, app.url, path)

    # 1. bystanders: the measured page in Chromium, the others stclient tabs (Chromium with --browsers)
    measured, frames = open_page(context, "circle-1 (measured)", "bystander", base + CIRCLE,
                                 with_frames=True, measured=True)
    run.pages.append(measured)
    run.measured = measured
    if measured.crash:
        raise RuntimeError(f"the measured circle page did not open: {measured.crash}")
    for i in range(2, CIRCLES + 1):
        run.pages.append(bystander(f"circle-{i}", CIRCLE))
    seed = bystander("seed-cnn", seed_path)
    run.pages.append(seed)
    for watched in run.pages:
        watched.ensure_healthy()
        if watched.crash is None:
            log(f"{watched.name}: {start_training(watched)}")
    result["start"] = time.time()
    if args.rehearsal:
        rehearse(run, app.url, heavy_path, links)
        result["warm_at"] = time.time()
        log("rehearsal over: the warm-up RSS is taken now, and the run holds --minutes from here")
    else:
        result["warm_at"] = result["start"] + WARMUP_S
        log(f"bystanders training; warm-up RSS is taken at {WARMUP_S:.0f} s")

    # 2. baseline pauses
    result["baseline"] = pause_series(measured, frames, args.pauses, "baseline")
    if time.time() < result["warm_at"]:
        run.wait(measured.page, result["warm_at"] - time.time())
    run.check_all(force=True)

    # 3. the heaviest allowed network, then pauses beside it
    run.hostile_ctx = new_context(browser)
    heavy, _ = open_page(run.hostile_ctx, "heaviest-allowed", "heavy", base + heavy_path)
    run.pages.append(heavy)
    if heavy.crash is None:
        seen = heavy.check() or {}
        if "this server allows" in seen.get("text", "") or "over this server" in seen.get("text", ""):
            heavy.notes.append("the page refused it as over the server's limits")
        try:
            result["heavy_caption"] = heavy.page.locator(
                ".st-key-layer-summary [data-testid=stCaptionContainer]").first.inner_text()
        except Exception:  # noqa: BLE001
            pass
        log(f"heaviest allowed: the page's estimate: {result['heavy_caption']!r}")
        heavy.notes.append(f"Play: {start_training(heavy, settle_s=15)}")
        log(f"heaviest allowed: {heavy.notes[-1]}")
        heavy.shot("chromium")
    seen_by_chromium(heavy, heavy_path)
    heavy_before = state(heavy).get("last")
    t_heavy = time.time()
    result["beside_heavy"] = pause_series(measured, frames, args.pauses, "beside-heavy")
    heavy_after = state(heavy).get("last")
    if heavy.page is not None:
        heavy_label = bb.label(heavy.page) if heavy.crash is None else "?"
    else:
        heavy_label = heavy.tab.play_label() if heavy.tab is not None else "?"
    result["heavy_progress"] = (heavy_before, heavy_after, time.time() - t_heavy, heavy_label)
    log(f"heaviest allowed during the series: progress {heavy_before} -> {heavy_after}, "
        f"label {heavy_label!r}, notes {state(heavy).get('alert')!r}")
    heavy.shot("during")
    run.check_all(force=True)

    # 4. the hostile links: each seen in Chromium, then handed over to a stclient tab
    for name, path in links:
        watched, _ = open_page(run.hostile_ctx, name, "hostile", base + path)
        run.pages.append(watched)
        if watched.crash is None:
            look_at_hostile(run, watched, name)
        seen_by_chromium(watched, path)
    run.check_all(force=True)
    result["with_hostile"] = pause_series(measured, frames, args.pauses, "with-hostile")

    # 5. hold until --minutes after the start (after the rehearsal, with --rehearsal)
    end_hold = (result["warm_at"] if args.rehearsal else result["start"]) + args.minutes * 60 - CLEANUP_S
    if time.time() < end_hold:
        log(f"holding everything open for {end_hold - time.time():.0f} s more")
        run.wait(measured.page, end_hold - time.time())


def rehearse(run: Run, base: str, heavy_path: str, links: list[tuple[str, str]]) -> None:
    """--rehearsal: the hostile visit once before anything is measured, as stclient tabs (the
    heaviest allowed network and every hostile link, Play where the page allows, held a minute,
    then closed and their jobs left to close). Whatever the server keeps after the first use of
    a code path (imports, caches that fill to their bound, the allocator's arenas) is then in the
    warm-up figure, and the growth that follows is what a class adds over --minutes."""
    log("rehearsal: opening the heaviest allowed network and every hostile link as stclient tabs")
    tabs = [open_tab(base, f"rehearsal {name}", "rehearsal", path)
            for name, path in [("heaviest-allowed", heavy_path), *links]]
    for watched in tabs:
        if watched.crash is None:
            watched.notes.append(start_training_tab(watched, timeout_s=30, settle_s=3))
    log("rehearsal: " + "; ".join(f"{w.name}: {(w.notes or [w.crash])[-1]}" for w in tabs)[:2000])
    run.wait(run.measured.page, 60)
    for watched in tabs:
        watched.close()
    log(f"rehearsal: tabs closed; waiting {CLEANUP_S:.0f} s for their jobs to be closed")
    run.wait(run.measured.page, CLEANUP_S)


def look_at_hostile(run: Run, watched: Watched, name: str) -> None:
    """A hostile link's Chromium page that opened: press Play where it can, record what it says."""
    run.wait(watched.page, 3)
    seen = watched.check() or {}
    text = seen.get("text", "")
    try:
        enabled = button(watched).is_enabled()
    except Exception:  # noqa: BLE001
        enabled = False
    if name == "images-7-conv256":
        refused = "this server allows" in text or "over this server" in text
        watched.notes.append(("explained as over the server's limits" if refused else
                              "NOT explained as over the server's limits")
                             + ("; Play is disabled" if not enabled else "; Play is ENABLED"))
        if not refused or enabled:
            log(f"{name}: {watched.notes[-1]}; screenshot {watched.shot('limits')}")
    elif enabled:
        watched.notes.append(f"Play: {start_training(watched, timeout_s=30, settle_s=4)}")
    else:
        watched.notes.append("Play is disabled")
    watched.check()
    notes = state(watched).get("alert") or ""
    log(f"{name}: {'; '.join(watched.notes)}; notes on the page: {notes[:300]!r}")
    watched.shot()


def leave(run: Run, result: dict) -> None:
    """The hostile client leaves; the bystanders' records are read; the final RSS after its jobs
    had time to be closed (the job TTL and the reaper)."""
    run.check_all(force=True)
    result["rss_before_leaving"] = run.sampler.sample()[1]
    for watched in run.pages:
        watched.shot("end")
    result["end_ms"] = time.time() * 1000
    for watched in run.pages:
        if watched.role != "bystander":
            continue
        if watched.blank_since is not None:  # went blank and was not reloaded (or not yet)
            errors = [t for t, _ in watched.errors if t <= watched.blank_since + 1]
            blank_ms = (max(errors) if errors and watched.page is not None else watched.blank_since) * 1000
            if watched.page is None and watched.recorder is not None and watched.recorder.h["closed"]:
                blank_ms = watched.recorder.h["closed"]
            watched.close_segment(blank_ms, crashed=True)
            watched.lost.append(watched.gone_text(blank_ms) + " and stayed so (reloaded as often as the bench allows)")
        else:
            watched.close_segment(result["end_ms"])
    for watched in run.pages:  # pages that never rendered: did they come later?
        if watched.role != "bystander" and any(kind.startswith(("never", "controls")) for kind in watched.kinds):
            try:
                if watched.page is not None:
                    late = watched.page.locator(".st-key-play button >> visible=true").count() > 0
                else:
                    late = watched.tab is not None and watched.tab.play_label() is not None
            except Exception:  # noqa: BLE001
                late = False
            where = " (in its stclient tab)" if watched.page is None else ""
            watched.notes.append(f"it rendered later{where}" if late else f"it still had not rendered at the end{where}")
    if run.hostile_ctx is not None:
        for watched in run.pages:
            if watched.role != "bystander":
                watched.close()  # its stclient tab, or its Chromium page
        run.hostile_ctx.close()
        log(f"the hostile client left; waiting {CLEANUP_S:.0f} s for its jobs to be closed")
        if run.measured is not None:
            run.wait(run.measured.page, CLEANUP_S)
    for watched in run.pages:
        watched.check() if not watched.closed else None
    result["end"] = time.time()
    result["rss_end"] = run.sampler.sample()[1]
    for ctx in run.contexts:
        ctx.close()
    run.close_tabs()


def report(run: Run, result: dict, args, settings, load_before, load_after, server_log: str,
           heavy_path: str, heavy_summary, heavy_rows, over_summary, over_problems) -> None:
    sampler = run.sampler
    start = result.get("start", math.nan)
    duration = result.get("end", time.time()) - start
    crashes = [w for w in run.pages if w.crashes]
    lost_jobs, explained = {}, {}
    for watched in run.pages:
        if watched.role != "bystander":
            continue
        lost, ok = list(watched.lost), []
        for i, (record, seg_start, seg_end) in enumerate(watched.segments):
            if record is None:
                lost.append(f"its records up to {time.strftime('%H:%M:%S', time.localtime(seg_end / 1000))} "
                            "could not be read")
                continue
            why, fine = judge(record, max(seg_start, start * 1000) if i == 0 else seg_start, seg_end)
            lost += why
            ok += fine
        if lost:
            lost_jobs[watched.name] = lost
        if ok:
            explained[watched.name] = ok
    warm_at = result.get("warm_at", start + WARMUP_S)
    warm = sampler.at(warm_at)
    peak = max(mib for _, mib, _ in sampler.samples)
    rss_end = result.get("rss_end", math.nan)
    growth = rss_end - warm
    tracebacks = server_log.count("Traceback (most recent call last)")

    print(f"Hostile-visitor benchmark: {os.cpu_count()} CPUs, PLAYGROUND_WORKERS=1, "
          f"asked for {args.minutes:g} min, ran {duration / 60:.1f} min from the bystanders' start")
    if result["aborted"]:
        print(f"STOPPED EARLY: {result['aborted']}")
    during = [load for t, load in sampler.loads if start <= t <= result.get("end", math.inf)]
    busiest = max([load_before[0], load_after[0], *during])
    print(f"load average (1 min) before {load_before[0]:.1f}, during "
          + (f"mean {sum(during) / len(during):.1f} max {max(during):.1f}" if during else "-")
          + f", after {load_after[0]:.1f}"
          + ("  <- more runnable processes than CPUs" if busiest > (os.cpu_count() or 1) else ""))
    if args.browsers:
        print("clients: every page in Chromium (--browsers)")
    else:
        tabs = sum(1 for w in run.pages if w.client != "chromium")
        print(f"clients: Chromium for the measured page and for each hostile page's first look; stclient tabs for "
              f"{tabs} pages (the other bystanders, and the hostile pages after that look): the table's client column")
    print("heaviest allowed network, deep CNN family (conv w, conv w, maxpool2, conv 2w, maxpool2, flatten, "
          "dense256-relu, dense10), largest batch size within the limits, by the product's estimate:")
    print(f"  {'width':>5} {'batch':>5} {'step s':>7} {'memory MB':>10} {'epoch s (10k)':>14}")
    for width, batch, step, mem, epoch in heavy_rows:
        print(f"  {width:5d} {batch if batch else '-':>5} {step:7.3f} {mem:10.1f} {epoch:14.0f}")
    print(f"  chosen (longest step): {heavy_path}")
    print(f"  estimate: {heavy_summary.total_params:,} parameters, {heavy_summary.memory_mb:.1f} MB, "
          f"{heavy_summary.seconds_per_step:.3f} s per step (limits {settings.max_step_s:g} s, "
          f"{settings.max_job_mb:g} MB); the page said: {result['heavy_caption']!r}")
    if "heavy_progress" in result:
        hb, ha, hs, hl = result["heavy_progress"]
        print(f"  during the pause series beside it ({hs:.0f} s): its progress {hb} -> {ha} epochs, label {hl!r}")
    print(f"7 x conv256 link, product's estimate: {over_summary.memory_mb:,.0f} MB, "
          f"{over_summary.seconds_per_step:.1f} s per step, {len(over_problems)} limit problem(s)")
    print()
    print(f"{'page':26} {'role':9} {'client':17} {'crashes':>7} {'reloads':>7} {'errors':>6}  first crash / notes")
    for watched in run.pages:
        notes = "; ".join(([watched.crash] if watched.crash else []) + watched.notes + lost_jobs.get(watched.name, []))
        print(f"{watched.name:26} {watched.role:9} {watched.client:17} {watched.crashes:7d} {watched.reloads:7d} "
              f"{len(watched.errors):6d}  {notes[:400]}")
    print("  client: chromium = a Chromium page; stclient = a stclient tab (bench/stclient.py); chromium>stclient = "
          "seen in Chromium, then handed over to a stclient tab. errors: JavaScript errors (Chromium), messages a "
          "tab could not apply (stclient)")
    kinds: dict[str, int] = {}
    for watched in run.pages:
        for kind in watched.kinds:
            kinds[kind] = kinds.get(kind, 0) + 1
    print(f"crash events by kind: {', '.join(f'{k}: {n}' for k, n in kinds.items()) or 'none'}")
    opened = {name for name, _ in hostile_links()} & {w.name for w in run.pages}
    missing = [name for name, _ in hostile_links() if name not in opened]
    if missing:
        print(f"hostile links not reached: {', '.join(missing)}")
    errors: dict[str, int] = {}
    for watched in run.pages:
        for _, text in watched.errors:
            errors[text] = errors.get(text, 0) + 1
    for text, count in sorted(errors.items(), key=lambda item: -item[1]):
        print(f"{'Client' if text.startswith('stclient:') else 'JavaScript'} error on the pages, {count} time(s): {text}")
    print()
    for key, title in (("baseline", "baseline (no heavy job)"), ("beside_heavy", "beside the heaviest allowed job"),
                       ("with_hostile", "beside it with every hostile page open")):
        if key not in result:
            print(f"pause latency {title}: not reached")
            continue
        latencies, lost = result[key]
        line = f"pause latency {title}: {len(latencies)} paused, {len(lost)} lost; p95 {p95(latencies, lost):.0f} ms"
        if latencies:
            line += (f", p50 {bb.percentile(latencies, 50):.0f} ms, max {max(latencies):.0f} ms; "
                     f"all: {', '.join(f'{v:.0f}' for v in latencies)}")
        print(line)
        for text in lost:
            print(f"  lost: {text}")
    for name, stalls in explained.items():
        for text in stalls:
            print(f"explained stall on {name}: {text}")
    for name, reasons in lost_jobs.items():
        for text in reasons:
            print(f"job lost on {name}: {text}")
    print(f"RSS of server + workers (MiB): {warm:.0f} at {warm_at - start:.0f} s"
          f"{' (after the rehearsal)' if args.rehearsal else ''}, {rss_end - warm:+.1f} over the "
          f"{result.get('end', time.time()) - warm_at:.0f} s that followed, peak {peak:.0f}, "
          f"{result.get('rss_before_leaving', math.nan):.0f} before the hostile client left, {rss_end:.0f} at the end; "
          f"{len(sampler.samples)} samples")
    last = sampler.samples[-1][2]
    print(f"  processes at the end: {', '.join(f'{pid}: {mib:.0f}' for pid, mib in last.items())}")
    print(f"server log: {tracebacks} traceback(s)")
    if tracebacks:
        at = server_log.find("Traceback (most recent call last)")
        print("  first: " + server_log[at:at + 1200].replace("\n", "\n  "))
    records = {w.name: [{"start_ms": a, "end_ms": b, "records": r} for r, a, b in w.segments]
               for w in run.pages if w.role == "bystander"}
    (SHOTS / "records.json").write_text(json.dumps(records))
    with open(SHOTS / "rss.csv", "w") as out:
        out.write("time,total_mib,per_process\n")
        for t, mib, per in sampler.samples:
            out.write(f"{t:.1f},{mib:.1f},{' '.join(f'{p}:{m:.0f}' for p, m in per.items())}\n")
    print(f"screenshots, the bystanders' records (records.json) and the RSS samples (rss.csv): {SHOTS}/")
    print(f"figure hostile-crashes {len(crashes)}")
    print(f"figure jobs-lost {len(lost_jobs)}")
    print(f"figure pause-p95-beside-heavy {p95(*result['beside_heavy']) if 'beside_heavy' in result else math.nan:.0f}")
    print(f"figure pause-p95-baseline {p95(*result['baseline']) if 'baseline' in result else math.nan:.0f}")
    print(f"figure rss-growth-10min {growth:.1f}")


if __name__ == "__main__":
    sys.exit(main())
