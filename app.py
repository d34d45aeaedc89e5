"""Neural Network Playground: the entry point (`streamlit run app.py`); one page per registered lab."""

import streamlit as st

from playground import labs

st.set_page_config(page_title="Neural Network Playground", page_icon=":material/hub:", layout="wide")

navigation = st.navigation(
    [st.Page(lab.page, title=lab.title, icon=lab.icon, default=True) if lab.url_path == "" else
     st.Page(lab.page, title=lab.title, icon=lab.icon, url_path=lab.url_path) for lab in labs.labs()],
    position="top",
)
navigation.run()
