"""Links on the page: the address bar always holds the current setup; copy, import, presets."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from ..jobs import JobManager
from ..tfp_import import import_link
from .session import PageSession


def sync_url(params: dict[str, str]) -> None:
    """Keep the address bar equal to the spec's share link (no rerun is triggered)."""
    if st.query_params.to_dict() != params:
        st.query_params.from_dict(params)


def share_link(params: dict[str, str]) -> str:
    return link_for(st.context.url or "", params)


def link_for(page_url: str, params: dict[str, str]) -> str:
    """The page's address with `params` as its query ("http://host:8501" gets its "/")."""
    parts = urlsplit(page_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(params, safe=","), ""))


def share_box(params: dict[str, str]) -> None:
    with st.container(key="share-link"):
        st.caption("Link to this exact setup (the copy button is at its right):")
        st.code(share_link(params), language=None, wrap_lines=True)


def link_notes(session: PageSession) -> None:
    """What the opened, imported or preset link could not use, kept visible until the next one."""
    with st.container(key="link-notes"):
        if session.link_notes:
            with st.expander(f"Some settings of the link were not used ({len(session.link_notes)})", expanded=True):
                st.markdown("\n".join(f"- {note}" for note in session.link_notes))


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


def preset_box(session: PageSession, manager: JobManager, presets: dict, make_spec: Callable,
               buildable: Callable = lambda spec: True) -> None:
    """A 'start from a preset' menu (widget key `preset`); presets maps name -> (description, ...)."""
    st.selectbox(
        "Start from a preset",
        ["", *presets],
        key="preset",
        format_func=lambda name: presets[name][0] if name else "Choose a preset…",
        on_change=_load_preset,
        args=(session, manager, presets, make_spec, buildable),
    )


def _load_preset(session: PageSession, manager: JobManager, presets, make_spec, buildable) -> None:
    name = st.session_state.get("preset")
    if name in presets:
        spec = make_spec(name)
        session.load(spec, [], manager, buildable(spec))
    st.session_state["preset"] = ""
