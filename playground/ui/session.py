"""The one per-browser-session object, and the server-wide job manager.

Everything a page remembers between reruns lives in one `PlaygroundSession` in
`st.session_state`; nothing else goes there except widget values keyed by the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from ..jobs import JobManager, Reset, Update
from ..sharelink import decode
from ..spec import RunSpec

_KEY = "playground_session"

_WHAT_CHANGED = {0: "data", 1: "input features", 2: "network architecture", 3: "weight initialisation", 4: "loss"}


@st.cache_resource(show_spinner=False)
def job_manager() -> JobManager:
    """One worker pool per server, shared by every session."""
    return JobManager()


@dataclass
class PlaygroundSession:
    spec: RunSpec
    version: int = 0  # bumped on every change the job must hear about
    job_id: str | None = None
    playing: bool = False
    link_notes: list[str] = field(default_factory=list)  # what the opened or imported link lost
    widgets_stale: bool = True  # widgets must be (re)filled from the spec on the next run
    reset_reason: str | None = None

    def ensure_job(self, manager: JobManager) -> str | None:
        """Make sure a job exists for this session; returns a note if an old one was gone."""
        if manager.is_open(self.job_id):
            return None
        lost = self.job_id is not None
        self.version += 1
        self.job_id = manager.open(self.spec, self.version)
        self.playing = False
        if lost:
            return "Training had stopped because this page was inactive for a while; the network started afresh."
        return None

    def change_spec(self, new: RunSpec, manager: JobManager) -> None:
        """Adopt a new spec: a structural change rebuilds the network, a training change doesn't."""
        old, self.spec = self.spec, new
        if new == old:
            return
        self.version += 1
        if new.structure() != old.structure():
            changed = [_WHAT_CHANGED[i] for i, (a, b) in enumerate(zip(old.structure(), new.structure())) if a != b]
            self.reset_reason = f"The {' and '.join(changed)} changed, so the network was reset."
            self.playing = False
            manager.send(Reset(self.job_id, new, self.version))
        elif new.train != old.train:
            manager.send(Update(self.job_id, new.train, self.version))

    def reset(self, manager: JobManager) -> None:
        self.version += 1
        self.playing = False
        manager.send(Reset(self.job_id, self.spec, self.version))

    def load(self, spec: RunSpec, notes: list[str], manager: JobManager) -> None:
        """Replace everything with a linked setup (an imported link): fresh network, widgets refilled."""
        self.link_notes = notes
        self.widgets_stale = True
        self.change_spec(spec, manager)
        self.reset(manager)


def get_session() -> PlaygroundSession:
    """This browser session's state, created from the URL's query parameters on first use."""
    session = st.session_state.get(_KEY)
    if session is None:
        spec, notes = decode(st.query_params.to_dict())
        session = PlaygroundSession(spec=spec, link_notes=notes)
        st.session_state[_KEY] = session
    return session
