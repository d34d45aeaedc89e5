"""How often a page's live fragment redraws, kept in step with the server's load.

`st.fragment(run_every=...)` fixes a fragment's timer when the page's script runs in full, which
happens when the page opens or a widget outside the fragment changes. A page opened while the
server was quiet would keep its fast timer when a classroom starts training, and take more than
its share of the server (and of the machine, when browsers run on it); a paused page would keep
redrawing a network that does not change. So each live run ends by choosing the interval the
page should have now, and when that differs from the current one, it re-sends the fragment's
`auto_rerun` message: the Streamlit 1.67 frontend then replaces that fragment's timer (it keeps
one per fragment id), without a rerun.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from ..jobs import JobManager
from .session import PageSession

# A page whose job is not training redraws this often: enough to keep its job alive and to show
# a change soon; a click on a button redraws it at once anyway.
IDLE_INTERVAL_S = 1.0

_log = logging.getLogger(__name__)


def live_interval(manager: JobManager, playing: bool, floor_s: float = 0.0) -> float:
    """Seconds between this page's redraws: the server's pace while training, idle otherwise."""
    if not playing:
        return IDLE_INTERVAL_S
    return max(floor_s, manager.refresh_interval())


def live_fragment(body: Callable, session: PageSession, manager: JobManager, *args, floor_s: float = 0.0) -> None:
    """Run `body(session, *args)` now as a fragment redrawn on the page's current interval."""
    interval = live_interval(manager, session.playing, floor_s)
    session.refresh_interval = interval
    st.fragment(run_every=interval)(body)(session, *args)


def retime(session: PageSession, manager: JobManager, floor_s: float = 0.0) -> None:
    """Call at the end of a live fragment run: move its timer to the interval the page needs now."""
    interval = live_interval(manager, session.playing, floor_s)
    if interval != session.refresh_interval and _send_interval(interval):
        session.refresh_interval = interval


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
