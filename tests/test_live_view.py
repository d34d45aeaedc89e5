"""The live view's reuse of drawings: built once per snapshot and spec, rebuilt when either changes."""

from __future__ import annotations

from dataclasses import replace

from playground.spec import RunSpec
from playground.ui import live
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
    for seq in range(live._DRAWN_KEPT + 5):
        live._drawing("fill", replace(snap, seq=seq), RunSpec(), lambda: "x")
    assert len(live._drawn) == live._DRAWN_KEPT
    assert live._drawing("test", snap, spec, build) == "drawing 4"  # the oldest were let go
