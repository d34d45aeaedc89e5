"""The Images page's spec: an ordered list of layers plus training settings, and its shapes.

`validate` clamps every number to the documented limits (with notes), as the 2-D spec does.
`summarize` infers each layer's output shape and parameter count before anything is built and
reports an impossible architecture on the offending layer, in words; the layer list itself is
never changed by it, so the person can fix what they built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from ..spec import ACTIVATIONS, OPTIMIZERS, clamp as _clamp

LAYER_KINDS = ("conv", "maxpool", "avgpool", "flatten", "dense", "dropout", "batchnorm")
SCHEDULES = ("none", "step", "cosine")
DATA_SOURCES = ("subset", "full")
INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10

MAX_LAYERS = 16
FILTERS_RANGE = (1, 256)
KERNEL_RANGE = (1, 11)
STRIDE_RANGE = (1, 4)
PADDING_RANGE = (0, 5)
POOL_RANGE = (1, 8)
UNITS_RANGE = (1, 2048)
DROPOUT_RANGE = (0.0, 0.9)
MAX_PARAMS = 5_000_000
BATCH_RANGE = (1, 1024)
EPOCHS_RANGE = (1, 100)
LEARNING_RATE_RANGE = (1e-5, 10.0)
WEIGHT_DECAY_RANGE = (0.0, 1.0)
# Effective CPU throughput for the time estimate: the seed CNN measured ~22 s per 60,000-image
# epoch on 2 cores, i.e. about 15 GFLOP/s for forward plus backward.
CPU_FLOPS = 15e9


@dataclass(frozen=True)
class ImageLayer:
    """One layer; each kind reads only its own fields."""

    kind: str
    units: int = 0  # conv: filters, dense: units
    kernel: int = 3  # conv
    stride: int = 1  # conv
    padding: int = 0  # conv
    size: int = 2  # pooling window (and stride)
    rate: float = 0.5  # dropout
    activation: str = "linear"  # conv, dense

    def label(self) -> str:
        if self.kind == "conv":
            return f"Conv2D {self.units} {self.kernel}x{self.kernel}" + (f" /{self.stride}" if self.stride > 1 else "") + (
                f" pad {self.padding}" if self.padding else "") + _act(self.activation)
        if self.kind in ("maxpool", "avgpool"):
            return f"{'MaxPool2D' if self.kind == 'maxpool' else 'AvgPool2D'} {self.size}x{self.size}"
        if self.kind == "dense":
            return f"Dense {self.units}" + _act(self.activation)
        if self.kind == "dropout":
            return f"Dropout {self.rate:g}"
        return {"flatten": "Flatten", "batchnorm": "BatchNorm"}[self.kind]


def _act(activation: str) -> str:
    return "" if activation == "linear" else f" {activation}"


def conv(filters: int, kernel: int = 3, activation: str = "relu", stride: int = 1, padding: int = 0) -> ImageLayer:
    return ImageLayer("conv", units=filters, kernel=kernel, stride=stride, padding=padding, activation=activation)


def dense(units: int, activation: str = "linear") -> ImageLayer:
    return ImageLayer("dense", units=units, activation=activation)


def pool(size: int = 2, kind: str = "maxpool") -> ImageLayer:
    return ImageLayer(kind, size=size)


FLATTEN = ImageLayer("flatten")


@dataclass(frozen=True)
class ImageTrainSpec:
    optimizer: str = "adam"
    learning_rate: float = 0.001
    batch_size: int = 128
    momentum: float = 0.0
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    weight_decay: float = 0.0
    schedule: str = "none"
    epochs: int = 3


# The Keras primer's example: Conv2D 32 3x3 ReLU -> MaxPool 2 -> Flatten -> Dense 128 ReLU -> Dense 10.
SEED_CNN = (conv(32, 3), pool(2), FLATTEN, dense(128, "relu"), dense(10))


@dataclass(frozen=True)
class ImageSpec:
    layers: tuple[ImageLayer, ...] = SEED_CNN
    train: ImageTrainSpec = field(default_factory=ImageTrainSpec)
    data: str = "subset"
    seed: int = 0

    STRUCTURE_NAMES: ClassVar = ("layers", "data", "seed")

    def structure(self) -> tuple:
        return (self.layers, self.data, self.seed)


def validate(spec: ImageSpec) -> tuple[ImageSpec, list[str]]:
    """Clamp to the documented limits; shapes are `summarize`'s job, not this one's."""
    notes: list[str] = []
    layers = list(spec.layers)
    if len(layers) > MAX_LAYERS:
        notes.append(f"At most {MAX_LAYERS} layers; kept the first {MAX_LAYERS}.")
        layers = layers[:MAX_LAYERS]
    clean = []
    for i, layer in enumerate(layers, 1):
        if layer.kind not in LAYER_KINDS:
            notes.append(f"Layer {i}: unknown kind '{layer.kind}' dropped.")
            continue
        name = f"Layer {i} ({layer.kind})"
        activation = layer.activation
        if activation not in ACTIVATIONS:
            notes.append(f"{name}: activation '{activation}' unknown; using linear.")
            activation = "linear"
        units_range = FILTERS_RANGE if layer.kind == "conv" else UNITS_RANGE
        clean.append(
            ImageLayer(
                kind=layer.kind,
                units=int(_clamp(int(layer.units), *units_range, f"{name} size", notes)) if layer.kind in ("conv", "dense") else 0,
                kernel=int(_clamp(int(layer.kernel), *KERNEL_RANGE, f"{name} kernel", notes)) if layer.kind == "conv" else 3,
                stride=int(_clamp(int(layer.stride), *STRIDE_RANGE, f"{name} stride", notes)) if layer.kind == "conv" else 1,
                padding=int(_clamp(int(layer.padding), *PADDING_RANGE, f"{name} padding", notes)) if layer.kind == "conv" else 0,
                size=int(_clamp(int(layer.size), *POOL_RANGE, f"{name} window", notes)) if layer.kind in ("maxpool", "avgpool") else 2,
                rate=float(_clamp(float(layer.rate), *DROPOUT_RANGE, f"{name} rate", notes)) if layer.kind == "dropout" else 0.5,
                activation=activation if layer.kind in ("conv", "dense") else "linear",
            )
        )
    t = spec.train
    train = ImageTrainSpec(
        optimizer=t.optimizer if t.optimizer in OPTIMIZERS else "adam",
        learning_rate=float(_clamp(float(t.learning_rate), *LEARNING_RATE_RANGE, "Learning rate", notes)),
        batch_size=int(_clamp(int(t.batch_size), *BATCH_RANGE, "Batch size", notes)),
        momentum=float(_clamp(float(t.momentum), 0.0, 0.999, "Momentum", notes)),
        nesterov=bool(t.nesterov) and t.optimizer == "sgd" and t.momentum > 0,
        beta1=float(_clamp(float(t.beta1), 0.0, 0.9999, "Adam beta1", notes)),
        beta2=float(_clamp(float(t.beta2), 0.0, 0.9999, "Adam beta2", notes)),
        weight_decay=float(_clamp(float(t.weight_decay), *WEIGHT_DECAY_RANGE, "Weight decay", notes)),
        schedule=t.schedule if t.schedule in SCHEDULES else "none",
        epochs=int(_clamp(int(t.epochs), *EPOCHS_RANGE, "Epochs", notes)),
    )
    if t.optimizer not in OPTIMIZERS:
        notes.append(f"Optimizer '{t.optimizer}' unknown; using adam.")
    if t.schedule not in SCHEDULES:
        notes.append(f"Schedule '{t.schedule}' unknown; using none.")
    data = spec.data if spec.data in DATA_SOURCES else "subset"
    if data != spec.data:
        notes.append(f"Data '{spec.data}' unknown; using the shipped subset.")
    seed = int(_clamp(int(spec.seed), 0, 2**31 - 1, "Seed", notes))
    return ImageSpec(tuple(clean), train, data, seed), notes


# ---- shapes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSummary:
    name: str
    output_shape: tuple[int, ...]  # without the batch dimension
    params: int
    flops: int  # multiply-adds x 2, forward, per image
    problem: str | None = None


@dataclass(frozen=True)
class Summary:
    layers: list[LayerSummary]
    total_params: int
    problems: list[tuple[int, str]]  # (layer index, message)
    memory_mb: float  # weights, gradients, optimizer state and activations of one batch
    seconds_per_epoch: float  # rough CPU estimate

    @property
    def ok(self) -> bool:
        return not self.problems


def summarize(spec: ImageSpec, train_size: int = 60_000) -> Summary:
    """Output shape and parameters of every layer; problems are reported, never raised."""
    shape: tuple[int, ...] = INPUT_SHAPE
    rows: list[LayerSummary] = []
    problems: list[tuple[int, str]] = []
    for i, layer in enumerate(spec.layers):
        problem, params, flops, out = None, 0, 0, shape
        if layer.kind == "conv":
            if len(shape) != 3:
                problem = "Conv2D needs an image (channels x height x width), but its input was already flattened. Move it before the Flatten layer."
            else:
                c, h, w = shape
                k, s, p = layer.kernel, layer.stride, layer.padding
                if k > h + 2 * p or k > w + 2 * p:
                    problem = f"Its {k}x{k} kernel is larger than its {h}x{w} input (with padding {p}). Use a smaller kernel, more padding, or fewer pooling layers before it."
                else:
                    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
                    out = (layer.units, oh, ow)
                    params = layer.units * (c * k * k + 1)
                    flops = 2 * oh * ow * layer.units * c * k * k
        elif layer.kind in ("maxpool", "avgpool"):
            if len(shape) != 3:
                problem = "Pooling needs an image, but its input was already flattened. Move it before the Flatten layer."
            elif layer.size > shape[1] or layer.size > shape[2]:
                problem = f"Its {layer.size}x{layer.size} window is larger than its {shape[1]}x{shape[2]} input. Use a smaller window or remove a pooling layer before it."
            else:
                out = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
                flops = math.prod(shape)
        elif layer.kind == "flatten":
            out = (math.prod(shape),)
        elif layer.kind == "dense":
            if len(shape) != 1:
                problem = f"Dense needs a flat input, but it gets a {'x'.join(map(str, shape))} image. Add a Flatten layer before it."
            else:
                out = (layer.units,)
                params = shape[0] * layer.units + layer.units
                flops = 2 * shape[0] * layer.units
        elif layer.kind == "batchnorm":
            params = 2 * shape[0]
            flops = 4 * math.prod(shape)
        if problem is None and math.prod(out) == 0:
            problem = "Its output would be empty. Use a smaller kernel, stride or window, or fewer layers before it."
        rows.append(LayerSummary(spec.layers[i].label(), out, params, flops, problem))
        if problem:
            problems.append((i, problem))
            break  # later shapes are unknowable
        shape = out
    total = sum(r.params for r in rows)
    if not problems:
        if shape != (NUM_CLASSES,):
            problems.append((len(spec.layers) - 1 if spec.layers else 0,
                             f"The last layer must give {NUM_CLASSES} outputs, one per digit (a Dense 10; softmax is applied by the loss). It gives {'x'.join(map(str, shape))}."))
        elif spec.layers[-1].kind == "dense" and spec.layers[-1].activation != "linear":
            problems.append((len(spec.layers) - 1, "The output layer should have no activation: its outputs are the logits that softmax turns into probabilities."))
    if total > MAX_PARAMS:
        problems.append((max(range(len(rows)), key=lambda j: rows[j].params), f"The network has {total:,} parameters; the limit is {MAX_PARAMS:,}. Make the largest layer smaller or add pooling before it."))
    batch = spec.train.batch_size
    activations = sum(math.prod(r.output_shape) for r in rows) * batch * 4 * 2  # values and their gradients
    optimizer_copies = {"sgd": 1 if spec.train.momentum else 0, "adam": 2, "adamw": 2, "rmsprop": 1, "adagrad": 1}[spec.train.optimizer]
    memory = total * 4 * (2 + optimizer_copies) + activations
    flops = sum(r.flops for r in rows) * 3 * train_size  # forward + backward
    return Summary(rows, total, problems, memory / 2**20, flops / CPU_FLOPS)
