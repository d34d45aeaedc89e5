"""Plotly figures from snapshots and data: numpy in, figure out.

Figures get numpy arrays (sent to the browser as binary) and a fixed `uirevision`, so a chart that
is redrawn several times a second keeps the person's zoom and legend choices.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .colors import PLOTLY_SCALE
from .data.toy import DOMAIN
from .imaging import grid_picture
from .snapshot import History

_MARGIN = dict(l=8, r=8, t=8, b=8)


def output_values(boundary: np.ndarray, classify: bool, discretize: bool) -> np.ndarray:
    """Network output on the grid mapped to [-1, 1] for colouring (probability p -> 2p - 1)."""
    values = boundary * 2 - 1 if classify else boundary
    return np.sign(values) if discretize else values


def boundary_picture(boundary: np.ndarray, classify: bool, discretize: bool) -> str:
    """The output over the input square as the PNG data URI `boundary_figure` shows."""
    return grid_picture(output_values(boundary, classify, discretize))


def boundary_figure(
    boundary: np.ndarray,
    train_points: np.ndarray,
    train_labels: np.ndarray,
    test_points: np.ndarray | None = None,
    test_labels: np.ndarray | None = None,
    classify: bool = True,
    discretize: bool = False,
) -> go.Figure:
    """The output over the input square as a picture, with the data points on top.

    The output is a PNG behind the axes rather than a heatmap trace: when only the picture
    changes, Plotly swaps one image instead of recomputing and redrawing every trace, which
    is what lets the chart follow training several times a second.
    """
    grid = boundary.shape[0]
    half_cell = DOMAIN / (grid - 1)  # grid values sit on cell centres from -DOMAIN to DOMAIN
    fig = go.Figure()
    fig.add_layout_image(
        source=boundary_picture(boundary, classify, discretize),
        xref="x",
        yref="y",
        x=-DOMAIN - half_cell,
        y=DOMAIN + half_cell,
        sizex=2 * (DOMAIN + half_cell),
        sizey=2 * (DOMAIN + half_cell),
        sizing="stretch",
        layer="below",
    )
    sets = [("train", train_points, train_labels, "white")]
    if test_points is not None:
        sets.append(("test", test_points, test_labels, "black"))
    for name, points, labels, outline in sets:
        values = labels * 2 - 1 if classify else labels
        fig.add_trace(
            go.Scatter(  # SVG: a WebGL context per redraw costs far more for a few hundred points
                x=points[:, 0],
                y=points[:, 1],
                mode="markers",
                name=name,
                marker=dict(
                    color=values.astype(np.float32),
                    cmin=-1,
                    cmax=1,
                    colorscale=PLOTLY_SCALE,
                    size=6,
                    line=dict(color=outline, width=1),
                ),
                hovertemplate=f"{name}: %{{marker.color:.2f}}<extra></extra>",
            )
        )
    fig.update_layout(
        margin=_MARGIN,
        height=340,
        showlegend=False,
        uirevision="boundary",
        xaxis=dict(range=[-DOMAIN, DOMAIN], constrain="domain", showgrid=False, zeroline=False),
        yaxis=dict(range=[-DOMAIN, DOMAIN], scaleanchor="x", showgrid=False, zeroline=False),
        plot_bgcolor="white",
    )
    return fig


def loss_series(history: History) -> list[np.ndarray]:
    """The y values of `loss_figure`'s traces, in its order; every trace's x is `history.epoch`."""
    series = [history.train_loss, history.test_loss]
    if history.train_acc is not None:
        series += [history.train_acc, history.test_acc]
    return series


def loss_figure(history: History) -> go.Figure:
    """Train and test loss per epoch; accuracy on a second axis when classifying."""
    fig = go.Figure()
    epochs = history.epoch
    series = loss_series(history)
    fig.add_trace(go.Scatter(x=epochs, y=series[0], name="train loss", line=dict(color="#888", width=2)))
    fig.add_trace(go.Scatter(x=epochs, y=series[1], name="test loss", line=dict(color="#222", width=2)))
    layout = dict(
        margin=dict(l=8, r=8, t=8, b=8),
        height=250,
        uirevision="loss",
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),  # above the plot, however many rows
        xaxis=dict(title=None, rangemode="tozero"),
        yaxis=dict(title="loss", rangemode="tozero"),
        hovermode="x unified",
    )
    if history.train_acc is not None:
        fig.add_trace(go.Scatter(x=epochs, y=series[2], name="train acc", yaxis="y2", line=dict(color="#6baed6", dash="dot")))
        fig.add_trace(go.Scatter(x=epochs, y=series[3], name="test acc", yaxis="y2", line=dict(color="#0877bd", dash="dot")))
        layout["yaxis2"] = dict(title="accuracy", overlaying="y", side="right", range=[0, 1.02], showgrid=False,
                                tickformat=".0%", dtick=0.25)
    fig.update_layout(**layout)
    return fig
