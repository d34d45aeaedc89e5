"""The network, drawn as TensorFlow Playground draws it: one HTML string, numpy in.

Every node is a small heatmap of its own output over the input square; connections are curves
coloured by the weight's sign and as thick as its size. Hovering a node enlarges it (plain CSS,
no script). Plotly would need one subplot per neuron, which is far too slow to redraw live, so
this view is HTML: the thumbnails are tiny PNGs inlined as data URIs.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib

import numpy as np

from .colors import to_rgb, weight_color

NODE = 34  # node size in px
COLUMN_GAP = 96  # horizontal distance between layer columns, left edge to left edge
ROW_GAP = 8
LABEL_WIDTH = 64  # room for the input features' names
HEADER = 22


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 array as a PNG (no Pillow needed)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _thumbnail(values: np.ndarray) -> str:
    """A node's (g, g) output grid (y ascending) -> a data URI, y up as on the charts."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(to_rgb(values[::-1]))).decode()


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


def network_html(
    layers: list[np.ndarray],
    weights: list[np.ndarray],
    input_labels: list[str],
    layer_titles: list[str],
    classify: bool,
) -> str:
    """HTML of the diagram: `layers` are (units, g, g) node outputs, inputs first, output last."""
    values = node_values(layers, classify)
    tallest = max(len(layer) for layer in layers)
    height = HEADER + tallest * (NODE + ROW_GAP)
    width = LABEL_WIDTH + (len(layers) - 1) * COLUMN_GAP + NODE + 8
    positions: list[list[tuple[float, float]]] = []
    for col, layer in enumerate(layers):
        x = LABEL_WIDTH + col * COLUMN_GAP
        top = HEADER + (tallest - len(layer)) * (NODE + ROW_GAP) / 2
        positions.append([(x, top + row * (NODE + ROW_GAP)) for row in range(len(layer))])

    peak = max((float(np.abs(w).max()) for w in weights if w.size), default=1.0) or 1.0
    paths = []
    for col, w in enumerate(weights):
        for j, (x1, y1) in enumerate(positions[col + 1]):
            for i, (x0, y0) in enumerate(positions[col]):
                weight = float(w[j, i])
                sx, sy, ex, ey = x0 + NODE, y0 + NODE / 2, x1, y1 + NODE / 2
                mx = (sx + ex) / 2
                stroke = 0.5 + 5.5 * min(1.0, abs(weight) / peak)
                paths.append(
                    f'<path d="M{sx:.0f},{sy:.1f} C{mx:.0f},{sy:.1f} {mx:.0f},{ey:.1f} {ex:.0f},{ey:.1f}" '
                    f'stroke="{weight_color(weight)}" stroke-width="{stroke:.2f}" stroke-opacity="0.75" fill="none"/>'
                )

    nodes = []
    for col, layer in enumerate(values):
        for row, (x, y) in enumerate(positions[col]):
            if col == 0:
                name = input_labels[row]
            elif col == len(values) - 1:
                name = "output"
            else:
                name = f"layer {col}, neuron {row + 1}"
            nodes.append(
                f'<div class="nn-node" style="left:{x:.0f}px;top:{y:.0f}px" title="{html.escape(name)}">'
                f'<img src="{_thumbnail(layer[row])}" alt="{html.escape(name)}"></div>'
            )
        if col == 0:
            for row, (x, y) in enumerate(positions[0]):
                nodes.append(
                    f'<div class="nn-label" style="left:0;top:{y + NODE / 2 - 8:.0f}px;width:{LABEL_WIDTH - 6}px">'
                    f"{html.escape(input_labels[row])}</div>"
                )
        title_x = positions[col][0][0] + NODE / 2 - COLUMN_GAP / 2
        nodes.append(
            f'<div class="nn-title" style="left:{title_x:.0f}px;width:{COLUMN_GAP}px">{html.escape(layer_titles[col])}</div>'
        )

    # Streamlit's HTML sanitizer drops inline <svg>; as an image it is kept.
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{"".join(paths)}</svg>'
    links = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    style = (
        "<style>"
        ".nn-wrap{position:relative;margin:4px auto;font:12px sans-serif;color:#555}"
        ".nn-links{position:absolute;left:0;top:0}"
        f".nn-node{{position:absolute;width:{NODE}px;height:{NODE}px;border:1px solid #999;"
        "background:#fff;transition:transform .12s;z-index:1}"
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
