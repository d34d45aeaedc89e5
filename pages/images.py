"""Images: build a CNN layer by layer, train it on MNIST live, and see what it learned."""

import streamlit as st

from playground.capacity import limit_problems
from playground.data.mnist import load_mnist
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import IMAGE_LIMITS, SCHEDULES, ImageSpec, ImageTrainSpec, summarize, validate
from playground.images.link import decode_image, encode_image
from playground.ui.controls import number_input, optimizer_editor, weight_decay_editor
from playground.ui.images_live import draw_pad_and_prediction, live_view
from playground.ui.layer_builder import layer_builder, show_problems, summary_table
from playground.ui.mnist_panel import data_source
from playground.ui.page import start_page
from playground.ui.session import get_session, job_manager
from playground.ui.share import link_notes, preset_box, share_box, sync_url

start_page()
session = get_session("images_session", decode_image)
manager = job_manager()
refill, session.widgets_stale = session.widgets_stale, False
spec: ImageSpec = session.spec


def _bind(key, value):
    if refill or key not in st.session_state:
        st.session_state[key] = value


with st.sidebar:
    preset_box(session, manager, IMAGE_PRESETS, image_preset, buildable=lambda s: summarize(s).ok)
    data = data_source(spec.data, refill)
    st.subheader("Training")
    fields = optimizer_editor(spec.train, refill, prefix="img_")
    _bind("img_batch", spec.train.batch_size)
    _bind("img_schedule", spec.train.schedule)
    _bind("img_epochs", spec.train.epochs)
    _bind("img_seed", spec.seed)
    batch_size = number_input(IMAGE_LIMITS["batch_size"], "img_batch")
    weight_decay = weight_decay_editor(spec.train.weight_decay, refill, "img_weight_decay",
                                       "Weight decay" if fields["optimizer"] == "adamw" else "Weight decay (L2)")
    schedule = st.selectbox("Learning-rate schedule", SCHEDULES, key="img_schedule",
                            format_func={"none": "constant", "step": "step (×0.1 each third)", "cosine": "cosine"}.get)
    epochs = number_input(IMAGE_LIMITS["epochs"], "img_epochs")
    seed = number_input(IMAGE_LIMITS["seed"], "img_seed")

st.markdown("#### Images: a CNN on MNIST, layer by layer")
link_notes(session)

builder, table = st.container(), st.container()  # the table below: side by side, both are cramped on a laptop
with builder:
    layers, slots = layer_builder(spec.layers, refill)
train = ImageTrainSpec(**fields, batch_size=int(batch_size), weight_decay=weight_decay, schedule=schedule,
                       epochs=int(epochs))
spec, notes = validate(ImageSpec(layers, train, data, int(seed)))
for note in notes:
    st.warning(note)
train_size = len(load_mnist(data).train_images)
summary = summarize(spec, train_size, manager.machine["flops"])
over_limits = limit_problems(summarize(spec, train_size, manager.gate_flops), spec.train.batch_size, manager.settings)
show_problems(summary, slots)
with table:
    summary_table(summary, manager.machine, over_limits)
buildable = summary.ok and not over_limits

session.change_spec(spec, manager, buildable=buildable)
if session.reset_reason:
    st.toast(session.reset_reason, icon=":material/restart_alt:")
    session.reset_reason = None
sync_url(encode_image(session.spec))

live_view(session, buildable)
st.markdown("##### Try it yourself")
draw_pad_and_prediction(session, buildable)

with st.sidebar:
    st.subheader("Share")
    share_box(encode_image(session.spec))
