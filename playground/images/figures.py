"""Figures of the Images page: numpy in, Plotly figure or PNG out."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from ..imaging import diverging, gray, png_bytes, tile
from ..snapshot import ImageSnapshot

_MARGIN = dict(l=8, r=8, t=28, b=8)


def curve_points(snap: ImageSnapshot, column: int, percent: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(x in epochs, y) of each drawn curve: the training curve, then the test curve, each only
    when it has points. Column 1 is the loss, 2 the accuracy."""
    scale = 100.0 if percent else 1.0
    per_epoch = max(1, snap.steps_per_epoch)
    train, test = snap.train_curve, snap.test_curve
    points = []
    if len(train):
        points.append((train[:, 0] / per_epoch, train[:, column] * scale))
    if len(test):
        points.append((test[:, 0] / per_epoch, test[:, column + 1] * scale))
    return points


def _curves(snap: ImageSnapshot, column: int, title: str, percent: bool) -> go.Figure:
    fig = go.Figure()
    points = iter(curve_points(snap, column, percent))
    if len(snap.train_curve):
        x, y = next(points)
        fig.add_trace(go.Scatter(x=x, y=y, name="training (recent batches)", line=dict(color="#9ecae1", width=1.5)))
    if len(snap.test_curve):
        x, y = next(points)
        fig.add_trace(go.Scatter(x=x, y=y, name="test", mode="lines+markers", line=dict(color="#08519c", width=2.5)))
    fig.update_layout(
        title=dict(text=title, font=dict(size=13), x=0), margin=_MARGIN, height=260, uirevision=title,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="right", x=1),  # clear of the axis title
        xaxis=dict(title="epoch", rangemode="tozero"),
        yaxis=dict(range=[0, 100.5]) if percent else dict(rangemode="tozero"), hovermode="x unified",
    )
    return fig


def accuracy_figure(snap: ImageSnapshot) -> go.Figure:
    return _curves(snap, 2, "Accuracy (%)", percent=True)


def loss_figure(snap: ImageSnapshot) -> go.Figure:
    return _curves(snap, 1, "Loss (cross-entropy)", percent=False)


def confusion_figure(confusion: np.ndarray) -> go.Figure:
    """Counts, rows = true digit, columns = predicted; shaded by share of the row."""
    share = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    digits = [str(d) for d in range(10)]
    fig = go.Figure(go.Heatmap(
        z=share.astype(np.float32), x=digits, y=digits, text=confusion.astype(str), texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=1, showscale=False,
        hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
    ))
    fig.update_layout(
        title=dict(text="Confusion matrix (test set)", font=dict(size=13), x=0), margin=_MARGIN, height=340,
        xaxis=dict(title="predicted", side="bottom", type="category"),
        yaxis=dict(title="true", autorange="reversed", type="category", scaleanchor="x"), uirevision="confusion",
    )
    return fig


def per_class_figure(confusion: np.ndarray) -> go.Figure:
    accuracy = np.diag(confusion) / np.maximum(confusion.sum(1), 1) * 100
    fig = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=accuracy.astype(np.float32), marker_color="#0877bd",
                           text=[f"{a:.0f}" for a in accuracy], textposition="outside",
                           hovertemplate="digit %{x}: %{y:.1f}%<extra></extra>"))
    fig.update_layout(title=dict(text="Accuracy per digit (%)", font=dict(size=13), x=0), margin=_MARGIN, height=340,
                      yaxis=dict(range=[0, 110]), xaxis=dict(type="category", title="digit"), uirevision="per-class")
    return fig


def prediction_figure(probabilities: np.ndarray) -> go.Figure:
    best = int(np.argmax(probabilities))
    colors = ["#0877bd" if d == best else "#9ecae1" for d in range(10)]
    fig = go.Figure(go.Bar(x=[str(d) for d in range(10)], y=(probabilities * 100).astype(np.float32), marker_color=colors,
                           hovertemplate="%{x}: %{y:.1f}%<extra></extra>"))
    fig.update_layout(margin=dict(l=8, r=8, t=8, b=8), height=200, yaxis=dict(range=[0, 100], title="%"),
                      xaxis=dict(type="category", title="digit"), uirevision="prediction")
    return fig


def filters_png(filters: np.ndarray) -> bytes:
    """First conv layer's kernels, each scaled to its own size, orange negative / blue positive."""
    pictures = np.stack([diverging(f) for f in filters])
    scale = max(4, 48 // filters.shape[-1])
    return png_bytes(tile(pictures, columns=8, scale=scale, gap=2))


def feature_maps_png(maps: np.ndarray) -> bytes:
    """One conv layer's outputs for one image, grey, each map scaled on its own."""
    pictures = np.stack([gray(m) for m in maps])
    scale = max(1, 56 // maps.shape[-1])
    return png_bytes(tile(pictures, columns=8, scale=scale, gap=2))


def digit_png(image: np.ndarray, scale: int = 2) -> bytes:
    """A 28x28 uint8 MNIST image as a PNG, dark ink on white."""
    level = (255 - image.astype(np.uint8)).repeat(scale, 0).repeat(scale, 1)
    return png_bytes(np.repeat(level[..., None], 3, axis=-1))
