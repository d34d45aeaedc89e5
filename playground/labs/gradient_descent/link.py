"""The gradient descent lab's share links: `GradientSpec` <-> query parameters.

The same rules as the other pages' links (playground/sharelink.py, whose reader this reuses):
every setting is written, `decode` never raises on any text, and whatever it cannot use falls back
to the default with a note.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ...sharelink import _num, _start
from ...spec import parse_number, show
from .spec import DataSpec, GradientSpec, TrainSpec, validate

PARAMS = ("mode", "data", "w", "b", "noise", "points", "degree", "seed", "surface", "start", "optimizer",
          "learningRate", "batchSize", "momentum", "beta1", "beta2", "weightDecay", "steps")
AUTO = "auto"  # start=auto: the surface's own start point


def _point(text: str | None, notes: list[str]) -> tuple | None:
    """'x,y' -> (x, y) as read (validate clamps them); None for 'auto', absent or unreadable."""
    if text is None or text.lower() == AUTO:
        return None
    items = [item.strip() for item in text.split(",")]
    numbers = [parse_number(item) for item in items] if len(items) == 2 else []
    if len(numbers) != 2 or any(n is None or (isinstance(n, float) and not math.isfinite(n)) for n in numbers):
        notes.append(f"start: {show(text)} is not two finite numbers x,y; using the surface's own start.")
        return None
    return tuple(numbers)


def decode(params: Mapping[str, str | list[str]]) -> tuple[GradientSpec, list[str]]:
    """Query parameters -> a valid GradientSpec and notes on everything ignored or changed."""
    params, notes, read = _start(params, PARAMS)
    d0, t0, s0 = DataSpec(), TrainSpec(), GradientSpec()
    data = DataSpec(
        kind=read.text("data", d0.kind),
        w=read.number("w", d0.w),
        b=read.number("b", d0.b),
        noise=read.number("noise", d0.noise),
        points=read.integer("points", d0.points),
        degree=read.integer("degree", d0.degree),
        seed=read.integer("seed", d0.seed),
    )
    train = TrainSpec(
        optimizer=read.text("optimizer", t0.optimizer),
        learning_rate=read.number("learningRate", t0.learning_rate),
        batch_size=read.integer("batchSize", t0.batch_size),
        momentum=read.number("momentum", t0.momentum),
        beta1=read.number("beta1", t0.beta1),
        beta2=read.number("beta2", t0.beta2),
        weight_decay=read.number("weightDecay", t0.weight_decay),
        steps=read.integer("steps", t0.steps),
    )
    spec = GradientSpec(
        mode=read.text("mode", s0.mode),
        data=data,
        surface=read.text("surface", s0.surface),
        start=_point(read.raw("start"), notes),
        train=train,
    )
    spec, more = validate(spec)
    return spec, notes + more


def encode(spec: GradientSpec) -> dict[str, str]:
    """GradientSpec -> query parameters (all of them, in a stable order)."""
    d, t = spec.data, spec.train
    return {
        "mode": spec.mode,
        "data": d.kind,
        "w": _num(d.w),
        "b": _num(d.b),
        "noise": _num(d.noise),
        "points": str(d.points),
        "degree": str(d.degree),
        "seed": str(d.seed),
        "surface": spec.surface,
        "start": AUTO if spec.start is None else f"{_num(spec.start[0])},{_num(spec.start[1])}",
        "optimizer": t.optimizer,
        "learningRate": _num(t.learning_rate),
        "batchSize": str(t.batch_size),
        "momentum": _num(t.momentum),
        "beta1": _num(t.beta1),
        "beta2": _num(t.beta2),
        "weightDecay": _num(t.weight_decay),
        "steps": str(t.steps),
    }
