"""The 2-D playground: build an MLP layer by layer and watch it learn toy data live."""

import streamlit as st

from playground.presets import PRESETS, preset_spec
from playground.sharelink import decode, encode
from playground.spec import RunSpec, validate
from playground.ui.controls import data_editor, features_editor, layers_editor, training_editor, view_editor
from playground.ui.live import live_view
from playground.ui.page import start_page
from playground.ui.session import get_session, job_manager
from playground.ui.share import import_box, link_notes, preset_box, share_box, sync_url

start_page()
session = get_session("playground_session", decode)
manager = job_manager()
session.ensure_job(manager)
refill, session.widgets_stale = session.widgets_stale, False

with st.sidebar:
    preset_box(session, manager, PRESETS, preset_spec)
    st.subheader("Data")
    data = data_editor(session.spec, refill)
    st.subheader("Training")
    loss, train = training_editor(session.spec, data.problem, data.num_train, refill)

st.markdown("#### Neural Network Playground")
link_notes(session)

features = features_editor(session.spec, refill)
layers, init = layers_editor(session.spec, refill)
view = view_editor(session.spec, refill)

spec, notes = validate(RunSpec(data, features, layers, init, loss, train, view))
for note in notes:
    st.warning(note)
session.change_spec(spec, manager)
if session.reset_reason:
    st.toast(session.reset_reason, icon=":material/restart_alt:")
    session.reset_reason = None
sync_url(encode(session.spec))

live_view(session)

with st.sidebar:
    st.subheader("Share")
    share_box(encode(session.spec))
    import_box(session, manager)
