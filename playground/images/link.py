"""The Images page's share links: `ImageSpec` <-> URL query parameters.

Same rules as every lab's links (`sharelink.py`): decoding never raises on user text and lists
what it ignored, links carry every setting. Layers are written as short tokens (conv32k3-relu).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from urllib.parse import urlencode

from ..sharelink import _bool, _num, _show, _start
from .spec import ImageLayer, ImageSpec, ImageTrainSpec
from .spec import validate as validate_image


IMAGE_PARAMS = ("layers", "data", "seed", "optimizer", "learningRate", "batchSize", "momentum", "nesterov",
                "beta1", "beta2", "weightDecay", "schedule", "epochs")
_LAYER_TOKEN = re.compile(  # ASCII: `\d` would also match '١٢', which int() reads as 12
    r"^(?P<kind>conv|maxpool|avgpool|flatten|dense|dropout|batchnorm)"
    r"(?P<n>\d+(?:\.\d+)?(?:e[-+]?\d+)?)?(?:k(?P<k>\d+))?(?:s(?P<s>\d+))?(?:p(?P<p>\d+))?(?:-(?P<act>[a-z]+))?$",
    re.ASCII,
)


def layer_token(layer: ImageLayer) -> str:
    """One layer as link text: conv32k3-relu, maxpool2, flatten, dense128-relu, dropout0.5."""
    act = "" if layer.activation == "linear" else f"-{layer.activation}"
    if layer.kind == "conv":
        return f"conv{layer.units}k{layer.kernel}" + (f"s{layer.stride}" if layer.stride != 1 else "") + (
            f"p{layer.padding}" if layer.padding else "") + act
    if layer.kind in ("maxpool", "avgpool"):
        return f"{layer.kind}{layer.size}"
    if layer.kind == "dense":
        return f"dense{layer.units}{act}"
    if layer.kind == "dropout":
        return f"dropout{_num(layer.rate)}"  # exact: 0.5, 0.3359375, 1e-05
    return layer.kind


def parse_layer(token: str) -> ImageLayer | None:
    match = _LAYER_TOKEN.match(token.strip().lower())
    if match is None:
        return None
    kind, n, act = match["kind"], match["n"], match["act"] or "linear"
    try:
        if kind == "conv":
            return ImageLayer("conv", units=int(n or 32), kernel=int(match["k"] or 3), stride=int(match["s"] or 1),
                              padding=int(match["p"] or 0), activation=act)
        if kind in ("maxpool", "avgpool"):
            return ImageLayer(kind, size=int(n or 2))
        if kind == "dense":
            return ImageLayer("dense", units=int(n or 10), activation=act)
        if kind == "dropout":
            rate = float(n or 0.5)
            return ImageLayer("dropout", rate=rate) if math.isfinite(rate) else None  # 'dropout1e999'
    except ValueError:  # a fraction where a whole number belongs ('conv1.5'), or more than 4300 digits
        return None
    return ImageLayer(kind)


def decode_image(params: Mapping) -> tuple[ImageSpec, list[str]]:
    """Query parameters -> a valid ImageSpec (architecture unchecked) and notes."""
    params, notes, read = _start(params, IMAGE_PARAMS)
    s0, t0 = ImageSpec(), ImageTrainSpec()
    tokens = read.words("layers")
    layers = s0.layers
    if tokens is not None:
        parsed = []
        for token in tokens:
            layer = parse_layer(token)
            if layer is None:
                notes.append(f"layers: {_show(token)} is not a layer (e.g. conv32k3-relu, maxpool2, flatten, dense10); dropped.")
            else:
                parsed.append(layer)
        layers = tuple(parsed)
    train = ImageTrainSpec(
        optimizer=read.text("optimizer", t0.optimizer),
        learning_rate=read.number("learningRate", t0.learning_rate),
        batch_size=read.integer("batchSize", t0.batch_size),
        momentum=read.number("momentum", t0.momentum),
        nesterov=read.flag("nesterov", t0.nesterov),
        beta1=read.number("beta1", t0.beta1),
        beta2=read.number("beta2", t0.beta2),
        weight_decay=read.number("weightDecay", t0.weight_decay),
        schedule=read.text("schedule", t0.schedule),
        epochs=read.integer("epochs", t0.epochs),
    )
    spec = ImageSpec(layers, train, read.text("data", s0.data), read.integer("seed", s0.seed))
    spec, more = validate_image(spec)
    return spec, notes + more


def encode_image(spec: ImageSpec) -> dict[str, str]:
    t = spec.train
    return {
        "layers": ",".join(layer_token(layer) for layer in spec.layers),
        "data": spec.data,
        "seed": str(spec.seed),
        "optimizer": t.optimizer,
        "learningRate": _num(t.learning_rate),
        "batchSize": str(t.batch_size),
        "momentum": _num(t.momentum),
        "nesterov": _bool(t.nesterov),
        "beta1": _num(t.beta1),
        "beta2": _num(t.beta2),
        "weightDecay": _num(t.weight_decay),
        "schedule": t.schedule,
        "epochs": str(t.epochs),
    }


def image_query(spec: ImageSpec) -> str:
    return urlencode(encode_image(spec), safe=",")


def is_image_link(params: Mapping) -> bool:
    """Whether a link's parameters describe the Images page (it has `layers`)."""
    return "layers" in params
