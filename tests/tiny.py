"""The tiny test lab's page (`tiny_lab.py`): shows the spec its link decodes to."""

import streamlit as st

from playground.ui.session import get_session
from tests.tiny_lab import decode

session = get_session("tiny_session", decode)
st.markdown(f"Tiny lab: target {session.spec.target:g}, start {session.spec.start:g}")
