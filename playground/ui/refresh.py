"""How often a page's live fragments redraw, kept in step with the server's load.

Every redraw of every open page runs in the one server process, under one GIL: the redraws of a
class share about one core, and whatever they leave is all there is for a newly opened page, a
click or a share link. So the interval is set by two things: how many jobs train (a job publishes
less often when many share the workers, `JobManager.refresh_interval`) and what the redraws of all
open pages cost the server process, measured (`RedrawPacer`): thirty pages redraw less often
than three, and Images pages less often than circles.

`st.fragment(run_every=...)` fixes a fragment's timer when the page's script runs in full, which
happens when the page opens or a widget outside the fragment changes. So each live run ends by
choosing the interval the page should have now, and when that differs from the current one, it
re-sends the fragment's `auto_rerun` message: the Streamlit 1.67 frontend then replaces that
fragment's timer (it keeps one per fragment id), without a rerun.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

import streamlit as st

from ..jobs import JobManager
from .session import PageSession
from .transport import live_run_completed

# A page whose job is not training redraws this often: enough to keep its job alive and to show
# a change soon; a click on a button redraws it at once anyway.
IDLE_INTERVAL_S = 1.0
# The share of the server process's CPU (all its threads: page runs, and the event loop that
# serialises, compresses and sends what they draw) that timed redraws may use together, in CPU
# seconds per second. One interpreter cannot use much more than one core; the rest answers clicks
# and opens pages.
CPU_BUDGET = 0.5
# What one redraw costs the server before anything is measured (CPU seconds, all threads).
FIRST_GUESS_S = 0.05
# The slowest a live page gets: it still shows life, and its job stays alive.
MAX_INTERVAL_S = 8.0

_log = logging.getLogger(__name__)


class RedrawPacer:
    """How often the server can afford to redraw each open page.

    It counts the live pages (fragments that redrew in the last `forget_after_s`) and measures
    what a redraw costs the whole server process (CPU time of all threads per redraw, smoothed),
    so that all pages redrawing at the interval it gives need at most `budget` of a core.

    Asking for more than that is worse than slow in Streamlit 1.67: a page whose timer fires
    while its last run is still being sent gets a new script runner, and the finished run's
    output is dropped ("Ignoring event from non-current ScriptRunner"); a server that falls
    behind then drops every page's output, and no page ever hears a longer interval. So the
    interval is set from the number of pages before they overload the server, not afterwards.
    """

    def __init__(self, budget: float = CPU_BUDGET, forget_after_s: float = 10.0, every_s: float = 1.0,
                 cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self.budget, self.forget_after_s, self.every_s = budget, forget_after_s, every_s
        self._cpu, self._clock = cpu, clock
        self._lock = threading.Lock()
        self._pages: dict[tuple, float] = {}  # (session, fragment) -> last redraw
        self._runs = 0
        self._then, self._cpu_then, self._runs_then = clock(), cpu(), 0
        self.cost_s = FIRST_GUESS_S

    def redrew(self, page: tuple) -> None:
        """A live fragment finished a run."""
        now = self._clock()
        with self._lock:
            self._pages[page] = now
            self._runs += 1
            if now - self._then >= self.every_s and self._runs > self._runs_then:
                used = self._cpu()
                per_run = (used - self._cpu_then) / (self._runs - self._runs_then)
                self.cost_s += 0.3 * (per_run - self.cost_s)
                self._then, self._cpu_then, self._runs_then = now, used, self._runs

    def floor_s(self) -> float:
        """The shortest interval every live page may have now."""
        now = self._clock()
        with self._lock:
            for page in [p for p, seen in self._pages.items() if now - seen > self.forget_after_s]:
                del self._pages[page]
            return max(1, len(self._pages)) * self.cost_s / self.budget


pacer = RedrawPacer()


def live_interval(manager: JobManager, playing: bool, floor_s: float = 0.0) -> float:
    """Seconds between this page's redraws: the server's pace while training, idle otherwise,
    never faster than the server can afford for all its open pages."""
    pace = max(floor_s, manager.refresh_interval()) if playing else IDLE_INTERVAL_S
    return round(min(MAX_INTERVAL_S, max(pace, pacer.floor_s())), 2)


def live_fragment(body: Callable, session: PageSession, manager: JobManager, *args, floor_s: float = 0.0,
                  controls: bool = True) -> None:
    """Run `body(session, *args)` now as a fragment redrawn on the page's current interval.

    At the end of each run the timer is moved to the interval the page needs now, and
    (`controls`: the fragment holds the page's buttons) its clicks count as seen."""
    name = body.__qualname__

    @functools.wraps(body)  # the fragment's id comes from the function's name: keep the body's
    def run(session: PageSession, *args) -> None:
        body(session, *args)
        pacer.redrew((_session_id(), name))
        retime(session, manager, name, floor_s)
        if controls:
            live_run_completed(session)  # not reached when the run is interrupted

    interval = live_interval(manager, session.playing, floor_s)
    session.refresh_intervals[name] = interval
    st.fragment(run_every=interval)(run)(session, *args)


def retime(session: PageSession, manager: JobManager, name: str, floor_s: float = 0.0) -> None:
    """Move the running fragment's timer to the interval the page needs now."""
    interval = live_interval(manager, session.playing, floor_s)
    current = session.refresh_intervals.get(name)
    # Small drifts of the measured cost do not each cost a message: only a change of over 10 %.
    if current is not None and abs(interval - current) <= 0.1 * current:
        return
    if _send_interval(interval):
        session.refresh_intervals[name] = interval


def _session_id() -> str:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def _send_interval(interval: float) -> bool:
    """Re-send the running fragment's timer with a new interval; False where that is not possible
    (not inside a fragment run, or a Streamlit whose internals moved: the timer then stays)."""
    try:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.runtime.scriptrunner_utils.script_run_context import ThreadState, get_script_run_ctx

        ctx = get_script_run_ctx()
        fragment_id = ThreadState.get().fragment_id
        if ctx is None or not fragment_id:
            return False
        msg = ForwardMsg()
        msg.auto_rerun.interval = interval
        msg.auto_rerun.fragment_id = fragment_id
        ctx.enqueue(msg)
        return True
    except Exception as exc:  # noqa: BLE001 - a missed retiming must never break the page
        _log.warning("could not change the live view's refresh interval: %s", exc)
        return False
