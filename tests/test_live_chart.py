"""The live-chart component's files and the figure JSON it is given."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go

from playground.ui.live_chart import component_folder, figure_json


def test_component_folder_serves_the_page_and_the_plotly_it_loads():
    folder = component_folder()
    html = (folder / "index.html").read_text()
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts == ["plotly.min.js"]
    assert (folder / "plotly.min.js").stat().st_size > 1_000_000
    assert component_folder() == folder  # made once, then reused


def test_figure_json_carries_numpy_as_typed_arrays_and_the_theme():
    z = np.arange(6, dtype=np.float32).reshape(2, 3)
    figure = json.loads(figure_json(go.Figure(go.Heatmap(z=z))))
    trace = figure["data"][0]
    assert trace["z"]["dtype"] == "f4" and trace["z"]["shape"] == "2, 3"
    assert "Source Sans" in figure["layout"]["template"]["layout"]["font"]["family"]
