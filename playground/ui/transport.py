"""Play / pause, step and reset with the epoch counter: the bar both pages put on top of their live view.

It is drawn inside the live fragment, so pressing a button reruns only the fragment, and the
play button's label follows the job (a run that diverged or finished shows Play again).
"""

from __future__ import annotations

import time

import streamlit as st

from ..jobs import JobManager, JobStatus, Pause, Play, Step
from .session import ANSWER_WAIT_S, PageSession


DEBOUNCE_S = 0.25
_PLAY_WIDTH_PX = 104
_EPOCH_WIDTH_PX = 130  # "Epoch 123456" without the numbers beside it moving as it grows


def _first_click(session: PageSession, button: str) -> bool:
    """False for the echo of a click already handled.

    While a fragment reruns on a timer, Streamlit can deliver one click's trigger again in the
    next run (50-150 ms later, seen in Chromium, more under load); a toggle would undo itself.
    A real second click needs the person to have seen the redrawn page: so a click counts only
    once the run that handled the previous one has completed (`live_run_completed`), and not
    within DEBOUNCE_S of it (a double-click counts once).
    """
    now = time.monotonic()
    last = session.last_clicks.get(button, -1.0)
    if button in session.unseen_clicks or now - last < DEBOUNCE_S:
        return False
    session.last_clicks[button] = now
    session.unseen_clicks.add(button)
    return True


def live_run_completed(session: PageSession) -> None:
    """Call at the very end of a live fragment run: what it drew is now on the screen."""
    session.unseen_clicks.clear()


def _set_playing(session: PageSession, manager: JobManager, playing: bool) -> None:
    """Play or Pause, as the button the person clicked said. Idempotent, not a toggle: a click
    that Streamlit delivers again later (it keeps a trigger across runs it merges, seen under
    load more than a second after the click) asks for what is already done and changes nothing."""
    if session.playing == playing:
        return
    session.playing = playing
    if playing:
        manager.send(Play(session.job_id))
    else:
        manager.send(Pause(session.job_id), wait_s=ANSWER_WAIT_S)


def _step(session: PageSession, manager: JobManager) -> None:
    if not _first_click(session, "step"):
        return
    session.playing = False
    manager.send(Step(session.job_id), wait_s=ANSWER_WAIT_S)  # a small net's step is done by then


def _reset(session: PageSession, manager: JobManager) -> None:
    if _first_click(session, "reset"):
        session.reset(manager)


def _follow_job(session: PageSession, status: JobStatus, snap) -> None:
    """Show Play again when the job stopped by itself: it diverged, finished, failed, or was
    brought back paused after its worker died (only once it answered the page's last command,
    so a click on Play is not undone by a snapshot from before it)."""
    if status.error or status.restoring:
        session.playing = False
    elif snap is not None and not snap.playing and (
            snap.diverged or getattr(snap, "finished", False) or (snap.notice and status.settled)):
        session.playing = False


def job_status(session: PageSession, manager: JobManager, snap) -> None:
    """Say why the page's network is not moving, when it is not: the server would not build it,
    it failed, it waits for its turn, its worker died, or the server is too busy to report."""
    with st.container(key="job-status"):  # one element whatever it holds: later elements keep their places
        _job_status(session, manager.status(session.job_id), snap)


def _job_status(session: PageSession, status: JobStatus, snap) -> None:
    if session.refusal:
        st.error(session.refusal, icon=":material/block:")
    if status.error:
        st.error(status.error, icon=":material/error:")
    if status.restoring:
        st.info(status.restoring, icon=":material/restore:")
    elif snap is not None and snap.notice:
        st.info(snap.notice, icon=":material/restore:")
    if status.queue_ahead is not None and session.playing:
        ahead = status.queue_ahead
        line = ("yours is next" if ahead == 0 else
                "1 network is ahead of yours" if ahead == 1 else f"{ahead} networks are ahead of yours")
        st.info(f"Waiting for a turn: this server trains {status.heavy_slots} image network"
                f"{'s' if status.heavy_slots != 1 else ''} at a time and all are busy; {line}. Training starts "
                "by itself; Pause leaves the queue.", icon=":material/hourglass_top:")
    if status.stalled_s is not None and session.playing:
        st.warning(f"No news from the server for {status.stalled_s:.0f} s: it is very busy. Your network is kept; "
                   "it goes on as soon as the server catches up.", icon=":material/hourglass_empty:")


def transport_bar(session: PageSession, manager: JobManager, snap, enabled: bool = True):
    """Draw the bar; returns the space right of the epoch counter, for the page's numbers."""
    _follow_job(session, manager.status(session.job_id), snap)
    # One row that sizes each button to its label (columns cut "Reset" to "Re…" on a laptop).
    playing = session.playing
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        # Two buttons, one shown at a time, each with its own key: an echo of a click on Pause
        # reaches the Pause button's handler, never the Play button drawn since.
        with st.container(key="play", width=_PLAY_WIDTH_PX):  # where pages and tests find it
            st.button(
                "Pause" if playing else "Play",
                key="pause-button" if playing else "play-button",
                icon=":material/pause:" if playing else ":material/play_arrow:",
                type="primary",
                on_click=_set_playing,
                args=(session, manager, not playing),
                width=_PLAY_WIDTH_PX,  # the same for both labels: the row does not shift on a click
                disabled=not enabled,
            )
        st.button("Step", key="step", icon=":material/skip_next:", on_click=_step, args=(session, manager),
                  help="Train one epoch", disabled=not enabled)
        st.button("Reset", key="reset", icon=":material/restart_alt:", on_click=_reset, args=(session, manager),
                  help="Start again from the same initial weights", disabled=not enabled)
        with st.container(key="epoch", width=_EPOCH_WIDTH_PX):
            st.markdown(f"Epoch **{snap.epoch if snap is not None else 0}**")
        return st.container(width="stretch")
