"""The one per-page session object, and the server-wide job manager.

Everything a page remembers between reruns lives in one `PageSession` per page in
`st.session_state`; nothing else goes there except widget values keyed by the widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from ..jobs import JobManager, Pause, Reset, ServerFull, Update


# How long a button's handler waits for the job to answer a Pause, Step or Reset, so the redraw
# right after the click already shows the stopped, stepped or fresh network. The job answers
# within one training slice (a Step: when its epoch is done, at once for a 2-D net); the bound
# only matters when the machine is overloaded or the epoch is long (MNIST).
ANSWER_WAIT_S = 0.6


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One worker pool per server, shared by every session."""
    _log_to_the_console()
    return JobManager(owner_connected=_session_connected)


def _log_to_the_console() -> None:
    """The server's own log lines (jobs opened and closed, failures, ignored settings) go where
    Streamlit's go, with the time: what the person running a class server looks at."""
    import logging

    logger = logging.getLogger("playground")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _session_connected(session_id: str) -> bool:
    """Whether a browser still holds this Streamlit session's connection: a tab in the background
    does (its timers may fire once a minute), a closed or reloaded one does not."""
    from streamlit.runtime import Runtime

    return Runtime.exists() and Runtime.instance().is_active_session(session_id)


def _session_id() -> str | None:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


@dataclass
class PageSession:
    """A page's spec and the background job that trains it.

    `spec` is what the person sees and the link says. The job trains it whenever it can be built;
    while it cannot (an impossible architecture on the Images page) the job keeps the last
    network that could, paused, and `job_stale` remembers to rebuild once the spec is fixed.
    """

    spec: object  # RunSpec or ImageSpec: frozen, with .structure(), .train, .STRUCTURE_NAMES
    version: int = 0  # bumped on every change the job must hear about
    job_id: str | None = None
    job_stale: bool = False
    playing: bool = False
    link_notes: list[str] = field(default_factory=list)  # what the opened or imported link lost
    widgets_stale: bool = True  # widgets must be (re)filled from the spec on the next run
    reset_reason: str | None = None
    drawing_id: int = 0  # Images: the last drawing sent to the job
    last_clicks: dict[str, float] = field(default_factory=dict)  # transport buttons, for debouncing
    unseen_clicks: set[str] = field(default_factory=set)  # handled, but the redrawn page not yet complete
    refresh_intervals: dict[str, float] = field(default_factory=dict)  # each live fragment's timer, as the browser last heard it
    refusal: str | None = None  # why the server did not build this network (it is full)

    def ensure_job(self, manager: JobManager, buildable: bool = True) -> str | None:
        """Make sure a job exists for this session; returns a note if an old one was gone."""
        if manager.is_open(self.job_id) or not buildable:
            return None
        lost = self.job_id is not None
        self.version += 1
        try:
            self.job_id = manager.open(self.spec, self.version)
        except ServerFull as full:
            self.refusal, self.job_id, self.playing = str(full), None, False
            return None
        self.refusal = None
        self.playing, self.job_stale = False, False
        if lost:
            return "Training had stopped because this page was inactive for a while; the network started afresh."
        return None

    def _reset_job(self, manager: JobManager, spec) -> None:
        """Rebuild the job's network from `spec`, or remember why the server would not."""
        try:
            manager.send(Reset(self.job_id, spec, self.version), wait_s=ANSWER_WAIT_S)
        except ServerFull as full:
            self.refusal, self.job_stale = str(full), True
        else:
            self.refusal = None

    def change_spec(self, new, manager: JobManager, buildable: bool = True) -> None:
        """Adopt a new spec: a structural change rebuilds the network, a training change doesn't."""
        old, self.spec = self.spec, new
        if new == old and not (buildable and self.job_stale):
            return
        self.version += 1
        if not buildable:
            self.playing, self.job_stale = False, True
            manager.send(Pause(self.job_id))
        elif self.job_stale or new.structure() != old.structure():
            names = new.STRUCTURE_NAMES
            changed = [names[i] for i, (a, b) in enumerate(zip(old.structure(), new.structure())) if a != b]
            self.reset_reason = f"The {' and '.join(changed) or 'network'} changed, so the network was reset."
            self.playing, self.job_stale = False, False
            self._reset_job(manager, new)
        elif new.train != old.train:
            manager.send(Update(self.job_id, new.train, self.version))

    def reset(self, manager: JobManager) -> None:
        self.version += 1
        self.playing = False
        self._reset_job(manager, self.spec)

    def load(self, spec, notes: list[str], manager: JobManager, buildable: bool = True) -> None:
        """Replace everything with a linked setup (an imported link, a preset): fresh network."""
        self.link_notes = notes
        self.widgets_stale = True
        self.change_spec(spec, manager, buildable)
        if buildable:
            self.reset(manager)


def get_session(key: str, decode: Callable) -> PageSession:
    """This browser session's state for one page, created from the URL's query parameters."""
    session = st.session_state.get(key)
    if session is None:
        params = {name: st.query_params.get_all(name) for name in st.query_params}  # repeated keys noted
        spec, notes = decode(params)
        session = PageSession(spec=spec, link_notes=notes)
        st.session_state[key] = session
    return session


def keep_session_alive(manager: JobManager) -> None:
    """Called by every live view: the jobs of this browser session's other pages stay open while
    any of its pages is on screen, or the tab is connected (the reaper closes a job only when the
    whole tab is gone)."""
    manager.touch([value.job_id for value in st.session_state.values() if isinstance(value, PageSession) and value.job_id],
                  owner=_session_id())
