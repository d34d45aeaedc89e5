"""The run specification: one frozen object that says everything about a run.

A `RunSpec` is the single source of truth. The share link decodes into it, the model, data and
trainer are built from it, and the page's widgets produce it. `validate` is the only place that
knows the documented limits: it clamps or replaces what is out of range and returns plain-English
notes, so everything downstream can trust a spec without checking it again.
"""

from __future__ import annotations

import math
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

MAX_HIDDEN_LAYERS = 8
MAX_UNITS = 64
NOISE_RANGE = (0, 50)  # percent
TRAIN_PERCENT_RANGE = (10, 90)
LEARNING_RATE_RANGE = (1e-5, 10.0)
REG_RATE_RANGE = (0.0, 10.0)
MOMENTUM_RANGE = (0.0, 0.999)
BETA_RANGE = (0.0, 0.9999)
WEIGHT_DECAY_RANGE = (0.0, 1.0)
SEED_RANGE = (0, 2**31 - 1)
NUM_SAMPLES = {"classification": 500, "regression": 1200}  # as in TensorFlow Playground


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


def clamp(value, lo, hi, label: str, notes: list[str]):
    """value within [lo, hi]; a note says what was changed (shared with the Images spec)."""
    if isinstance(value, float) and not math.isfinite(value):
        notes.append(f"{label}: {value} is not a number; using {lo}.")
        return lo
    if value < lo or value > hi:
        new = min(max(value, lo), hi)
        notes.append(f"{label}: {value} is outside {lo}–{hi}; using {new}.")
        return new
    return value


def _whole(value, lo: int, hi: int, label: str, notes: list[str]) -> int:
    """A whole number within limits; non-numbers and fractions are noted, never raised."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        notes.append(f"{label}: {value!r} is not a number; using {lo}.")
        return lo
    if not math.isfinite(number):
        notes.append(f"{label}: {value} is not a number; using {lo}.")
        return lo
    if number != int(number):
        notes.append(f"{label}: {value} is not a whole number; using {round(number)}.")
        number = round(number)
    return int(clamp(int(number), lo, hi, label, notes))


def _choice(value: str, allowed: tuple[str, ...], default: str, label: str, notes: list[str]) -> str:
    if value in allowed:
        return value
    notes.append(f"{label}: '{value}' is not one of {', '.join(allowed)}; using '{default}'.")
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
        noise=_whole(d.noise, *NOISE_RANGE, "Noise (%)", notes),
        train_percent=_whole(d.train_percent, *TRAIN_PERCENT_RANGE, "Training share (%)", notes),
        seed=_whole(d.seed, *SEED_RANGE, "Seed", notes),
    )

    features = tuple(f for f in FEATURES if f in spec.features)  # canonical order, no repeats
    unknown = [f for f in spec.features if f not in FEATURES]
    if unknown:
        notes.append(f"Unknown input features ignored: {', '.join(map(str, unknown))}.")
    if not features:
        notes.append("At least one input feature is needed; using x and y.")
        features = ("x", "y")

    layers = list(spec.layers)
    if len(layers) > MAX_HIDDEN_LAYERS:
        notes.append(f"At most {MAX_HIDDEN_LAYERS} hidden layers; kept the first {MAX_HIDDEN_LAYERS}.")
        layers = layers[:MAX_HIDDEN_LAYERS]
    layers = [
        LayerSpec(
            units=_whole(layer.units, 1, MAX_UNITS, f"Neurons in layer {i + 1}", notes),
            activation=_choice(layer.activation, ACTIVATIONS, "tanh", f"Activation of layer {i + 1}", notes),
        )
        for i, layer in enumerate(layers)
    ]

    allowed_losses = CLASSIFY_LOSSES if problem == "classification" else REGRESS_LOSSES
    loss = spec.loss
    if loss not in allowed_losses:
        if loss in CLASSIFY_LOSSES + REGRESS_LOSSES:
            notes.append(f"Loss '{loss}' does not fit {problem}; using '{default_loss(problem)}'.")
        else:
            notes.append(f"Loss: '{loss}' is not one of {', '.join(allowed_losses)}; using '{default_loss(problem)}'.")
        loss = default_loss(problem)

    t = spec.train
    train = TrainSpec(
        learning_rate=float(clamp(float(t.learning_rate), *LEARNING_RATE_RANGE, "Learning rate", notes)),
        batch_size=_whole(t.batch_size, 1, data.num_train, "Batch size", notes),
        optimizer=_choice(t.optimizer, OPTIMIZERS, t0.optimizer, "Optimizer", notes),
        momentum=float(clamp(float(t.momentum), *MOMENTUM_RANGE, "Momentum", notes)),
        nesterov=bool(t.nesterov),
        beta1=float(clamp(float(t.beta1), *BETA_RANGE, "Adam beta1", notes)),
        beta2=float(clamp(float(t.beta2), *BETA_RANGE, "Adam beta2", notes)),
        weight_decay=float(clamp(float(t.weight_decay), *WEIGHT_DECAY_RANGE, "Weight decay", notes)),
        regularization=_choice(t.regularization, REGULARIZATIONS, t0.regularization, "Regularization", notes),
        regularization_rate=float(clamp(float(t.regularization_rate), *REG_RATE_RANGE, "Regularization rate", notes)),
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
