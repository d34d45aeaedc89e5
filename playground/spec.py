"""The run specification: one frozen object that says everything about a run.

A `RunSpec` is the single source of truth. The share link decodes into it, the model, data and
trainer are built from it, and the page's widgets produce it. `validate` is the only place that
knows the documented limits: it clamps or replaces what is out of range and returns plain-English
notes, so everything downstream can trust a spec without checking it again.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, replace
from typing import ClassVar

# ---- choices -------------------------------------------------------------------------------

PROBLEMS = ("classification", "regression")
CLASSIFY_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "checkerboard")
REGRESS_DATASETS = ("reg-plane", "reg-gauss")
FEATURES = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
ACTIVATIONS = ("relu", "leakyrelu", "elu", "gelu", "silu", "tanh", "sigmoid", "linear")
INITS = ("default", "xavier", "he", "zeros")
CLASSIFY_LOSSES = ("bce",)
REGRESS_LOSSES = ("mse", "mae", "huber")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
REGULARIZATIONS = ("none", "L1", "L2")

# ---- documented limits ---------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    """One number's documented range: what `validate` clamps to, what its widget offers, what
    links and the command line accept. `label` names it on the page and in notes."""

    label: str
    lo: int | float
    hi: int | float
    step: int | float | None = 1  # a widget's step (None: the widget offers fixed stops)
    whole: bool = True  # an int; otherwise a float

    @property
    def range(self) -> tuple:
        return (self.lo, self.hi)


NUM_SAMPLES = {"classification": 500, "regression": 1200}  # as in TensorFlow Playground

# The 2-D page's one table of limits; the Images page's table (images/spec.py) shares the optimizer rows.
LIMITS: dict[str, Limit] = {
    "noise": Limit("Noise (%)", 0, 50),
    "train_percent": Limit("Training data (%)", 10, 90),
    "seed": Limit("Seed", 0, 2**31 - 1),
    "hidden_layers": Limit("Hidden layers", 0, 8),
    "units": Limit("Neurons", 1, 64),  # per hidden layer
    # at most the training set: 90% of the largest data set (validate uses the spec's own)
    "batch_size": Limit("Batch size", 1, max(NUM_SAMPLES.values()) * 90 // 100),
    "learning_rate": Limit("Learning rate", 1e-5, 10.0, None, whole=False),
    "momentum": Limit("Momentum", 0.0, 0.999, 0.001, whole=False),
    "beta1": Limit("Adam β₁", 0.0, 0.9999, 0.01, whole=False),
    "beta2": Limit("Adam β₂", 0.0, 0.9999, 0.001, whole=False),
    "weight_decay": Limit("Weight decay", 0.0, 1.0, 0.0001, whole=False),
    "regularization_rate": Limit("Regularization rate", 0.0, 10.0, None, whole=False),
    "epochs": Limit("Epochs", 1, 1_000_000),  # headless runs: python -m playground train --epochs
}

# The names other modules import (each one a view of the table).
MAX_HIDDEN_LAYERS = LIMITS["hidden_layers"].hi
MAX_UNITS = LIMITS["units"].hi
NOISE_RANGE = LIMITS["noise"].range  # percent
TRAIN_PERCENT_RANGE = LIMITS["train_percent"].range
LEARNING_RATE_RANGE = LIMITS["learning_rate"].range
REG_RATE_RANGE = LIMITS["regularization_rate"].range
MOMENTUM_RANGE = LIMITS["momentum"].range
BETA_RANGE = LIMITS["beta1"].range
WEIGHT_DECAY_RANGE = LIMITS["weight_decay"].range
SEED_RANGE = LIMITS["seed"].range


@dataclass(frozen=True)
class DataSpec:
    problem: str = "classification"
    dataset: str = "circle"  # used when problem == "classification"
    reg_dataset: str = "reg-plane"  # used when problem == "regression"
    noise: int = 0
    train_percent: int = 50
    seed: int = 0

    @property
    def name(self) -> str:
        return self.dataset if self.problem == "classification" else self.reg_dataset

    @property
    def num_samples(self) -> int:
        return NUM_SAMPLES[self.problem]

    @property
    def num_train(self) -> int:
        return int(self.num_samples * self.train_percent / 100)


@dataclass(frozen=True)
class LayerSpec:
    units: int = 4
    activation: str = "tanh"


@dataclass(frozen=True)
class TrainSpec:
    """Everything that may change while a network trains, without resetting it."""

    learning_rate: float = 0.03
    batch_size: int = 10
    optimizer: str = "sgd"
    momentum: float = 0.0  # sgd and rmsprop
    nesterov: bool = False  # sgd with momentum
    beta1: float = 0.9  # adam, adamw
    beta2: float = 0.999
    weight_decay: float = 0.01  # adamw's decoupled decay
    regularization: str = "none"
    regularization_rate: float = 0.0


@dataclass(frozen=True)
class ViewSpec:
    show_test_data: bool = False
    discretize: bool = False


@dataclass(frozen=True)
class RunSpec:
    data: DataSpec = field(default_factory=DataSpec)
    features: tuple[str, ...] = ("x", "y")
    layers: tuple[LayerSpec, ...] = (LayerSpec(4, "tanh"), LayerSpec(2, "tanh"))
    init: str = "default"
    loss: str = "bce"
    train: TrainSpec = field(default_factory=TrainSpec)
    view: ViewSpec = field(default_factory=ViewSpec)

    STRUCTURE_NAMES: ClassVar = ("data", "input features", "network architecture", "weight initialisation", "loss")

    def structure(self) -> tuple:
        """What defines the network and its data: a change here means a fresh network."""
        return (self.data, self.features, self.layers, self.init, self.loss)


def default_loss(problem: str) -> str:
    return "bce" if problem == "classification" else "mse"


# ---- reading numbers: any value, never an exception -----------------------------------------------

# A number as a link writes it: ASCII digits only (int() and float() also take '١٢', '1_000', ' 5\n').
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_WHOLE_TEXT = re.compile(r"[+-]?\d+", re.ASCII)
_NOT_FINITE_TEXT = {sign + word for sign in ("", "+", "-") for word in ("nan", "inf", "infinity")}
_MAX_DIGITS = 4000  # below Python's int/str conversion limit (4300 digits)


def parse_number(text: str) -> int | float | None:
    """A number written in plain ASCII: an exact int for whole-number text (of any length up to
    4000 digits), else a float (inf or nan for those words, and inf where the text overflows a
    float). None for anything else."""
    text = text.strip()
    if _WHOLE_TEXT.fullmatch(text) and len(text) <= _MAX_DIGITS:
        return int(text)
    if _NUMBER_TEXT.fullmatch(text) or text.lower() in _NOT_FINITE_TEXT:
        return float(text)  # never raises on this grammar; overflow gives inf
    return None


def show(value) -> str:
    """A value for a note: short, and never too big to write (huge ints are described, not printed)."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        if abs(value) < 10**15:
            return str(value)
        sign = "negative " if value < 0 else ""
        if value.bit_length() < 3 * _MAX_DIGITS:  # ~3600 digits: safe to count exactly
            return f"a {sign}{len(str(abs(value)))}-digit number"
        return f"a {sign}number of more than 3,000 digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    try:
        text = repr(value)
    except Exception:  # a value whose repr fails (a huge int inside a list, say)
        text = f"a {type(value).__name__}"
    return text if len(text) <= 40 else text[:37] + "..."


def _as_number(value):
    """int, float or None (not a number) for a value of any type."""
    if isinstance(value, str):
        return parse_number(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (OverflowError, ValueError):
            return None
    return None


def clamp(value, lo, hi, label: str, notes: list[str]):
    """value within [lo, hi]; a note says what was changed (shared with the Images spec)."""
    if isinstance(value, float) and not math.isfinite(value):
        notes.append(f"{label}: {value} is not a number; using {lo}.")
        return lo
    if value < lo or value > hi:  # exact, even for ints too big for a float
        new = min(max(value, lo), hi)
        notes.append(f"{label}: {show(value)} is outside {lo}–{hi}; using {new}.")
        return new
    return value


def whole_in(value, limit: Limit, notes: list[str], label: str | None = None, hi: int | None = None) -> int:
    """A whole number within `limit` (or up to `hi`, a tighter bound); anything else is noted, never raised."""
    label = label or limit.label
    hi = limit.hi if hi is None else hi
    number = _as_number(value)
    if number is None:
        notes.append(f"{label}: {show(value)} is not a number; using {limit.lo}.")
        return limit.lo
    if isinstance(number, float):
        if not math.isfinite(number):
            notes.append(f"{label}: {show(value)} is not a number; using {limit.lo}.")
            return limit.lo
        if not number.is_integer():
            notes.append(f"{label}: {show(value)} is not a whole number; using {round(number)}.")
        number = round(number)  # an exact int, however large the float
    return int(clamp(number, limit.lo, hi, label, notes))


def real_in(value, limit: Limit, notes: list[str], label: str | None = None) -> float:
    """A float within `limit`; non-numbers, NaN and infinities become its low end, with a note."""
    label = label or limit.label
    number = _as_number(value)
    if number is None or (isinstance(number, float) and not math.isfinite(number)):
        notes.append(f"{label}: {show(value)} is not a number; using {limit.lo}.")
        return float(limit.lo)
    return float(clamp(number, limit.lo, limit.hi, label, notes))


def _choice(value: str, allowed: tuple[str, ...], default: str, label: str, notes: list[str]) -> str:
    if isinstance(value, str) and value in allowed:
        return value
    notes.append(f"{label}: {show(value)} is not one of {', '.join(allowed)}; using '{default}'.")
    return default


def validate(spec: RunSpec) -> tuple[RunSpec, list[str]]:
    """Return a spec within the documented limits and a note for every change made."""
    notes: list[str] = []
    d0, t0 = DataSpec(), TrainSpec()
    d = spec.data
    problem = _choice(d.problem, PROBLEMS, d0.problem, "Problem type", notes)
    data = DataSpec(
        problem=problem,
        dataset=_choice(d.dataset, CLASSIFY_DATASETS, d0.dataset, "Data set", notes),
        reg_dataset=_choice(d.reg_dataset, REGRESS_DATASETS, d0.reg_dataset, "Regression data set", notes),
        noise=whole_in(d.noise, LIMITS["noise"], notes),
        train_percent=whole_in(d.train_percent, LIMITS["train_percent"], notes),
        seed=whole_in(d.seed, LIMITS["seed"], notes),
    )

    features = tuple(f for f in FEATURES if f in spec.features)  # canonical order, no repeats
    unknown = [f for f in spec.features if f not in FEATURES]
    if unknown:
        notes.append(f"Unknown input features ignored: {', '.join(map(show, unknown))}.")
    if not features:
        notes.append("At least one input feature is needed; using x and y.")
        features = ("x", "y")

    layers = list(spec.layers)
    if len(layers) > MAX_HIDDEN_LAYERS:
        notes.append(f"At most {MAX_HIDDEN_LAYERS} hidden layers; kept the first {MAX_HIDDEN_LAYERS}.")
        layers = layers[:MAX_HIDDEN_LAYERS]
    layers = [
        LayerSpec(
            units=whole_in(layer.units, LIMITS["units"], notes, f"Neurons in layer {i + 1}"),
            activation=_choice(layer.activation, ACTIVATIONS, "tanh", f"Activation of layer {i + 1}", notes),
        )
        for i, layer in enumerate(layers)
    ]

    allowed_losses = CLASSIFY_LOSSES if problem == "classification" else REGRESS_LOSSES
    loss = spec.loss
    if not isinstance(loss, str) or loss not in allowed_losses:
        if loss in CLASSIFY_LOSSES + REGRESS_LOSSES:
            notes.append(f"Loss '{loss}' does not fit {problem}; using '{default_loss(problem)}'.")
        else:
            notes.append(f"Loss: {show(loss)} is not one of {', '.join(allowed_losses)}; using '{default_loss(problem)}'.")
        loss = default_loss(problem)

    t = spec.train
    train = TrainSpec(
        learning_rate=real_in(t.learning_rate, LIMITS["learning_rate"], notes),
        batch_size=whole_in(t.batch_size, LIMITS["batch_size"], notes, hi=data.num_train),
        optimizer=_choice(t.optimizer, OPTIMIZERS, t0.optimizer, "Optimizer", notes),
        momentum=real_in(t.momentum, LIMITS["momentum"], notes),
        nesterov=bool(t.nesterov),
        beta1=real_in(t.beta1, LIMITS["beta1"], notes),
        beta2=real_in(t.beta2, LIMITS["beta2"], notes),
        weight_decay=real_in(t.weight_decay, LIMITS["weight_decay"], notes),
        regularization=_choice(t.regularization, REGULARIZATIONS, t0.regularization, "Regularization", notes),
        regularization_rate=real_in(t.regularization_rate, LIMITS["regularization_rate"], notes),
    )
    if train.nesterov and (train.optimizer != "sgd" or train.momentum == 0):
        notes.append("Nesterov needs SGD with momentum above 0; turned off.")
        train = replace(train, nesterov=False)

    spec = RunSpec(
        data=data,
        features=features,
        layers=tuple(layers),
        init=_choice(spec.init, INITS, "default", "Weight initialisation", notes),
        loss=loss,
        train=train,
        view=ViewSpec(bool(spec.view.show_test_data), bool(spec.view.discretize)),
    )
    return spec, notes
