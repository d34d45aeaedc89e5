"""The live part of the 2-D page: controls, counters and charts redrawn from the latest snapshot.

It runs as a fragment on a timer. Each run reads the job's newest snapshot (which also tells the
server this page is still open), draws, and returns; it never trains and never waits for the job.
Buttons live inside the fragment, so play, pause and step rerun only this part of the page.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import streamlit as st

from ..data.features import FEATURE_LABELS
from ..data.toy import ToyData, make_data
from ..figures import boundary_figure, loss_figure
from ..netdiagram import network_html
from ..snapshot import Snapshot
from ..spec import DataSpec, RunSpec
from .live_chart import live_chart
from .session import PageSession, job_manager, keep_session_alive
from .transport import live_run_completed, live_run_started, transport_bar

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
    manager = job_manager()
    st.fragment(run_every=manager.refresh_interval())(_live_run)(session)


def _live_run(session: PageSession) -> None:
    live_run_started(session)
    _live(session)
    live_run_completed(session)  # not reached when the run is interrupted


def _live(session: PageSession) -> None:
    manager = job_manager()
    keep_session_alive(manager)
    note = session.ensure_job(manager)
    if note:
        st.info(note)
    snap = manager.latest(session.job_id)
    spec = session.spec

    numbers = transport_bar(session, manager, snap)
    with numbers:
        if snap is not None:
            parts = [_metric("Train loss", snap.train_loss), _metric("Test loss", snap.test_loss)]
            if snap.test_acc is not None:
                parts.append(_metric("Test accuracy", snap.test_acc * 100, 1) + "%")
            st.markdown(" · ".join(parts))

    error = manager.error(session.job_id)
    if error:
        st.error(error)
    if snap is not None and snap.diverged:
        st.error(snap.diverged, icon=":material/warning:")

    diagram_col, output_col = st.columns([1.35, 1], gap="medium")
    with diagram_col:
        with st.container(key="network-diagram"):
            if snap is not None and len(snap.nodes) == len(spec.layers) + 2:
                _draw_network(snap, spec)
            else:
                st.caption("Building the network…")
    with output_col:
        with st.container(key="boundary-chart"):
            _draw_boundary(snap, spec)
        with st.container(key="loss-chart"):
            if snap is not None:
                live_chart(loss_figure(snap.history), key="loss-figure", config=_PLOTLY_CONFIG)


def _draw_network(snap: Snapshot, spec: RunSpec) -> None:
    inputs = [FEATURE_LABELS[f] for f in spec.features]
    titles = ["inputs"] + [f"{layer.units} · {layer.activation}" for layer in spec.layers] + ["output"]
    st.html(network_html(snap.nodes, snap.weights, snap.biases, inputs, titles, classify=spec.loss == "bce"))


def _draw_boundary(snap: Snapshot | None, spec: RunSpec) -> None:
    data = cached_data(spec.data)
    classify = spec.data.problem == "classification"
    boundary = snap.boundary if snap is not None else np.full((2, 2), 0.5 if classify else 0.0, np.float32)
    show_test = spec.view.show_test_data
    fig = boundary_figure(
        boundary,
        data.x_train,
        data.y_train,
        data.x_test if show_test else None,
        data.y_test if show_test else None,
        classify=classify,
        discretize=spec.view.discretize,
    )
    live_chart(fig, key="boundary-figure", config=_PLOTLY_CONFIG)
