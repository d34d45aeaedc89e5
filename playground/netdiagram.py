"""The network, drawn as TensorFlow Playground draws it: one HTML string, numpy in.

Every node is a small heatmap of its own output over the input square; connections are curves
coloured by the weight's sign and as thick as its size. Hovering a node enlarges it (plain CSS,
no script). Plotly would need one subplot per neuron, which is far too slow to redraw live, so
this view is HTML: the thumbnails are tiny PNGs inlined as data URIs.
"""

from __future__ import annotations

import base64
import html

import numpy as np

from .colors import weight_color
from .imaging import grid_picture

MAX_NODE = 40  # node size in px, shrunk to fit tall layers
MIN_NODE = 5
MAX_COLUMN_GAP = 120  # horizontal distance between layer columns, left edge to left edge
LABEL_WIDTH = 64  # room for the input features' names
HEADER = 22
MAX_LINKS = 1500  # beyond this, only the strongest connections are drawn


def node_values(layers: list[np.ndarray], classify: bool) -> list[np.ndarray]:
    """Scale each layer's node outputs to [-1, 1] for colouring.

    Inputs are scaled by their own largest magnitude (x1 spans +-6, sin x1 spans +-1); hidden
    outputs are shown as they are, clipped; a classifier's output probability p becomes 2p - 1.
    """
    scaled = []
    for i, layer in enumerate(layers):
        if i == 0:
            peak = np.abs(layer).reshape(len(layer), -1).max(1)
            scaled.append(layer / np.where(peak > 0, peak, 1)[:, None, None])
        elif i == len(layers) - 1 and classify:
            scaled.append(layer * 2 - 1)
        else:
            scaled.append(layer)
    return scaled


def node_pictures(layers: list[np.ndarray], classify: bool) -> list[list[str]]:
    """Every node's thumbnail as a PNG data URI, per layer. The job makes them (snapshot.py): a
    6x8 network has 50 of them per snapshot, and encoding them is most of a redraw's cost, which
    the one server process shares among all its pages while the workers have cores of their own."""
    return [[grid_picture(node) for node in layer] for layer in node_values(layers, classify)]


def network_html(
    layers: list[np.ndarray],
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    input_labels: list[str],
    layer_titles: list[str],
    classify: bool,
    width: int = 560,
    max_height: int = 560,
    pictures: list[list[str]] | None = None,
) -> str:
    """HTML of the diagram: `layers` are (units, g, g) node outputs, inputs first, output last;
    `pictures` their thumbnails (`node_pictures`), made here when not given.

    The drawing fits in `width` x `max_height` px: nodes shrink for tall layers, columns close up
    for deep networks. Hovering a node shows its thumbnail four times larger, and its tooltip its
    bias and incoming weights.
    """
    pictures = pictures if pictures is not None else node_pictures(layers, classify)
    tallest = max(len(layer) for layer in layers)
    pitch = min(MAX_NODE * 1.25, max(MIN_NODE * 1.2, (max_height - HEADER) / tallest))
    node = int(pitch / 1.25) if pitch >= MAX_NODE else int(max(MIN_NODE, pitch * 0.8))
    gap = min(MAX_COLUMN_GAP, (width - LABEL_WIDTH - node - 8) / max(1, len(layers) - 1))
    height = int(HEADER + tallest * pitch)
    width = int(LABEL_WIDTH + (len(layers) - 1) * gap + node + 8)
    positions: list[list[tuple[float, float]]] = []
    for col, layer in enumerate(layers):
        x = LABEL_WIDTH + col * gap
        top = HEADER + (tallest - len(layer)) * pitch / 2
        positions.append([(x, top + row * pitch) for row in range(len(layer))])

    magnitudes = np.concatenate([np.abs(w).ravel() for w in weights]) if weights else np.zeros(1)
    peak = float(magnitudes.max()) or 1.0
    floor = float(np.partition(magnitudes, -MAX_LINKS)[-MAX_LINKS]) if magnitudes.size > MAX_LINKS else -1.0
    paths = []
    for col, w in enumerate(weights):
        for j, (x1, y1) in enumerate(positions[col + 1]):
            for i, (x0, y0) in enumerate(positions[col]):
                weight = float(w[j, i])
                if abs(weight) < floor:
                    continue
                sx, sy, ex, ey = x0 + node, y0 + node / 2, x1, y1 + node / 2
                mx = (sx + ex) / 2
                stroke = 0.5 + 5.5 * min(1.0, abs(weight) / peak)
                paths.append(
                    f'<path d="M{sx:.0f},{sy:.1f} C{mx:.0f},{sy:.1f} {mx:.0f},{ey:.1f} {ex:.0f},{ey:.1f}" '
                    f'stroke="{weight_color(weight)}" stroke-width="{stroke:.2f}" stroke-opacity="0.75" fill="none"/>'
                )

    nodes = []
    for col, layer in enumerate(layers):
        for row, (x, y) in enumerate(positions[col]):
            if col == 0:
                name = tooltip = input_labels[row]
            else:
                name = "output" if col == len(layers) - 1 else f"layer {col}, neuron {row + 1}"
                incoming = ", ".join(f"{w:.2f}" for w in weights[col - 1][row][:16])
                tooltip = f"{name}\nbias {biases[col - 1][row]:.3f}\nweights in: {incoming}"
            nodes.append(
                f'<div class="nn-node" style="left:{x:.0f}px;top:{y:.0f}px" title="{html.escape(tooltip)}">'
                f'<img src="{pictures[col][row]}" alt="{html.escape(name)}"></div>'
            )
        if col == 0:
            for row, (_, y) in enumerate(positions[0]):
                nodes.append(
                    f'<div class="nn-label" style="left:0;top:{y + node / 2 - 8:.0f}px;width:{LABEL_WIDTH - 6}px">'
                    f"{html.escape(input_labels[row])}</div>"
                )
        title_x = positions[col][0][0] + node / 2 - gap / 2
        nodes.append(
            f'<div class="nn-title" style="left:{title_x:.0f}px;width:{gap:.0f}px">{html.escape(layer_titles[col])}</div>'
        )

    # Streamlit's HTML sanitizer drops inline <svg>; as an image it is kept.
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(paths)}</svg>'
    links = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    style = (
        "<style>"
        ".nn-wrap{position:relative;margin:4px auto;font:12px sans-serif;color:#555}"
        ".nn-links{position:absolute;left:0;top:0}"
        f".nn-node{{position:absolute;width:{node}px;height:{node}px;border:1px solid #999;"
        "background:#fff;z-index:1}"
        ".nn-node img{width:100%;height:100%;display:block;image-rendering:auto}"
        ".nn-node:hover{transform:scale(4);z-index:10;box-shadow:0 2px 10px rgba(0,0,0,.35)}"
        ".nn-label{position:absolute;text-align:right;white-space:nowrap}"
        ".nn-title{position:absolute;top:0;text-align:center;white-space:nowrap}"
        "</style>"
    )
    return (
        f'{style}<div class="nn-wrap" style="width:{width}px;height:{height}px">'
        f'<img class="nn-links" src="{links}" width="{width}" height="{height}" alt="connections">{"".join(nodes)}</div>'
    )
