"""Plotly charts that update in place, for views redrawn several times a second.

`st.plotly_chart` in Streamlit 1.67 rebuilds the whole chart in the browser on every data update
(its frontend keys the chart by an id derived from the figure, see live_chart.html). `live_chart`
draws the same Plotly figure through a small component that keeps one Plotly instance per chart
and updates it with `Plotly.react`. Use it for live views; `st.plotly_chart` stays right for
charts that change only when the person acts.

The component's files are served from a folder made once per server: live_chart.html plus the
plotly.js that ships inside the `plotly` Python package, so the chart works offline and its
Plotly always matches the figures' Python side.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import plotly
import plotly.graph_objects as go
import streamlit.components.v1 as components

_HTML = Path(__file__).with_name("live_chart.html")

# Streamlit's own chart look (its plotly theme), so live charts sit well beside native ones.
TEMPLATE = go.layout.Template(
    layout=dict(
        font=dict(family='"Source Sans", "Source Sans Pro", sans-serif', size=13, color="#31333F"),
        colorway=["#0068c9", "#83c9ff", "#ff2b2b", "#ffabab", "#29b09d", "#7defa1", "#ff8700", "#ffd16a"],
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        xaxis=dict(gridcolor="#e6eaf1", linecolor="#e6eaf1", zerolinecolor="#e6eaf1", automargin=True),
        yaxis=dict(gridcolor="#e6eaf1", linecolor="#e6eaf1", zerolinecolor="#e6eaf1", automargin=True),
        hoverlabel=dict(font=dict(family='"Source Sans", "Source Sans Pro", sans-serif')),
    )
)

_component = None


def component_folder() -> Path:
    """The folder the component is served from: created once, reused while its inputs match."""
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    html = _HTML.read_bytes()
    stamp = hashlib.sha256(html + plotly.__version__.encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / f"playground-live-chart-{stamp}"
    if not (folder / "index.html").exists():
        # Build beside it and rename: two servers starting at once never see half a folder.
        building = Path(tempfile.mkdtemp(prefix=folder.name + "-", dir=folder.parent))
        shutil.copyfile(plotly_js, building / "plotly.min.js")
        (building / "index.html").write_bytes(html)
        try:
            os.rename(building, folder)
        except OSError:  # another process won the race
            shutil.rmtree(building, ignore_errors=True)
    return folder


def _declared():
    # Declared on first use, inside a script run: Streamlit registers a component only then.
    global _component
    if _component is None:
        _component = components.declare_component("live_chart", path=str(component_folder()))
    return _component


def figure_json(fig: go.Figure) -> str:
    """The figure as plotly.js reads it, themed; numpy arrays travel as base64 typed arrays."""
    fig.update_layout(template=TEMPLATE)
    return fig.to_json()


def typed_array(values: np.ndarray, dtype: str) -> dict:
    """An array as plotly.js reads typed arrays from JSON (`dtype` one of its names: f8, f4, i4, ...):
    for filling fresh numbers into a figure's JSON without rebuilding the figure."""
    return {"dtype": dtype, "bdata": base64.b64encode(np.ascontiguousarray(values, _NUMPY_TYPES[dtype]).tobytes()).decode()}


_NUMPY_TYPES = {"f8": "<f8", "f4": "<f4", "i4": "<i4", "i2": "<i2", "u1": "u1"}


def live_chart(fig: go.Figure | str, key: str, config: dict | None = None) -> None:
    """Draw `fig` (a figure, or its `figure_json`); later calls with the same key update the
    same chart in place."""
    figure = fig if isinstance(fig, str) else figure_json(fig)
    _declared()(figure=figure, config=json.dumps(config or {}), key=key, default=None)
