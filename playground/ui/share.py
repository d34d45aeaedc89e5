"""Share links on the page: the address bar always holds the current setup, plus copy and import."""

from __future__ import annotations

import streamlit as st

from ..jobs import JobManager
from ..presets import PRESETS, preset_spec
from ..sharelink import encode, to_query
from ..spec import RunSpec
from ..tfp_import import import_link
from .session import PageSession


def sync_url(spec: RunSpec) -> None:
    """Keep the address bar equal to the spec's share link (no rerun is triggered)."""
    params = encode(spec)
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def share_link(spec: RunSpec) -> str:
    base = (st.context.url or "").split("?", 1)[0].split("#", 1)[0]
    return f"{base}?{to_query(spec)}"


def share_box(spec: RunSpec) -> None:
    with st.container(key="share-link"):
        st.caption("Link to this exact setup (the copy button is at its right):")
        st.code(share_link(spec), language=None, wrap_lines=True)


def import_box(session: PageSession, manager: JobManager) -> None:
    st.text_input(
        "Import a TensorFlow Playground link",
        key="tfp-import",
        placeholder="https://playground.tensorflow.org/#activation=tanh&…",
        on_change=_import,
        args=(session, manager),
    )


def _import(session: PageSession, manager: JobManager) -> None:
    text = st.session_state.get("tfp-import", "")
    if not text.strip():
        return
    spec, notes = import_link(text)
    session.load(spec, notes or ["Every setting of the link was converted."], manager)
    st.session_state["tfp-import"] = ""


def preset_box(session: PageSession, manager: JobManager) -> None:
    st.selectbox(
        "Start from a preset",
        ["", *PRESETS],
        key="preset",
        format_func=lambda name: PRESETS[name][0] if name else "Choose a lesson setup…",
        on_change=_load_preset,
        args=(session, manager),
    )


def _load_preset(session: PageSession, manager: JobManager) -> None:
    name = st.session_state.get("preset")
    if name in PRESETS:
        session.load(preset_spec(name), [], manager)
    st.session_state["preset"] = ""
