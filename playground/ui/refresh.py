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
from . import drawn
from .session import PageSession
from .transport import live_run_completed

# A page whose job is not training redraws this often: enough to keep its job alive and to show
# a change soon; a click on a button redraws it at once anyway.
IDLE_INTERVAL_S = 1.0
# The share of one core that timed redraws may use together; the rest of the server process
# answers clicks, opens pages and reads the workers' snapshots.
CPU_BUDGET = 0.5
# What one redraw costs the server at least, all told (CPU seconds). A page's own thread is only
# part of it: the event loop then serialises, compresses and sends what it drew. Measured on the
# 2-core reference machine with 30 pages (13 circle, 7 spiral 6x8, 6 regression, 4 seed CNN):
# the server completed about 8 page runs a second at most.
PAGE_COST_S = 0.03
# How much a run's own thread CPU understates its cost to the whole process (measured as above).
OVERHEAD = 4.0
# The slowest a live page gets: it still shows life, and its job stays alive.
MAX_INTERVAL_S = 8.0

_log = logging.getLogger(__name__)


class RedrawPacer:
    """How often the server can afford to redraw each open page.

    It keeps, for each live page (a fragment that redrew in the last `forget_after_s`), what its
    redraw costs (its thread's CPU, smoothed, times OVERHEAD, at least PAGE_COST_S), so that all
    pages redrawing at the interval it gives need at most `budget` of a core.

    Asking for more than that is worse than slow in Streamlit 1.67: a page whose timer fires
    while its last run is still being sent gets a new script runner, and the finished run's
    output is dropped ("Ignoring event from non-current ScriptRunner"); a server that falls
    behind then drops every page's output, and no page ever hears a longer interval. So the
    interval follows the pages as they open, before they overload the server, not afterwards.
    """

    def __init__(self, budget: float = CPU_BUDGET, forget_after_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.budget, self.forget_after_s, self._clock = budget, forget_after_s, clock
        self._lock = threading.Lock()
        self._pages: dict[tuple, tuple[float, float]] = {}  # (session, fragment) -> (cost s, last redraw)

    def redrew(self, page: tuple, thread_cpu_s: float) -> None:
        """A live fragment finished a run that took `thread_cpu_s` of its thread's CPU."""
        cost = max(PAGE_COST_S, OVERHEAD * thread_cpu_s)
        with self._lock:
            old = self._pages.get(page)
            self._pages[page] = (cost if old is None else old[0] + 0.3 * (cost - old[0]), self._clock())

    def floor_s(self) -> float:
        """The shortest interval every live page may have now."""
        now = self._clock()
        with self._lock:
            for page in [p for p, (_, seen) in self._pages.items() if now - seen > self.forget_after_s]:
                del self._pages[page]
            return sum(cost for cost, _ in self._pages.values()) / self.budget


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
        started = time.thread_time()
        body(session, *args)
        pacer.redrew((_session_id(), name), time.thread_time() - started)
        drawn.forget_closed(manager.is_open)
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
