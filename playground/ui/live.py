"""The live part of the 2-D page: controls, counters and charts redrawn from the latest snapshot.

It runs as a fragment on a timer. Each run reads the job's newest snapshot (which also tells the
server this page is still open), draws, and returns; it never trains and never waits for the job.
Buttons live inside the fragment, so play, pause and step rerun only this part of the page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import streamlit as st

from ..data.features import FEATURE_LABELS
from ..data.toy import ToyData, make_data
from ..figures import boundary_figure, boundary_picture, loss_figure, loss_series
from ..netdiagram import network_html
from ..snapshot import History, Snapshot
from ..spec import DataSpec, RunSpec
from .drawn import drawn
from .live_chart import figure_json, live_chart, typed_array
from .refresh import live_fragment
from .session import PageSession, job_manager, keep_session_alive
from .transport import job_status, transport_bar

_PLOTLY_CONFIG = {"displayModeBar": False}


@lru_cache(maxsize=32)
def cached_data(spec: DataSpec) -> ToyData:
    """The points of a data spec, generated once per server (cheap, but drawn on every refresh)."""
    return make_data(spec)


def _metric(label: str, value: float | None, digits: int = 3) -> str:
    if value is None or not np.isfinite(value):
        return f"{label} –"
    return f"{label} **{value:.{digits}f}**"


def live_view(session: PageSession) -> None:
    """Draw the live part now and every refresh interval."""
    live_fragment(_live, session, job_manager())


def _live(session: PageSession) -> None:
    manager = job_manager()
    keep_session_alive(manager)
    note = session.ensure_job(manager)
    snap = manager.latest(session.job_id)
    spec = session.spec

    # Build every drawing before emitting the first element: the browser re-renders the fragment
    # for each burst of elements that reaches it, so elements sent back to back cost it fewer
    # renders than elements interleaved with tens of ms of drawing.
    has_diagram = snap is not None and len(snap.nodes) == len(spec.layers) + 2
    diagram = _network_html(snap, spec) if has_diagram else None
    boundary = _boundary_json(snap, spec)
    loss = _loss_json(snap) if snap is not None else None

    if note:
        st.info(note)
    numbers = transport_bar(session, manager, snap)
    with numbers:
        if snap is not None:
            parts = [_metric("Train loss", snap.train_loss), _metric("Test loss", snap.test_loss)]
            if snap.test_acc is not None:
                parts.append(_metric("Test accuracy", snap.test_acc * 100, 1) + "%")
            st.markdown(" · ".join(parts))
    job_status(session, manager, snap)
    if snap is not None and snap.diverged:
        st.error(snap.diverged, icon=":material/warning:")

    diagram_col, output_col = st.columns([1.35, 1], gap="medium")
    with diagram_col:
        with st.container(key="network-diagram"):
            if diagram is not None:
                st.html(diagram)
            else:
                st.caption("Building the network…")
    with output_col:
        with st.container(key="boundary-chart"):
            live_chart(boundary, key="boundary-figure", config=_PLOTLY_CONFIG)
        with st.container(key="loss-chart"):
            if loss is not None:
                live_chart(loss, key="loss-figure", config=_PLOTLY_CONFIG)


def _drawing(kind: str, snap: Snapshot, spec: RunSpec | None, build: Callable[[], str]) -> str:
    """`build()` once per snapshot and spec: a page whose job published nothing new since its
    last redraw (paused, or redrawn faster than the job publishes) reuses what it drew."""
    return drawn((kind, snap.job_id, snap.spec_version, snap.seq, spec), build, slot=(snap.job_id, kind, spec))


def _network_html(snap: Snapshot, spec: RunSpec) -> str:
    def build() -> str:
        inputs = [FEATURE_LABELS[f] for f in spec.features]
        titles = ["inputs"] + [f"{layer.units} · {layer.activation}" for layer in spec.layers] + ["output"]
        return network_html(snap.nodes, snap.weights, snap.biases, inputs, titles, classify=spec.loss == "bce",
                            pictures=snap.node_pictures)

    return _drawing("network", snap, spec, build)


_PICTURE = "picture-of-the-output"  # stands for the boundary picture in a cached chart


@lru_cache(maxsize=64)
def _boundary_frame(data_spec: DataSpec, show_test: bool, grid: int) -> str:
    """The boundary chart's JSON with `_PICTURE` for its picture. The points change only with
    the data, the picture with every snapshot: a redraw then only encodes the picture."""
    data = cached_data(data_spec)
    fig = boundary_figure(
        np.zeros((grid, grid), np.float32),
        data.x_train,
        data.y_train,
        data.x_test if show_test else None,
        data.y_test if show_test else None,
        classify=data_spec.problem == "classification",
    )
    fig.layout.images[0].source = _PICTURE
    return figure_json(fig)


def _boundary_json(snap: Snapshot | None, spec: RunSpec) -> str:
    classify = spec.data.problem == "classification"
    boundary = snap.boundary if snap is not None else np.full((2, 2), 0.5 if classify else 0.0, np.float32)

    def build() -> str:
        frame = _boundary_frame(spec.data, spec.view.show_test_data, boundary.shape[0])
        picture = boundary_picture(boundary, classify, spec.view.discretize)
        return frame.replace(json.dumps(_PICTURE), json.dumps(picture), 1)

    return build() if snap is None else _drawing("boundary", snap, spec, build)


@lru_cache(maxsize=2)
def _loss_frame(classify: bool) -> str:
    """The loss chart's JSON for no epochs yet: styles, axes and legend, built once."""
    empty = np.zeros(0)
    return figure_json(loss_figure(History(empty, empty, empty, *((empty, empty) if classify else ()))))


def _loss_json(snap: Snapshot) -> str:
    def build() -> str:
        history = snap.history
        figure = json.loads(_loss_frame(history.train_acc is not None))
        epochs = typed_array(history.epoch, "i4")
        for trace, values in zip(figure["data"], loss_series(history), strict=True):
            trace["x"], trace["y"] = epochs, typed_array(values, "f8")
        return json.dumps(figure)

    return _drawing("loss", snap, None, build)
