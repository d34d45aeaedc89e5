"""The live view's reuse of drawings: built once per snapshot and spec, rebuilt when either changes,
and the cached charts it refills are the figures themselves."""

from __future__ import annotations

from dataclasses import replace

import pytest

from playground.figures import boundary_figure, loss_figure
from playground.spec import RunSpec
from playground.ui import drawn, live
from playground.ui.live_chart import figure_json
from tests.test_views import trained


def test_a_snapshot_is_drawn_once_per_spec_and_kept_within_bounds():
    spec, snap = trained({})
    builds = []

    def build() -> str:
        builds.append(1)
        return f"drawing {len(builds)}"

    assert live._drawing("test", snap, spec, build) == "drawing 1"
    assert live._drawing("test", snap, spec, build) == "drawing 1"  # an idle page's next redraw
    newer = replace(snap, seq=snap.seq + 1)
    assert live._drawing("test", newer, spec, build) == "drawing 2"
    other_view = replace(spec, view=replace(spec.view, discretize=not spec.view.discretize))
    assert live._drawing("test", newer, other_view, build) == "drawing 3"
    for seq in range(drawn.KEPT + 5):
        live._drawing("fill", replace(snap, seq=seq, job_id=f"job {seq}"), RunSpec(), lambda: "x")
    assert drawn.cached_count() == drawn.KEPT
    assert live._drawing("test", snap, spec, build) == "drawing 4"  # the oldest were let go


def test_a_jobs_new_drawing_replaces_its_last_one():
    """A page never asks again for the drawing of a superseded snapshot: it is dropped at once,
    so a long class keeps one drawing per page and view, not a cache full of old ones."""
    drawn.clear()
    spec, snap = trained({})
    for seq in range(50):
        live._drawing("diagram", replace(snap, seq=seq), spec, lambda: "x" * 1000)
    assert drawn.cached_count() == 1
    other = replace(snap, job_id="another page's job")
    live._drawing("diagram", other, spec, lambda: "y")
    assert drawn.cached_count() == 2
    drawn.forget_closed(lambda job_id: job_id == snap.job_id, every_s=0)  # the other page closed
    assert drawn.cached_count() == 1
    assert live._drawing("diagram", replace(snap, seq=49), spec, lambda: "rebuilt") == "x" * 1000  # still there


def _decoded(figure_text: str):
    """A figure's JSON with every typed array ({dtype, bdata}) read back into a list of numbers."""
    import base64
    import json

    import numpy as np

    def read(node):
        if isinstance(node, dict) and set(node) >= {"dtype", "bdata"}:
            kind = {"f8": "<f8", "f4": "<f4", "i4": "<i4", "i2": "<i2", "i1": "i1", "u1": "u1", "u2": "<u2", "u4": "<u4"}
            return np.frombuffer(base64.b64decode(node["bdata"]), kind[node["dtype"]]).astype(float).tolist()
        if isinstance(node, dict):
            return {key: read(value) for key, value in node.items()}
        if isinstance(node, list):
            return [read(value) for value in node]
        return node

    return read(json.loads(figure_text))


@pytest.mark.parametrize("link", [{}, {"problem": "regression", "regDataset": "reg-gauss", "showTestData": "true"},
                                  {"discretize": "true", "showTestData": "true"}])
def test_live_charts_are_the_figures_filled_in_place(link):
    """The live view refills cached chart JSON with each snapshot's numbers instead of building the
    figures again: what it sends must be the figures themselves."""
    spec, snap = trained(link, epochs=6)
    snap = replace(snap, job_id=f"charts {sorted(link.items())}")  # drawings are kept per job and snapshot
    data = live.cached_data(spec.data)
    show_test = spec.view.show_test_data
    full = boundary_figure(snap.boundary, data.x_train, data.y_train, data.x_test if show_test else None,
                           data.y_test if show_test else None, classify=spec.data.problem == "classification",
                           discretize=spec.view.discretize)
    assert _decoded(live._boundary_json(snap, spec)) == _decoded(figure_json(full))
    assert _decoded(live._loss_json(snap)) == _decoded(figure_json(loss_figure(snap.history)))
    longer = replace(snap, seq=snap.seq + 1, history=replace(snap.history, epoch=snap.history.epoch[:3],
                                                               train_loss=snap.history.train_loss[:3] + 1))
    assert _decoded(live._loss_json(longer)) != _decoded(live._loss_json(snap))


def test_images_curves_are_the_figures_filled_in_place():
    """The Images page's accuracy and loss charts refill a cached frame: what it sends must be the
    figures themselves, with and without a test curve yet."""
    from playground.images.figures import accuracy_figure
    from playground.images.figures import loss_figure as image_loss_figure
    from playground.images.presets import image_preset
    from playground.images.trainer import ImageTrainer
    from playground.ui import images_live

    trainer = ImageTrainer(image_preset("logistic"))
    trainer.step(60)
    before_test = trainer.snapshot(1)
    trainer.settle(10**6)
    trainer.step(60)
    for snap in (before_test, trainer.snapshot(1)):
        assert _decoded(images_live._curves_json(snap, 2)) == _decoded(figure_json(accuracy_figure(snap)))
        assert _decoded(images_live._curves_json(snap, 1)) == _decoded(figure_json(image_loss_figure(snap)))


def test_pages_redraw_less_often_when_many_are_open_or_their_redraws_cost_more():
    """Thirty open pages cannot all redraw six times a second: together they would need more
    than one interpreter has. The interval stretches with the pages as they open, and with what
    their redraws cost, and comes back once they are gone."""
    from playground.ui import refresh

    class Quiet:
        def refresh_interval(self) -> float:
            return 0.15

    clock = [0.0]
    pacer, refresh.pacer = refresh.pacer, refresh.RedrawPacer(budget=0.5, clock=lambda: clock[0])
    try:
        assert refresh.live_interval(Quiet(), playing=True) == 0.15
        for page in range(30):  # cheap pages: each costs the floor
            refresh.pacer.redrew((f"session {page}", "live"), 0.001)
        assert refresh.live_interval(Quiet(), playing=True) == pytest.approx(30 * refresh.PAGE_COST_S / 0.5)
        assert refresh.live_interval(Quiet(), playing=False) == refresh.live_interval(Quiet(), playing=True)
        for _ in range(20):  # ten of them turn out to cost 25 ms of their own thread each
            for page in range(10):
                refresh.pacer.redrew((f"session {page}", "live"), 0.025)
        expected = (20 * refresh.PAGE_COST_S + 10 * refresh.OVERHEAD * 0.025) / 0.5
        assert refresh.live_interval(Quiet(), playing=True) == pytest.approx(expected, abs=0.02)
        for page in range(30, 300):
            refresh.pacer.redrew((f"session {page}", "live"), 0.001)
        assert refresh.live_interval(Quiet(), playing=True) == refresh.MAX_INTERVAL_S
        clock[0] += 11.0  # the pages closed: forgotten
        refresh.pacer.redrew(("a new session", "live"), 0.001)
        assert refresh.live_interval(Quiet(), playing=True) == 0.15
    finally:
        refresh.pacer = pacer


def test_the_diagram_from_the_jobs_thumbnails_is_the_one_drawn_from_its_numbers():
    """The job encodes the node thumbnails; the page's diagram must be what it would have drawn."""
    from playground.data.features import FEATURE_LABELS
    from playground.netdiagram import network_html

    spec, snap = trained({"networkShape": "5,3"}, epochs=3)
    assert snap.node_pictures is not None and [len(p) for p in snap.node_pictures] == [len(n) for n in snap.nodes]
    inputs = [FEATURE_LABELS[f] for f in spec.features]
    titles = ["inputs", "5", "3", "output"]
    drawn_here = network_html(snap.nodes, snap.weights, snap.biases, inputs, titles, classify=True)
    from_job = network_html(snap.nodes, snap.weights, snap.biases, inputs, titles, classify=True,
                            pictures=snap.node_pictures)
    assert from_job == drawn_here


def test_an_images_snapshot_says_how_far_the_test_between_epochs_has_got():
    """Between epochs the job tests the network in slices; the page counts the images tested
    (a page whose progress bar stood still for that long would look stuck)."""
    from playground.images.presets import image_preset
    from playground.images.trainer import ImageTrainer

    trainer = ImageTrainer(image_preset("logistic"))
    trainer.settle(10**6)  # the evaluation of the untrained network
    assert trainer.snapshot(1).tested is None
    while trainer.epoch < 1:
        trainer.step(1)
    total = len(trainer.x_test)
    seen = []
    while trainer.pending:
        seen.append(trainer.snapshot(1).tested)
        trainer.settle(1)
    assert seen[0] == (0, total) and seen == sorted(seen) and len(seen) >= 2
    assert trainer.snapshot(1).tested is None
