"""Neural Network Playground: the entry point (`streamlit run app.py`)."""

import streamlit as st

st.set_page_config(page_title="Neural Network Playground", page_icon=":material/hub:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/two_d.py", title="2-D playground", icon=":material/scatter_plot:", default=True),
        st.Page("pages/images.py", title="Images (MNIST)", icon=":material/image:", url_path="images"),
    ],
    position="top",
)
navigation.run()
