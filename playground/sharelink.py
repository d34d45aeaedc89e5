"""Share links: the 2-D playground's `RunSpec` <-> URL query parameters, and the readers every
lab's codec shares (`_start`, `_Reader`, `_num`, `_bool`, `parse_link`).

This is the only module that knows the 2-D page's parameter names. Names and value spellings follow TensorFlow
Playground wherever the setting exists there (`dataset=circle`, `networkShape=4,2`, ...); new
settings get names of the same style. `decode` never raises on user text: whatever it cannot use
falls back to the default and is listed in the returned notes. Links always carry every setting,
so a link keeps its meaning even if a default changes later.
"""

from __future__ import annotations

import math
from collections.abc import Container, Mapping
from urllib.parse import parse_qsl, urlencode

from .spec import (
    FEATURES,
    DataSpec,
    LayerSpec,
    RunSpec,
    TrainSpec,
    ViewSpec,
    default_loss,
    parse_number,
    show,
    validate,
)

MAX_VALUE_CHARS = 500  # longer values are not parsed at all
MAX_LIST_ITEMS = 64
MAX_UNKNOWN_NOTES = 10  # one note per unknown parameter up to this many, then one for the rest
# Parameters Streamlit itself uses; not ours to complain about.
FOREIGN_PARAMS = {"embed", "embed_options"}

KNOWN_PARAMS = (
    "problem", "dataset", "regDataset", "noise", "percTrainData", "seed",
    *FEATURES,
    "networkShape", "activation", "activations", "init", "initZero", "loss",
    "learningRate", "batchSize", "optimizer", "momentum", "nesterov", "beta1", "beta2",
    "weightDecay", "regularization", "regularizationRate", "showTestData", "discretize",
)


_show = show  # quotes untrusted text for a note, short enough to read


class _Reader:
    """Reads typed values out of raw parameters, noting what it could not use."""

    def __init__(self, params: Mapping[str, str], notes: list[str]):
        self.params = params
        self.notes = notes

    def raw(self, name: str) -> str | None:
        value = self.params.get(name)
        if value is None:
            return None
        if len(value) > MAX_VALUE_CHARS:
            self.notes.append(f"{name}: value too long ({len(value)} characters); ignored.")
            return None
        return value.strip()

    def text(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def number(self, name: str, default: float) -> int | float:
        """A finite number: an int for whole-number text (any size: `validate` clamps it), else a float."""
        value = self.raw(name)
        if value is None:
            return default
        number = parse_number(value)
        if number is None:
            self.notes.append(f"{name}: {_show(value)} is not a number; using {default}.")
            return default
        if isinstance(number, float) and not math.isfinite(number):
            if value.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
                self.notes.append(f"{name}: {_show(value)} is not a finite number; using {default}.")
            else:
                self.notes.append(f"{name}: {_show(value)} is too large to be a finite number; using {default}.")
            return default
        return number

    def integer(self, name: str, default: int) -> int:
        number = self.number(name, default)
        if isinstance(number, float):
            if not number.is_integer():
                self.notes.append(f"{name}: {number} is not a whole number; using {round(number)}.")
            number = round(number)  # exact for any finite float
        return number

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        self.notes.append(f"{name}: {_show(value)} is not true or false; using {str(default).lower()}.")
        return default

    def words(self, name: str) -> list[str] | None:
        value = self.raw(name)
        if value is None:
            return None
        items = [item.strip() for item in value.split(",") if item.strip()]
        if len(items) > MAX_LIST_ITEMS:
            self.notes.append(f"{name}: more than {MAX_LIST_ITEMS} items; ignored.")
            return None
        return items


def _text(value) -> str | None:
    """A parameter's value as text; None for one that cannot be written (an int too big for str)."""
    if isinstance(value, str):
        return value
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - user data: whatever str() raises means "cannot be read"
        return None


def _flatten(params: Mapping) -> tuple[dict[str, str], list[str]]:
    """Accept st.query_params, dicts of str or of lists (parse_qs, parse_link); keep the last value
    of a repeated parameter, with a note. Returns the flat parameters and the notes."""
    flat: dict[str, str] = {}
    notes: list[str] = []
    for key, value in params.items():
        name = _text(key)
        if name is None:
            notes.append("A parameter name that cannot be read was ignored.")
            continue
        if isinstance(value, (list, tuple)):
            if not value:
                continue
            text = _text(value[-1])
            if len(value) > 1 and text is not None:
                notes.append(f"{_show(name)} was given {len(value)} times; using the last one, {_show(text)}.")
        else:
            text = _text(value)
        if text is None:
            notes.append(f"{_show(name)}: a value that cannot be read was ignored.")
            continue
        flat[name] = text
    return flat, notes


def _start(params: Mapping, known: Container[str]) -> tuple[dict[str, str], list[str], _Reader]:
    """A decoder's first step: flat parameters, a note for each one it does not know, a reader."""
    params, notes = _flatten(params)
    unknown = [name for name in params if name not in known and name not in FOREIGN_PARAMS]
    notes += [f"Unknown parameter {_show(name)} ignored." for name in unknown[:MAX_UNKNOWN_NOTES]]
    if len(unknown) > MAX_UNKNOWN_NOTES:
        notes.append(f"{len(unknown) - MAX_UNKNOWN_NOTES} more unknown parameters ignored.")
    return params, notes, _Reader(params, notes)


def decode(params: Mapping) -> tuple[RunSpec, list[str]]:
    """Query parameters -> a valid RunSpec and notes about everything ignored or changed."""
    params, notes, read = _start(params, KNOWN_PARAMS)
    d0, t0, v0, s0 = DataSpec(), TrainSpec(), ViewSpec(), RunSpec()

    problem = read.text("problem", d0.problem)
    data = DataSpec(
        problem=problem,
        dataset=read.text("dataset", d0.dataset),
        reg_dataset=read.text("regDataset", d0.reg_dataset),
        noise=read.integer("noise", d0.noise),
        train_percent=read.integer("percTrainData", d0.train_percent),
        seed=read.integer("seed", d0.seed),
    )

    if any(name in params for name in FEATURES):
        features = tuple(f for f in FEATURES if read.flag(f, f in s0.features))
    else:
        features = s0.features

    shape_items = read.words("networkShape")
    units: list[int] = []
    if shape_items is None:
        units = [layer.units for layer in s0.layers]
    else:
        for item in shape_items:
            number = parse_number(item)
            if isinstance(number, int):  # any size: validate clamps it
                units.append(number)
            else:
                notes.append(f"networkShape: {_show(item)} is not a whole number; layer dropped.")
    common = read.text("activation", s0.layers[0].activation)
    per_layer = read.words("activations")
    if per_layer is not None and len(per_layer) != len(units):
        notes.append(
            f"activations: {len(per_layer)} given for {len(units)} layers; using {_show(common)} where missing."
        )
    activations = [
        per_layer[i] if per_layer is not None and i < len(per_layer) else common for i in range(len(units))
    ]
    layers = tuple(LayerSpec(u, a) for u, a in zip(units, activations))

    init = read.text("init", "zeros" if read.flag("initZero", False) else s0.init)

    train = TrainSpec(
        learning_rate=read.number("learningRate", t0.learning_rate),
        batch_size=read.integer("batchSize", t0.batch_size),
        optimizer=read.text("optimizer", t0.optimizer),
        momentum=read.number("momentum", t0.momentum),
        nesterov=read.flag("nesterov", t0.nesterov),
        beta1=read.number("beta1", t0.beta1),
        beta2=read.number("beta2", t0.beta2),
        weight_decay=read.number("weightDecay", t0.weight_decay),
        regularization=read.text("regularization", t0.regularization),
        regularization_rate=read.number("regularizationRate", t0.regularization_rate),
    )
    view = ViewSpec(
        show_test_data=read.flag("showTestData", v0.show_test_data),
        discretize=read.flag("discretize", v0.discretize),
    )
    spec = RunSpec(
        data=data,
        features=features,
        layers=layers,
        init=init,
        loss=read.text("loss", default_loss(problem if problem in ("classification", "regression") else "classification")),
        train=train,
        view=view,
    )
    spec, more = validate(spec)
    return spec, notes + more


def _num(value: float) -> str:
    """Shortest text that reads back as the same float ('0.03', '1e-05', '3')."""
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def encode(spec: RunSpec) -> dict[str, str]:
    """RunSpec -> query parameters (all of them, in a stable order)."""
    d, t, v = spec.data, spec.train, spec.view
    params = {
        "problem": d.problem,
        "dataset": d.dataset,
        "regDataset": d.reg_dataset,
        "noise": str(d.noise),
        "percTrainData": str(d.train_percent),
        "seed": str(d.seed),
        **{f: _bool(f in spec.features) for f in FEATURES},
        "networkShape": ",".join(str(layer.units) for layer in spec.layers),
    }
    activations = [layer.activation for layer in spec.layers]
    if len(set(activations)) <= 1:
        params["activation"] = activations[0] if activations else "tanh"
    else:
        params["activation"] = activations[0]
        params["activations"] = ",".join(activations)
    params.update(
        {
            "init": spec.init,
            "loss": spec.loss,
            "learningRate": _num(t.learning_rate),
            "batchSize": str(t.batch_size),
            "optimizer": t.optimizer,
            "momentum": _num(t.momentum),
            "nesterov": _bool(t.nesterov),
            "beta1": _num(t.beta1),
            "beta2": _num(t.beta2),
            "weightDecay": _num(t.weight_decay),
            "regularization": t.regularization,
            "regularizationRate": _num(t.regularization_rate),
            "showTestData": _bool(v.show_test_data),
            "discretize": _bool(v.discretize),
        }
    )
    return params


def to_query(spec: RunSpec) -> str:
    """The query string (without '?') of a spec's share link."""
    return urlencode(encode(spec), safe=",")


def parse_link(text: str) -> dict[str, str | list[str]]:
    """Parameters from a pasted link: a full URL, '?a=1&b=2', '#a=1' or a bare 'a=1&b=2'.

    A parameter given more than once maps to the list of its values (the decoders use the last
    one and say so); every other one to its text.
    """
    text = text.strip()
    if "?" in text:  # a query, perhaps followed by a '#fragment' (a heading's anchor, TFP's settings)
        text = text.split("?", 1)[1]
    elif "#" in text:
        text = text.split("#", 1)[1]
    text = text.replace("#", "&")
    params: dict[str, str | list[str]] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        if name in params:
            before = params[name]
            params[name] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            params[name] = value
    return params


# ---- the Images page's codec lives in its package; these names stay here for older callers ----

_IMAGE_NAMES = ("IMAGE_PARAMS", "decode_image", "encode_image", "image_query", "is_image_link", "layer_token",
                "parse_layer")


def __getattr__(name: str):
    """`from playground.sharelink import decode_image` still works, without importing the Images
    codec here (it imports this module's readers: either may be imported first)."""
    if name in _IMAGE_NAMES:
        from .images import link

        return getattr(link, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
