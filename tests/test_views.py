"""The network diagram (HTML with inlined PNG thumbnails) and the plotly figures."""

from __future__ import annotations

import base64
import re
import struct
import zlib

import numpy as np
import plotly.graph_objects as go
import pytest

from playground.colors import NEGATIVE, POSITIVE, to_rgb
from playground.data.features import FEATURE_LABELS
from playground.data.toy import DOMAIN, make_data
from playground.figures import boundary_figure, loss_figure, output_values
from playground.netdiagram import MAX_LINKS, network_html
from playground.sharelink import decode
from playground.snapshot import History
from playground.trainer import NODE_GRID, Trainer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def trained(params: dict, epochs: int = 2):
    spec, notes = decode(params)
    assert notes == []
    trainer = Trainer(spec)
    trainer.run_epochs(epochs)
    return spec, trainer.snapshot()


def diagram(spec, snap, **kw) -> str:
    labels = [FEATURE_LABELS[f] for f in spec.features]
    titles = ["inputs"] + [f"{layer.units} neurons" for layer in spec.layers] + ["output"]
    return network_html(snap.nodes, snap.weights, snap.biases, labels, titles, spec.loss == "bce", **kw)


def read_png(data: bytes) -> np.ndarray:
    """Decode our PNGs (8-bit RGB, filter 0) with struct and zlib, checking every chunk's CRC."""
    assert data[:8] == PNG_SIGNATURE
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        chunks.append((kind, body))
        pos += 12 + length
    assert [k for k, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert (depth, colour, interlace) == (8, 2, 0)
    raw = zlib.decompress(chunks[1][1])
    assert len(raw) == height * (1 + 3 * width)
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()  # filter type 0 on every row
    return rows[:, 1:].reshape(height, width, 3)


def thumbnails(page: str) -> list[np.ndarray]:
    return [read_png(base64.b64decode(b64)) for b64 in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def links_svg(page: str) -> str:
    (b64,) = re.findall(r'class="nn-links" src="data:image/svg\+xml;base64,([^"]+)"', page)
    return base64.b64decode(b64).decode()


SPEC_PARAMS = {"x": "true", "y": "true", "sinX": "true", "networkShape": "4,3", "activation": "relu"}


def test_one_node_per_neuron_with_a_valid_thumbnail():
    spec, snap = trained(SPEC_PARAMS)
    page = diagram(spec, snap)
    neurons = 3 + 4 + 3 + 1
    assert page.count('class="nn-node"') == neurons
    images = thumbnails(page)
    assert len(images) == neurons
    for image in images:
        assert image.shape == (NODE_GRID, NODE_GRID, 3)
    assert "<script" not in page.lower()
    assert "javascript:" not in page.lower()
    assert page.count('class="nn-label"') == 3
    assert page.count('class="nn-title"') == 4


def test_thumbnails_show_y_up_and_the_palette():
    spec, snap = trained(SPEC_PARAMS)
    x_node, y_node = thumbnails(diagram(spec, snap))[:2]
    # x1: orange on the left (x = -6), blue on the right
    assert tuple(x_node[0, 0]) == NEGATIVE and tuple(x_node[0, -1]) == POSITIVE
    assert tuple(x_node[-1, 0]) == NEGATIVE
    # x2: blue at the top (y = +6), orange at the bottom, as on the charts
    assert tuple(y_node[0, 0]) == POSITIVE and tuple(y_node[-1, 0]) == NEGATIVE


def test_one_curve_per_weight_coloured_by_sign():
    spec, snap = trained(SPEC_PARAMS)
    svg = links_svg(diagram(spec, snap))
    assert svg.startswith("<svg") and "<script" not in svg
    weights = np.concatenate([w.ravel() for w in snap.weights])
    assert svg.count("<path") == weights.size == 3 * 4 + 4 * 3 + 3
    assert svg.count('stroke="#0877bd"') == int((weights > 0).sum())
    assert svg.count('stroke="#f59322"') == int((weights <= 0).sum())


def test_tooltips_carry_bias_and_weights_and_text_is_escaped():
    spec, snap = trained(SPEC_PARAMS)
    labels = ["<b>x</b>", "y & z", '"sin"']
    page = network_html(snap.nodes, snap.weights, snap.biases, labels, ["<i>in</i>", "a", "b", "out"], True)
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "y &amp; z" in page and "<i>in</i>" not in page
    assert f"bias {snap.biases[0][0]:.3f}" in page
    assert f"weights in: {snap.weights[0][0][0]:.2f}" in page


def test_no_hidden_layers():
    spec, snap = trained({"networkShape": "", "x": "false", "y": "false", "xTimesY": "true"})
    page = diagram(spec, snap)
    assert page.count('class="nn-node"') == 2
    assert len(thumbnails(page)) == 2
    assert links_svg(page).count("<path") == 1


def test_drawing_fits_the_requested_size():
    spec, snap = trained({"networkShape": "8,8,8,8,8,8"}, epochs=0)
    page = diagram(spec, snap, width=400, max_height=300)
    width, height = map(int, re.search(r'class="nn-wrap" style="width:(\d+)px;height:(\d+)px"', page).groups())
    assert width <= 400 and height <= 300
    lefts = [int(v) for v in re.findall(r'class="nn-node" style="left:(-?\d+)px', page)]
    tops = [int(v) for v in re.findall(r'class="nn-node" style="left:-?\d+px;top:(-?\d+)px', page)]
    assert min(lefts) >= 0 and max(lefts) < width
    assert min(tops) >= 0 and max(tops) < height


def test_big_networks_draw_only_the_strongest_links():
    params = {f: "true" for f in FEATURE_LABELS} | {"networkShape": ",".join(["64"] * 8)}
    spec, snap = trained(params, epochs=0)
    page = diagram(spec, snap)
    assert page.count('class="nn-node"') == 7 + 64 * 8 + 1
    svg = links_svg(page)
    weights = np.concatenate([np.abs(w).ravel() for w in snap.weights])
    assert weights.size > MAX_LINKS
    assert svg.count("<path") == MAX_LINKS
    # the thickest drawn stroke belongs to the largest weight; the thinnest is not below the cut
    widths = [float(v) for v in re.findall(r'stroke-width="([\d.]+)"', svg)]
    assert max(widths) == pytest.approx(6.0, abs=0.01)
    cut = np.sort(weights)[-MAX_LINKS]
    assert min(widths) >= 0.5 + 5.5 * cut / weights.max() - 0.01


def test_regression_output_node_is_not_rescaled_as_a_probability():
    spec, snap = trained({"problem": "regression", "networkShape": "3"})
    page = diagram(spec, snap)
    assert page.count('class="nn-node"') == 2 + 3 + 1
    assert all(image.shape == (NODE_GRID, NODE_GRID, 3) for image in thumbnails(page))


# ---- plotly figures ------------------------------------------------------------------------------------


def picture(fig: go.Figure) -> np.ndarray:
    """The boundary figure's output picture, decoded, top row first (as it is drawn)."""
    (image,) = fig.layout.images
    prefix = "data:image/png;base64,"
    assert image.source.startswith(prefix)
    return read_png(base64.b64decode(image.source[len(prefix):]))


def test_boundary_figure_classification():
    spec, snap = trained({"dataset": "xor"})
    data = make_data(spec.data)
    fig = boundary_figure(snap.boundary, data.x_train, data.y_train, data.x_test, data.y_test, classify=True)
    assert isinstance(fig, go.Figure)
    # The output p is drawn as 2p - 1 in the palette, y up, behind the points; the picture's
    # pixel centres sit on the grid's points, from -DOMAIN to DOMAIN.
    np.testing.assert_array_equal(picture(fig), to_rgb((snap.boundary * 2 - 1)[::-1]))
    (image,) = fig.layout.images
    assert (image.xref, image.yref, image.layer, image.sizing) == ("x", "y", "below", "stretch")
    cell = image.sizex / 100
    assert image.x + cell / 2 == pytest.approx(-DOMAIN) and image.x + image.sizex - cell / 2 == pytest.approx(DOMAIN)
    assert image.y - cell / 2 == pytest.approx(DOMAIN) and image.sizey == image.sizex
    train, test = fig.data
    for trace, points, labels in ((train, data.x_train, data.y_train), (test, data.x_test, data.y_test)):
        assert isinstance(trace.x, np.ndarray) and trace.x.shape == (len(points),)
        np.testing.assert_array_equal(trace.x, points[:, 0])
        np.testing.assert_array_equal(trace.y, points[:, 1])
        assert isinstance(trace.marker.color, np.ndarray)
        np.testing.assert_array_equal(trace.marker.color, labels * 2 - 1)
    assert (train.name, test.name) == ("train", "test")
    assert fig.layout.uirevision == "boundary"
    fig.to_json()  # serializable


def test_boundary_figure_without_test_points_and_discretized():
    spec, snap = trained({})
    data = make_data(spec.data)
    fig = boundary_figure(snap.boundary, data.x_train, data.y_train, classify=True, discretize=True)
    assert len(fig.data) == 1
    colours = {tuple(c) for c in picture(fig).reshape(-1, 3)}
    assert colours <= {NEGATIVE, POSITIVE, tuple(to_rgb(np.zeros(1))[0])}
    np.testing.assert_array_equal(picture(fig), to_rgb(np.sign(snap.boundary * 2 - 1)[::-1]))
    assert fig.layout.uirevision == "boundary"


def test_boundary_figure_regression_uses_values_as_they_are():
    spec, snap = trained({"problem": "regression", "networkShape": "3"})
    data = make_data(spec.data)
    fig = boundary_figure(snap.boundary, data.x_train, data.y_train, classify=False)
    np.testing.assert_array_equal(picture(fig), to_rgb(snap.boundary[::-1]))
    np.testing.assert_allclose(fig.data[0].marker.color, data.y_train)


def test_output_values():
    b = np.array([[0.0, 0.25], [0.5, 1.0]])
    np.testing.assert_allclose(output_values(b, True, False), [[-1, -0.5], [0, 1]])
    np.testing.assert_allclose(output_values(b, True, True), [[-1, -1], [0, 1]])
    np.testing.assert_allclose(output_values(b - 0.5, False, False), b - 0.5)


def test_loss_figure_classification():
    _, snap = trained({}, epochs=4)
    fig = loss_figure(snap.history)
    names = [trace.name for trace in fig.data]
    assert names == ["train loss", "test loss", "train acc", "test acc"]
    for trace, values in zip(fig.data, (snap.history.train_loss, snap.history.test_loss, snap.history.train_acc,
                                        snap.history.test_acc)):
        assert isinstance(trace.x, np.ndarray) and trace.x.shape == (5,)
        assert isinstance(trace.y, np.ndarray) and trace.y.shape == (5,)
        np.testing.assert_array_equal(trace.x, snap.history.epoch)
        np.testing.assert_array_equal(trace.y, values)
    assert [trace.yaxis for trace in fig.data] == [None, None, "y2", "y2"]
    assert fig.layout.uirevision == "loss"
    assert fig.layout.yaxis2.overlaying == "y"


def test_loss_figure_regression_has_no_accuracy():
    history = History(epoch=np.arange(3), train_loss=np.array([0.5, 0.4, 0.3]), test_loss=np.array([0.6, 0.5, 0.45]))
    fig = loss_figure(history)
    assert [trace.name for trace in fig.data] == ["train loss", "test loss"]
    assert "yaxis2" not in fig.to_dict()["layout"]
    assert fig.layout.uirevision == "loss"
    fig.to_json()
