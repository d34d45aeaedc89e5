"""The live part of the Images page: progress, curves and what the network learned.

Two fragments on timers: the main one (controls, curves, confusion matrix, mistakes, filters,
feature maps) and a small one beside the drawing pad for the prediction. The pad itself is a
third fragment without a timer: drawing reruns only it, and it sends the drawing to the job.
"""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import streamlit as st

from ..data.mnist import load_mnist
from ..images.drawing import to_mnist
from ..images.figures import (
    accuracy_figure,
    confusion_figure,
    curve_points,
    digit_png,
    feature_maps_png,
    filters_png,
    loss_figure,
    per_class_figure,
    prediction_figure,
)
from ..jobs import Probe
from ..snapshot import ImageSnapshot
from .drawn import content_key, drawn
from .live_chart import figure_json, live_chart, typed_array
from .refresh import live_fragment
from .session import PageSession, job_manager, keep_session_alive
from .transport import job_status, transport_bar

_CONFIG = {"displayModeBar": False}
_FLOOR_S = 0.5  # an MNIST snapshot changes more slowly than a toy net's and costs more to draw


def live_view(session: PageSession, buildable: bool) -> None:
    live_fragment(_live, session, job_manager(), buildable, floor_s=_FLOOR_S)


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return f" · about {seconds:,.0f} s left in this epoch" if seconds >= 1 else " · under a second left"


def _live(session: PageSession, buildable: bool) -> None:
    manager = job_manager()
    keep_session_alive(manager)
    note = session.ensure_job(manager, buildable)
    if note:
        st.info(note)
    snap: ImageSnapshot | None = manager.latest(session.job_id) if session.job_id else None
    numbers = transport_bar(session, manager, snap, enabled=buildable and not session.job_stale)
    if not buildable:
        st.warning("Fix the architecture above to train it; your layer list is kept as it is.", icon=":material/build:")
    job_status(session, manager, snap)
    if snap is None:
        st.caption("Building the network…" if buildable else "")
        return
    epochs = session.spec.train.epochs
    with numbers:
        test = snap.test_curve[-1] if len(snap.test_curve) else None
        if test is not None:
            st.markdown(f"Test accuracy **{test[3] * 100:.2f}%** · test loss **{test[2]:.4f}** · on {snap.device.upper()}")
    if snap.finished:
        st.progress(1.0, text=f"Done: {epochs} epoch{'s' if epochs != 1 else ''} trained. Raise *Epochs* to train on.")
    else:
        # The batch count moves even when a large network's percentage does not for minutes.
        batches = min(snap.steps_per_epoch, round(snap.epoch_progress * snap.steps_per_epoch))
        # Between epochs the network is tested, in slices beside other jobs: say so, and count it.
        testing = (f" · testing epoch {snap.epoch}'s network: {snap.tested[0]:,} of {snap.tested[1]:,} test images"
                   if snap.tested is not None and snap.epoch > 0 else "")
        st.progress(float(snap.epoch_progress), text=f"Epoch {snap.epoch + 1} of {epochs}: "
                    f"{snap.epoch_progress * 100:.0f}% (batch {batches:,} of {snap.steps_per_epoch:,}){testing}"
                    f"{_eta(snap.eta_s if snap.playing and not testing else None)}")
    if snap.diverged:
        st.error(snap.diverged, icon=":material/warning:")

    left, right = st.columns(2)
    with left.container(key="accuracy-chart"):
        live_chart(_curves_json(snap, 2), key="img-accuracy", config=_CONFIG)
    with right:
        live_chart(_curves_json(snap, 1), key="img-loss", config=_CONFIG)

    st.markdown("##### What it learned")
    left, right = st.columns(2)
    if snap.confusion is not None:
        with left.container(key="confusion-matrix"):
            live_chart(_drawn_figure(confusion_figure, snap.confusion, snap.job_id), key="img-confusion", config=_CONFIG)
        with right:
            live_chart(_drawn_figure(per_class_figure, snap.confusion, snap.job_id), key="img-per-class", config=_CONFIG)
    _mistakes(snap, session)
    _filters_and_maps(snap, session)


# ---- drawings, each made once per content (see drawn.py) -------------------------------------------


_CURVE_FIGURES = {1: loss_figure, 2: accuracy_figure}
_curve_frames: dict[tuple, str] = {}


def _curves_json(snap: ImageSnapshot, column: int) -> str:
    """The accuracy (column 2) or loss (1) chart: its styled frame is built once, each redraw only
    fills in the numbers (building the Plotly figure costs ~15 ms a chart, filling it well under 1)."""
    percent = column == 2

    def build() -> str:
        shape = (column, len(snap.train_curve) > 0, len(snap.test_curve) > 0)
        if shape not in _curve_frames:
            stub = replace(snap, train_curve=snap.train_curve[:1], test_curve=snap.test_curve[:1])
            _curve_frames[shape] = figure_json(_CURVE_FIGURES[column](stub))
        figure = json.loads(_curve_frames[shape])
        for trace, (x, y) in zip(figure["data"], curve_points(snap, column, percent), strict=True):
            trace["x"], trace["y"] = typed_array(x, "f8"), typed_array(y, "f8")
        return json.dumps(figure)

    return drawn(("img-curves", column, snap.steps_per_epoch, content_key(snap.train_curve, snap.test_curve)), build,
                 slot=(snap.job_id, "img-curves", column))


def _drawn_figure(make, values: np.ndarray, job_id: str) -> str:
    return drawn((make.__name__, content_key(values)), lambda: figure_json(make(values)), slot=(job_id, make.__name__))


def _drawn_picture(make, values: np.ndarray, job_id: str, index: int = 0) -> bytes:
    return drawn((make.__name__, content_key(values)), lambda: make(values), slot=(job_id, make.__name__, index))


def _digit(session: PageSession, data, index: int) -> bytes:
    """A test image as a PNG: the same few dozen are shown over and over, on every page."""
    return drawn(("digit", session.spec.data, len(data.test_images), index), lambda: digit_png(data.test_images[index]))


def _mistakes(snap: ImageSnapshot, session: PageSession) -> None:
    data = load_mnist(session.spec.data)
    if snap.misclassified is None or not len(snap.misclassified):
        return
    st.markdown("**Most confident mistakes on the test set** (true → predicted, confidence)")
    with st.container(key="mistakes"):
        images = [_digit(session, data, int(i)) for i, _, _ in snap.misclassified]
        captions = [f"{t} → {p} ({c * 100:.0f}%)" for (_, t, p), c in zip(snap.misclassified, snap.misclassified_confidence)]
        st.image(images, caption=captions, width=64)


def _filters_and_maps(snap: ImageSnapshot, session: PageSession) -> None:
    if snap.filters is None:
        st.caption("This network has no convolution layer, so there are no filters or feature maps to show.")
        return
    left, right = st.columns([1, 2])
    with left:
        st.markdown("**First layer's filters**")
        st.image(_drawn_picture(filters_png, snap.filters, snap.job_id), caption="orange negative, blue positive weights")
    with right:
        data = load_mnist(session.spec.data)
        if "img_probe" not in st.session_state:
            st.session_state["img_probe"] = snap.probe_index
        index = st.number_input("Feature maps of test image no.", 0, len(data.test_images) - 1, key="img_probe",
                                on_change=_probe, args=(session,))
        cols = st.columns([1, 5])
        cols[0].image(_digit(session, data, int(index)), caption=f"label {data.test_labels[int(index)]}")
        with cols[1]:
            for layer, maps in enumerate(snap.feature_maps, 1):
                st.image(_drawn_picture(feature_maps_png, maps, snap.job_id, layer), caption=f"conv layer {layer}: {len(maps)} maps (dark = strong)")


def _probe(session: PageSession) -> None:
    job_manager().send(Probe(session.job_id, {"test_index": int(st.session_state["img_probe"])}))


# ---- drawing pad ------------------------------------------------------------------------------


def draw_pad_and_prediction(session: PageSession, buildable: bool) -> None:
    pad, prediction = st.columns([1, 1.4])
    with pad:
        st.fragment(_pad)(session)
    with prediction:
        live_fragment(_prediction, session, job_manager(), floor_s=_FLOOR_S, controls=False)


def _pad(session: PageSession) -> None:
    from streamlit_drawable_canvas import st_canvas  # a component: only import it where it is drawn

    st.markdown("**Draw a digit**")
    with st.container(key="draw-pad"):
        result = st_canvas(stroke_width=18, stroke_color="#000000", background_color="#ffffff", height=224,
                           width=224, drawing_mode="freedraw", key="pad-canvas", return_image_data=True)
    image = to_mnist(result.image_data) if result is not None and result.image_data is not None else None
    if image is not None and session.job_id:
        digest = hash(image.tobytes())
        if digest != st.session_state.get("img_drawing_digest"):
            st.session_state["img_drawing_digest"] = digest
            session.drawing_id += 1
            job_manager().send(Probe(session.job_id, {"drawing": image, "drawing_id": session.drawing_id}))
    st.caption("Clear the pad with the bin icon above it.")


def _prediction(session: PageSession) -> None:
    manager = job_manager()
    snap = manager.latest(session.job_id) if session.job_id else None
    with st.container(key="prediction"):
        if snap is None or snap.prediction is None or session.drawing_id == 0:
            st.caption("The network's guess for your drawing appears here.")
            return
        probabilities = np.asarray(snap.prediction)
        best = int(probabilities.argmax())
        st.markdown(f"I think it is a **{best}** ({probabilities[best] * 100:.0f}%)")
        live_chart(_drawn_figure(prediction_figure, probabilities, snap.job_id), key="img-prediction", config=_CONFIG)
