"""How often a page's live fragments redraw, kept in step with the server's load.

Every redraw of every open page runs in the one server process, under one GIL: the redraws of a
class share about one core, and whatever they leave is all there is for a newly opened page, a
click or a share link. So the interval is set by two things: how many jobs train (a job publishes
less often when many share the workers, `JobManager.refresh_interval`) and what the redraws of all
open pages cost, measured (`RENDER_BUDGET`): ten Images pages redraw less often than ten circles.

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
# The share of the server's one interpreter that timed redraws may take together (CPU seconds per
# second); the rest answers clicks, opens pages and sends what the redraws drew.
RENDER_BUDGET = 0.4
# The slowest a live page gets: a page still shows life, and its job stays alive.
MAX_INTERVAL_S = 5.0

_log = logging.getLogger(__name__)


class RenderMeter:
    """The server CPU that each live fragment's redraws take, smoothed, over the fragments that
    redrew recently. Thread CPU time, not wall time: waiting for the GIL or a core is not cost."""

    def __init__(self, forget_after_s: float = 10.0, smoothing: float = 0.3):
        self.forget_after_s = forget_after_s
        self.smoothing = smoothing
        self._costs: dict[tuple, tuple[float, float]] = {}  # fragment -> (smoothed CPU s, last redraw)
        self._lock = threading.Lock()

    def record(self, fragment: tuple, cpu_s: float) -> None:
        now = time.monotonic()
        with self._lock:
            old = self._costs.get(fragment)
            cost = cpu_s if old is None else old[0] + self.smoothing * (cpu_s - old[0])
            self._costs[fragment] = (cost, now)

    def total_cost(self) -> float:
        """CPU seconds that one redraw of every recent fragment takes."""
        now = time.monotonic()
        with self._lock:
            return sum(cost for cost, seen in self._costs.values() if now - seen <= self.forget_after_s)


meter = RenderMeter()


def live_interval(manager: JobManager, playing: bool, floor_s: float = 0.0) -> float:
    """Seconds between this page's redraws: the server's pace while training, idle otherwise,
    and never so fast that all pages' redraws together would exceed the render budget."""
    pace = max(floor_s, manager.refresh_interval()) if playing else IDLE_INTERVAL_S
    return min(MAX_INTERVAL_S, max(pace, round(meter.total_cost() / RENDER_BUDGET, 2)))


def live_fragment(body: Callable, session: PageSession, manager: JobManager, *args, floor_s: float = 0.0,
                  controls: bool = True) -> None:
    """Run `body(session, *args)` now as a fragment redrawn on the page's current interval.

    Each run's CPU is measured for the pacing; at its end the timer is moved to the interval the
    page needs now, and (`controls`: the fragment holds the page's buttons) its clicks count as seen."""
    name = body.__qualname__

    @functools.wraps(body)  # the fragment's id comes from the function's name: keep the body's
    def run(session: PageSession, *args) -> None:
        started = time.thread_time()
        body(session, *args)
        meter.record((_session_id(), name), time.thread_time() - started)
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
