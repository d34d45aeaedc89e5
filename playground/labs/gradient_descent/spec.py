"""The gradient descent lab's spec: one frozen object, one table of limits, one `validate`.

Torch-free, so the page can import it. `validate` is the only place that knows the limits: it
clamps or replaces whatever is out of range and says so in plain English, never raising, so the
link decoder, the widgets and the trainers can all trust a validated spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from ...spec import LIMITS as SHARED_LIMITS
from ...spec import Limit, _as_number, _choice, real_in, show, whole_in

MODES = ("fit", "race")  # fit a line (or curve) / race the optimizers on a surface
KINDS = ("line", "curve")  # y = w·x + b + noise / y = sin(πx) + noise with polynomial features
SURFACES = ("line", "ravine", "rosenbrock", "beale", "saddle")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw")

# The lab's one table: a number's Limit, or a setting's choices (defaults are the dataclasses').
LIMITS: dict[str, Limit | tuple[str, ...]] = {
    "mode": MODES,
    "kind": KINDS,
    "surface": SURFACES,
    "optimizer": OPTIMIZERS,
    "w": Limit("Slope w", -5.0, 5.0, 0.1, whole=False),
    "b": Limit("Intercept b", -5.0, 5.0, 0.1, whole=False),
    "noise": Limit("Noise", 0.0, 2.0, 0.05, whole=False),  # standard deviation added to y
    "points": Limit("Points", 2, 500),
    "degree": Limit("Polynomial degree", 1, 15),
    "seed": SHARED_LIMITS["seed"],
    "start": Limit("Start", -10.0, 10.0, None, whole=False),  # each coordinate; race surfaces clamp to their box
    "learning_rate": SHARED_LIMITS["learning_rate"],
    "batch_size": Limit("Batch size", 0, 500),  # 0: full batch
    "momentum": SHARED_LIMITS["momentum"],
    "beta1": SHARED_LIMITS["beta1"],
    "beta2": SHARED_LIMITS["beta2"],
    "weight_decay": SHARED_LIMITS["weight_decay"],
    "steps": Limit("Steps", 1, 100_000),  # the run stops (finished) after this many updates
}

# Plotting boxes (x0, x1, y0, y1) of the fixed surfaces; the line fit's box follows its data.
BOXES: dict[str, tuple[float, float, float, float]] = {
    "ravine": (-5.0, 5.0, -3.0, 3.0),
    "rosenbrock": (-2.0, 2.0, -1.0, 3.0),
    "beale": (-4.5, 4.5, -4.5, 4.5),
    "saddle": (-2.0, 2.0, -2.0, 2.0),
}


@dataclass(frozen=True)
class DataSpec:
    """The points to fit; `w` and `b` make the line (and the race's line surface), `degree` the curve's features."""

    kind: str = "line"
    w: float = 2.0
    b: float = -1.0
    noise: float = 0.5
    points: int = 30
    degree: int = 3
    seed: int = 0


@dataclass(frozen=True)
class TrainSpec:
    """What may change while it trains, without losing the path."""

    optimizer: str = "sgd"  # the fit's; the race runs all of OPTIMIZERS
    learning_rate: float = 0.1
    batch_size: int = 0  # 0 or all points: full-batch gradient descent
    momentum: float = 0.9  # momentum and nesterov
    beta1: float = 0.9  # adam, adamw
    beta2: float = 0.999
    weight_decay: float = 0.01  # adamw (torch's default)
    steps: int = 1000


@dataclass(frozen=True)
class GradientSpec:
    mode: str = "fit"
    data: DataSpec = field(default_factory=DataSpec)
    surface: str = "ravine"  # race only
    start: tuple[float, float] | None = None  # (w, b) or (x, y); None: the surface's own start
    train: TrainSpec = field(default_factory=TrainSpec)

    STRUCTURE_NAMES: ClassVar = ("mode", "data", "surface", "start point")

    def structure(self) -> tuple:
        """What defines the run: a change here means starting over."""
        return (self.mode, self.data, self.surface, self.start)


def _start(start, surface: str, race: bool, notes: list[str]) -> tuple[float, float] | None:
    """None, or a point within the start limits (and within the race surface's box)."""
    if start is None:
        return None
    try:
        x, y = start
    except (TypeError, ValueError):
        notes.append(f"Start: {show(start)} is not a point (x, y); using the surface's own start.")
        return None
    limit = LIMITS["start"]
    if any(_as_number(v) is None for v in (x, y)):
        notes.append(f"Start: {show(start)} is not a point (x, y); using the surface's own start.")
        return None
    point = (real_in(x, limit, notes, "Start x"), real_in(y, limit, notes, "Start y"))
    if race and surface in BOXES:
        x0, x1, y0, y1 = BOXES[surface]
        inside = (min(max(point[0], x0), x1), min(max(point[1], y0), y1))
        if inside != point:
            notes.append(f"Start {point} is outside the {surface} plot; using {inside}.")
            point = inside
    return (float(point[0]) + 0.0, float(point[1]) + 0.0)  # + 0.0: -0.0 reads back as 0.0


def validate(spec: GradientSpec) -> tuple[GradientSpec, list[str]]:
    """A spec within LIMITS and a note for every change; values of any type, never raises."""
    notes: list[str] = []
    L, d0, t0 = LIMITS, DataSpec(), TrainSpec()
    d, t = spec.data, spec.train
    mode = _choice(spec.mode, MODES, "fit", "Mode", notes)
    surface = _choice(spec.surface, SURFACES, "ravine", "Surface", notes)
    data = DataSpec(
        kind=_choice(d.kind, KINDS, d0.kind, "Data", notes),
        w=real_in(d.w, L["w"], notes),
        b=real_in(d.b, L["b"], notes),
        noise=real_in(d.noise, L["noise"], notes),
        points=whole_in(d.points, L["points"], notes),
        degree=whole_in(d.degree, L["degree"], notes),
        seed=whole_in(d.seed, L["seed"], notes),
    )
    train = TrainSpec(
        optimizer=_choice(t.optimizer, OPTIMIZERS, t0.optimizer, "Optimizer", notes),
        learning_rate=real_in(t.learning_rate, L["learning_rate"], notes),
        batch_size=whole_in(t.batch_size, L["batch_size"], notes),
        momentum=real_in(t.momentum, L["momentum"], notes),
        beta1=real_in(t.beta1, L["beta1"], notes),
        beta2=real_in(t.beta2, L["beta2"], notes),
        weight_decay=real_in(t.weight_decay, L["weight_decay"], notes),
        steps=whole_in(t.steps, L["steps"], notes),
    )
    if train.batch_size > data.points:
        notes.append(f"Batch size {train.batch_size} is more than the {data.points} points; using all of them.")
        train = replace(train, batch_size=0)
    start = _start(spec.start, surface, mode == "race", notes)
    return GradientSpec(mode, data, surface, start, train), notes
