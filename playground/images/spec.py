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

from ..spec import ACTIVATIONS, LIMITS, OPTIMIZERS, Limit, real_in, show, whole_in

LAYER_KINDS = ("conv", "maxpool", "avgpool", "flatten", "dense", "dropout", "batchnorm")
SCHEDULES = ("none", "step", "cosine")
DATA_SOURCES = ("subset", "full")
INPUT_SHAPE = (1, 28, 28)
NUM_CLASSES = 10

# The Images page's one table of limits (the optimizer rows and the seed are the 2-D page's own).
IMAGE_LIMITS: dict[str, Limit] = {
    "layers": Limit("Layers", 0, 16),
    "filters": Limit("Filters", 1, 256),  # conv
    "kernel": Limit("Kernel", 1, 11),
    "stride": Limit("Stride", 1, 4),
    "padding": Limit("Padding", 0, 5),
    "window": Limit("Window", 1, 8),  # pooling
    "units": Limit("Units", 1, 2048),  # dense
    "rate": Limit("Rate", 0.0, 0.9, 0.05, whole=False),  # dropout
    "batch_size": Limit("Batch size", 1, 1024, 16),
    "epochs": Limit("Epochs", 1, 100),
    **{key: LIMITS[key] for key in ("seed", "learning_rate", "momentum", "beta1", "beta2", "weight_decay")},
}
# The names other modules import (each one a view of the table).
MAX_LAYERS = IMAGE_LIMITS["layers"].hi
FILTERS_RANGE = IMAGE_LIMITS["filters"].range
KERNEL_RANGE = IMAGE_LIMITS["kernel"].range
STRIDE_RANGE = IMAGE_LIMITS["stride"].range
PADDING_RANGE = IMAGE_LIMITS["padding"].range
POOL_RANGE = IMAGE_LIMITS["window"].range
UNITS_RANGE = IMAGE_LIMITS["units"].range
DROPOUT_RANGE = IMAGE_LIMITS["rate"].range
MAX_PARAMS = 5_000_000
BATCH_RANGE = IMAGE_LIMITS["batch_size"].range
EPOCHS_RANGE = IMAGE_LIMITS["epochs"].range
LEARNING_RATE_RANGE = IMAGE_LIMITS["learning_rate"].range
WEIGHT_DECAY_RANGE = IMAGE_LIMITS["weight_decay"].range
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
    """Clamp to the documented limits (IMAGE_LIMITS); shapes are `summarize`'s job, not this one's.
    Values of any type are noted and replaced, never raised on."""
    notes: list[str] = []
    L = IMAGE_LIMITS
    layers = list(spec.layers)
    if len(layers) > MAX_LAYERS:
        notes.append(f"At most {MAX_LAYERS} layers; kept the first {MAX_LAYERS}.")
        layers = layers[:MAX_LAYERS]
    clean = []
    for i, layer in enumerate(layers, 1):
        if layer.kind not in LAYER_KINDS:
            notes.append(f"Layer {i}: unknown kind {show(layer.kind)} dropped.")
            continue
        name = f"Layer {i} ({layer.kind})"
        activation = layer.activation
        if activation not in ACTIVATIONS:
            notes.append(f"{name}: activation {show(activation)} unknown; using linear.")
            activation = "linear"
        units_limit = L["filters"] if layer.kind == "conv" else L["units"]
        conv_layer, pooling = layer.kind == "conv", layer.kind in ("maxpool", "avgpool")
        clean.append(
            ImageLayer(
                kind=layer.kind,
                units=whole_in(layer.units, units_limit, notes, f"{name} size") if layer.kind in ("conv", "dense") else 0,
                kernel=whole_in(layer.kernel, L["kernel"], notes, f"{name} kernel") if conv_layer else 3,
                stride=whole_in(layer.stride, L["stride"], notes, f"{name} stride") if conv_layer else 1,
                padding=whole_in(layer.padding, L["padding"], notes, f"{name} padding") if conv_layer else 0,
                size=whole_in(layer.size, L["window"], notes, f"{name} window") if pooling else 2,
                rate=real_in(layer.rate, L["rate"], notes, f"{name} rate") if layer.kind == "dropout" else 0.5,
                activation=activation if layer.kind in ("conv", "dense") else "linear",
            )
        )
    t = spec.train
    momentum = real_in(t.momentum, L["momentum"], notes)
    train = ImageTrainSpec(
        optimizer=t.optimizer if t.optimizer in OPTIMIZERS else "adam",
        learning_rate=real_in(t.learning_rate, L["learning_rate"], notes),
        batch_size=whole_in(t.batch_size, L["batch_size"], notes),
        momentum=momentum,
        nesterov=bool(t.nesterov) and t.optimizer == "sgd" and momentum > 0,
        beta1=real_in(t.beta1, L["beta1"], notes),
        beta2=real_in(t.beta2, L["beta2"], notes),
        weight_decay=real_in(t.weight_decay, L["weight_decay"], notes),
        schedule=t.schedule if t.schedule in SCHEDULES else "none",
        epochs=whole_in(t.epochs, L["epochs"], notes),
    )
    if t.optimizer not in OPTIMIZERS:
        notes.append(f"Optimizer {show(t.optimizer)} unknown; using adam.")
    if t.schedule not in SCHEDULES:
        notes.append(f"Schedule {show(t.schedule)} unknown; using none.")
    data = spec.data if spec.data in DATA_SOURCES else "subset"
    if data != spec.data:
        notes.append(f"Data {show(spec.data)} unknown; using the shipped subset.")
    seed = whole_in(spec.seed, L["seed"], notes)
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
    seconds_per_epoch: float  # estimate at `flops_per_s`
    seconds_per_step: float = 0.0  # one training batch, at the same speed
    notes: list[str] = field(default_factory=list)  # what the trainer will do differently, and why

    @property
    def ok(self) -> bool:
        return not self.problems


def drops_single_image_batch(spec: ImageSpec, train_size: int) -> bool:
    """Whether an epoch would end with a batch of one image that BatchNorm cannot normalise (the
    trainer leaves that image out of the epoch)."""
    batch = spec.train.batch_size
    return batch > 1 and train_size % batch == 1 and any(layer.kind == "batchnorm" for layer in spec.layers)


def summarize(spec: ImageSpec, train_size: int = 60_000, flops_per_s: float = CPU_FLOPS) -> Summary:
    """Output shape and parameters of every layer; problems are reported, never raised.

    Times are estimated for a machine that trains at `flops_per_s` (the server measures its own).
    """
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
            if spec.train.batch_size == 1 and math.prod(shape[1:]) == 1:
                problem = ("BatchNorm normalises each value over the batch, and with a batch size of 1 it gets a "
                           "single value per channel, which cannot be normalised. Raise the batch size to 2 or more, "
                           "or remove this BatchNorm.")
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
    step_flops = sum(r.flops for r in rows) * 3 * batch  # forward + backward
    notes = []
    if drops_single_image_batch(spec, train_size):
        notes.append(f"{train_size:,} training images in batches of {batch} leave a last batch of one image, which "
                     "BatchNorm cannot normalise: each epoch leaves that one image out (a different one each time).")
    steps = math.ceil(train_size / batch)
    return Summary(rows, total, problems, memory / 2**20, steps * step_flops / flops_per_s, step_flops / flops_per_s, notes)
