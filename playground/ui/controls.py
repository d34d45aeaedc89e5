"""Widgets that edit a spec: each editor takes the current spec and returns its part of a new one.

Widgets are keyed and filled from the spec (`_bind`) when the spec changed from outside (a link
was opened or imported) or when a widget appears for the first time; otherwise the person's
edits stand. Editors never build torch objects; they only describe.
"""

from __future__ import annotations

import random

import streamlit as st

from ..data.features import FEATURE_LABELS
from ..spec import (
    ACTIVATIONS,
    CLASSIFY_DATASETS,
    CLASSIFY_LOSSES,
    FEATURES,
    INITS,
    LIMITS,
    MAX_HIDDEN_LAYERS,
    OPTIMIZERS,
    REGRESS_DATASETS,
    REGRESS_LOSSES,
    REGULARIZATIONS,
    DataSpec,
    LayerSpec,
    Limit,
    RunSpec,
    TrainSpec,
    ViewSpec,
)

DATASET_LABELS = {
    "circle": "Circle",
    "xor": "Exclusive or (XOR)",
    "gauss": "Two Gaussians",
    "spiral": "Spiral",
    "moons": "Two moons",
    "checkerboard": "Checkerboard",
    "reg-plane": "Plane",
    "reg-gauss": "Multi-Gaussian",
}
ACTIVATION_LABELS = {
    "relu": "ReLU",
    "leakyrelu": "Leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU",
    "silu": "SiLU",
    "tanh": "Tanh",
    "sigmoid": "Sigmoid",
    "linear": "Linear",
}
OPTIMIZER_LABELS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop", "adagrad": "Adagrad"}
LOSS_LABELS = {"bce": "Binary cross-entropy", "mse": "Mean squared error", "mae": "Mean absolute error", "huber": "Huber"}
INIT_LABELS = {"default": "PyTorch default", "xavier": "Xavier (Glorot)", "he": "He (Kaiming)", "zeros": "Zeros (symmetry!)"}
# The sliders' usual stops, from the low to the high end of the limits table.
LEARNING_RATES = (LIMITS["learning_rate"].lo, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0,
                  LIMITS["learning_rate"].hi)
REG_RATES = (LIMITS["regularization_rate"].lo, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0,
             LIMITS["regularization_rate"].hi)


def _bind(key: str, value, refill: bool) -> None:
    """Give a widget its value from the spec when refilling, or when it has none yet."""
    if refill or key not in st.session_state:
        st.session_state[key] = value


def number_input(limit: Limit, key: str, label: str | None = None, where=st, **kwargs):
    """A number input with the range and step of its row of the limits table."""
    return where.number_input(label or limit.label, limit.lo, limit.hi, step=limit.step, key=key, **kwargs)


def slider(limit: Limit, key: str, hi: int | float | None = None, where=st, **kwargs):
    """A slider with the range and step of its row of the limits table (`hi`: a tighter upper end)."""
    return where.slider(limit.label, limit.lo, limit.hi if hi is None else hi, step=limit.step, key=key, **kwargs)


def _steps(choices: tuple[float, ...], value: float) -> list[float]:
    """A slider's stops, with a linked value that is not a usual stop added in its place."""
    return sorted(set(choices) | {value})


def data_editor(spec: RunSpec, refill: bool) -> DataSpec:
    d = spec.data
    _bind("problem", d.problem, refill)
    _bind("dataset", d.dataset, refill)
    _bind("reg_dataset", d.reg_dataset, refill)
    _bind("noise", d.noise, refill)
    _bind("train_percent", d.train_percent, refill)
    _bind("seed", d.seed, refill)
    problem = st.segmented_control(
        "Problem type", ["classification", "regression"], key="problem", format_func=str.capitalize, required=True
    )
    if problem == "classification":
        dataset = st.selectbox("Data set", CLASSIFY_DATASETS, key="dataset", format_func=DATASET_LABELS.get)
        reg_dataset = d.reg_dataset
    else:
        reg_dataset = st.selectbox("Data set", REGRESS_DATASETS, key="reg_dataset", format_func=DATASET_LABELS.get)
        dataset = d.dataset
    train_percent = slider(LIMITS["train_percent"], "train_percent")
    noise = slider(LIMITS["noise"], "noise")
    with st.container(horizontal=True, vertical_alignment="bottom"):  # the button as wide as its label
        seed = number_input(LIMITS["seed"], "seed")
        st.button("Regenerate", key="regenerate", on_click=_new_seed, help="New random points (a new seed)")
    return DataSpec(problem, dataset, reg_dataset, int(noise), int(train_percent), int(seed))


def _new_seed() -> None:
    st.session_state["seed"] = random.randint(*LIMITS["seed"].range)


def features_editor(spec: RunSpec, refill: bool) -> tuple[str, ...]:
    _bind("features", list(spec.features), refill)
    st.session_state.setdefault("features_last", list(spec.features))
    chosen = st.pills(
        "Input features",
        FEATURES,
        selection_mode="multi",
        key="features",
        format_func=FEATURE_LABELS.get,
        on_change=_keep_one_feature,
    )
    st.session_state["features_last"] = list(chosen)
    return tuple(chosen)


def _keep_one_feature() -> None:
    if not st.session_state["features"]:
        st.session_state["features"] = st.session_state["features_last"]
        st.toast("The network needs at least one input feature.")


def layers_editor(spec: RunSpec, refill: bool) -> tuple[tuple[LayerSpec, ...], str]:
    """Hidden layers, each with its own width and activation, plus the weight initialisation."""
    if refill or "layer_count" not in st.session_state:
        st.session_state["layer_count"] = len(spec.layers)
        for i, layer in enumerate(spec.layers):
            st.session_state[f"units_{i}"] = layer.units
            st.session_state[f"activation_{i}"] = layer.activation
    _bind("init", spec.init, refill)
    count = st.session_state["layer_count"]

    head = st.columns([1.2, 0.5, 0.5, 2.2, 2], vertical_alignment="bottom")
    head[0].markdown(f"**{count} hidden layer{'s' if count != 1 else ''}**")
    head[1].button("", icon=":material/remove:", key="remove_layer", on_click=_change_layers, args=(-1,),
                   disabled=count == 0, help="Remove the last hidden layer")
    head[2].button("", icon=":material/add:", key="add_layer", on_click=_change_layers, args=(1,),
                   disabled=count >= MAX_HIDDEN_LAYERS, help="Add a hidden layer")
    head[3].selectbox("Activation, all layers", ["—", *ACTIVATIONS], key="activation_all", on_change=_set_all_activations,
                      format_func=lambda a: ACTIVATION_LABELS.get(a, "set all…"))
    init = head[4].selectbox("Weight initialisation", INITS, key="init", format_func=INIT_LABELS.get)

    layers = []
    if count:
        columns = st.columns(MAX_HIDDEN_LAYERS)[:count]  # fixed width per layer, as in the diagram
        for i, column in enumerate(columns):
            # After a visit to another page Streamlit has dropped these widgets' values: the spec has them.
            known = spec.layers[i] if i < len(spec.layers) else LayerSpec()
            _bind(f"units_{i}", known.units, False)
            _bind(f"activation_{i}", known.activation, False)
            units = number_input(LIMITS["units"], f"units_{i}", f"Layer {i + 1}", where=column)
            activation = column.selectbox(
                f"Layer {i + 1} activation", ACTIVATIONS, key=f"activation_{i}", format_func=ACTIVATION_LABELS.get,
                label_visibility="collapsed",
            )
            layers.append(LayerSpec(int(units), activation))
    return tuple(layers), init


def _change_layers(delta: int) -> None:
    count = st.session_state["layer_count"] + delta
    count = max(0, min(MAX_HIDDEN_LAYERS, count))
    if delta > 0:  # a new layer copies the one before it, as TF Playground's does
        i = count - 1
        st.session_state[f"units_{i}"] = st.session_state.get(f"units_{i - 1}", 4) if i else 4
        st.session_state[f"activation_{i}"] = st.session_state.get(f"activation_{i - 1}", "tanh") if i else "tanh"
    st.session_state["layer_count"] = count


def _set_all_activations() -> None:
    chosen = st.session_state["activation_all"]
    if chosen in ACTIVATIONS:
        for i in range(st.session_state["layer_count"]):
            st.session_state[f"activation_{i}"] = chosen
    st.session_state["activation_all"] = "—"


def optimizer_editor(train, refill: bool, prefix: str = "") -> dict:
    """Optimizer, learning rate and the optimizer's own settings (shared by both pages).

    `train` is a TrainSpec or ImageTrainSpec; returns the fields for a new one. `prefix` keeps
    the pages' widget keys apart.
    """
    k = prefix.__add__
    for name in ("optimizer", "learning_rate", "momentum", "nesterov", "beta1", "beta2"):
        _bind(k(name), getattr(train, name), refill)
    optimizer = st.selectbox("Optimizer", OPTIMIZERS, key=k("optimizer"), format_func=OPTIMIZER_LABELS.get)
    learning_rate = st.select_slider("Learning rate", _steps(LEARNING_RATES, st.session_state[k("learning_rate")]),
                                     key=k("learning_rate"), format_func=lambda v: f"{v:g}")
    fields = dict(optimizer=optimizer, learning_rate=float(learning_rate), momentum=train.momentum,
                  nesterov=train.nesterov, beta1=train.beta1, beta2=train.beta2)
    if optimizer in ("sgd", "rmsprop"):
        fields["momentum"] = float(slider(LIMITS["momentum"], k("momentum"), format="%.3f"))
    if optimizer == "sgd":
        nesterov = st.checkbox("Nesterov momentum", key=k("nesterov"), disabled=fields["momentum"] == 0)
        fields["nesterov"] = bool(nesterov) and fields["momentum"] > 0
    else:
        fields["nesterov"] = False
    if optimizer in ("adam", "adamw"):
        left, right = st.columns(2)
        fields["beta1"] = float(number_input(LIMITS["beta1"], k("beta1"), where=left, format="%.4f"))
        fields["beta2"] = float(number_input(LIMITS["beta2"], k("beta2"), where=right, format="%.4f"))
    return fields


def weight_decay_editor(value: float, refill: bool, key: str, label: str | None = None) -> float:
    _bind(key, value, refill)
    return float(number_input(LIMITS["weight_decay"], key, label, format="%.4f"))


def training_editor(spec: RunSpec, problem: str, num_train: int, refill: bool) -> tuple[str, TrainSpec]:
    """Loss, optimizer and its settings, learning rate, batch size, regularization."""
    t = spec.train
    losses = CLASSIFY_LOSSES if problem == "classification" else REGRESS_LOSSES
    _bind("loss", spec.loss if spec.loss in losses else losses[0], refill or st.session_state.get("loss") not in losses)
    for key in ("regularization", "regularization_rate"):
        _bind(key, getattr(t, key), refill)
    _bind("batch_size", min(t.batch_size, num_train), refill or st.session_state.get("batch_size", 1) > num_train)

    loss = st.selectbox("Loss", losses, key="loss", format_func=LOSS_LABELS.get)
    fields = optimizer_editor(t, refill)
    weight_decay = t.weight_decay
    if fields["optimizer"] == "adamw":
        weight_decay = weight_decay_editor(t.weight_decay, refill, "weight_decay")
    batch_size = slider(LIMITS["batch_size"], "batch_size", hi=num_train, help=f"{num_train} = the full training set")
    regularization = st.selectbox("Regularization", REGULARIZATIONS, key="regularization")
    regularization_rate = st.select_slider(
        "Regularization rate", _steps(REG_RATES, st.session_state["regularization_rate"]), key="regularization_rate",
        format_func=lambda v: f"{v:g}", disabled=regularization == "none",
    )
    train = TrainSpec(
        **fields,
        batch_size=int(batch_size),
        weight_decay=weight_decay,
        regularization=regularization,
        regularization_rate=float(regularization_rate),
    )
    return loss, train


def view_editor(spec: RunSpec, refill: bool) -> ViewSpec:
    _bind("show_test_data", spec.view.show_test_data, refill)
    _bind("discretize", spec.view.discretize, refill)
    left, right = st.columns(2)
    show = left.toggle("Show test data", key="show_test_data")
    discretize = right.toggle("Discretize output", key="discretize")
    return ViewSpec(show, discretize)
