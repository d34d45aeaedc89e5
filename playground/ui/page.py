"""Page set-up shared by every page script."""

from __future__ import annotations

import streamlit as st


def start_page() -> None:
    """Make sure the app's own navigation (app.py) is in charge, then tighten the top margin.

    Streamlit treats a `pages/` folder next to the entry script as a legacy multipage app until
    `st.navigation` has run once in the server process. A first visit straight to a sub-page URL
    would then run that page alone, without app.py's layout and navigation. Leave that mode
    once and rerun through app.py. (PagesManager is internal; this is the flag st.navigation sets.)
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    _warm_up()
    st.html("<style>.stMainBlockContainer{padding-top:3.5rem}</style>")


@st.cache_resource(show_spinner=False)
def _warm_up() -> bool:
    """Load what pages load lazily, once per server, before any page draws.

    Plotly imports pandas on its first figure; thirty pages opened at once (a class following a
    link) drew their first figures in thirty script threads together, and some saw pandas half
    imported ("partially initialized module 'pandas' has no attribute 'Series'"). A cached
    resource is built by one thread while the others wait for it."""
    import pandas  # noqa: F401
    import plotly.graph_objects as go

    go.Figure(go.Scatter(x=[0.0], y=[0.0])).add_layout_image(source="", x=0, y=0).to_json()
    return True
