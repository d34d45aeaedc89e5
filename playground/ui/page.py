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
    st.html("<style>.stMainBlockContainer{padding-top:3.5rem}</style>")
