"""The Images page's layer builder: an ordered, editable list of layers, and its summary table.

The list being edited lives in widget state (`img_layers`); moving, adding or removing a row
bumps a generation number in the widget keys so every row is redrawn from the list. Problems
found by `summarize` are shown on the offending row; the list itself is never changed by them.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

from ..images.spec import IMAGE_LIMITS, LAYER_KINDS, MAX_LAYERS, ImageLayer, Summary
from ..spec import ACTIVATIONS
from .controls import ACTIVATION_LABELS, number_input

KIND_LABELS = {"conv": "Conv2D", "maxpool": "MaxPool2D", "avgpool": "AvgPool2D", "flatten": "Flatten",
               "dense": "Dense", "dropout": "Dropout", "batchnorm": "BatchNorm"}
NEW_LAYER = {
    "conv": ImageLayer("conv", units=16, kernel=3, activation="relu"),
    "maxpool": ImageLayer("maxpool", size=2),
    "avgpool": ImageLayer("avgpool", size=2),
    "flatten": ImageLayer("flatten"),
    "dense": ImageLayer("dense", units=64, activation="relu"),
    "dropout": ImageLayer("dropout", rate=0.25),
    "batchnorm": ImageLayer("batchnorm"),
}
_LIST, _GEN = "img_layers", "img_layers_gen"


def _edit(operation: str, index: int = 0) -> None:
    layers = list(st.session_state[_LIST])
    if operation == "up" and index > 0:
        layers[index - 1], layers[index] = layers[index], layers[index - 1]
    elif operation == "down" and index < len(layers) - 1:
        layers[index + 1], layers[index] = layers[index], layers[index + 1]
    elif operation == "remove":
        del layers[index]
    elif operation == "add" and len(layers) < MAX_LAYERS:
        kind = st.session_state.get("img_new_kind", "dense")
        before_output = len(layers) - 1 if layers and layers[-1].kind == "dense" and layers[-1].units == 10 else len(layers)
        layers.insert(max(0, before_output), NEW_LAYER[kind])
    st.session_state[_LIST] = tuple(layers)
    st.session_state[_GEN] = st.session_state.get(_GEN, 0) + 1


def layer_builder(layers: tuple[ImageLayer, ...], refill: bool) -> tuple[tuple[ImageLayer, ...], list]:
    """Draw the rows; returns the edited layers and one placeholder per row for its problem."""
    if refill or _LIST not in st.session_state:
        st.session_state[_LIST] = tuple(layers)
        st.session_state[_GEN] = st.session_state.get(_GEN, 0) + 1
    current = list(st.session_state[_LIST])
    gen = st.session_state[_GEN]
    edited, slots = [], []
    for i, layer in enumerate(current):
        key = f"img_L{gen}_{i}_"
        row = st.columns([1.3, 1, 1, 1, 1, 1.3, 0.42, 0.42, 0.42], vertical_alignment="bottom")
        row[0].markdown(f"**{i + 1}. {KIND_LABELS[layer.kind]}**")
        if layer.kind == "conv":
            layer = replace(
                layer,
                units=int(number_input(IMAGE_LIMITS["filters"], key + "units", where=row[1], value=layer.units)),
                kernel=int(number_input(IMAGE_LIMITS["kernel"], key + "kernel", where=row[2], value=layer.kernel)),
                stride=int(number_input(IMAGE_LIMITS["stride"], key + "stride", where=row[3], value=layer.stride)),
                padding=int(number_input(IMAGE_LIMITS["padding"], key + "padding", where=row[4], value=layer.padding)),
            )
        elif layer.kind == "dense":
            layer = replace(layer, units=int(number_input(IMAGE_LIMITS["units"], key + "units", where=row[1],
                                                          value=layer.units)))
        elif layer.kind in ("maxpool", "avgpool"):
            layer = replace(layer, size=int(number_input(IMAGE_LIMITS["window"], key + "size", where=row[1],
                                                         value=layer.size)))
        elif layer.kind == "dropout":
            layer = replace(layer, rate=float(number_input(IMAGE_LIMITS["rate"], key + "rate", where=row[1],
                                                           value=float(layer.rate))))
        if layer.kind in ("conv", "dense"):
            options = ["linear", *[a for a in ACTIVATIONS if a != "linear"]]
            activation = row[5].selectbox("Activation", options, index=options.index(layer.activation),
                                          key=key + "activation",
                                          format_func=lambda a: "none" if a == "linear" else ACTIVATION_LABELS[a])
            layer = replace(layer, activation=activation)
        row[6].button("", icon=":material/arrow_upward:", key=key + "up", on_click=_edit, args=("up", i),
                      disabled=i == 0, help="Move up")
        row[7].button("", icon=":material/arrow_downward:", key=key + "down", on_click=_edit, args=("down", i),
                      disabled=i == len(current) - 1, help="Move down")
        row[8].button("", icon=":material/close:", key=key + "remove", on_click=_edit, args=("remove", i), help="Remove")
        slots.append(st.empty())
        edited.append(layer)
    st.session_state[_LIST] = tuple(edited)

    with st.container(horizontal=True, vertical_alignment="bottom"):  # the button as wide as its label
        st.selectbox("New layer", list(LAYER_KINDS), key="img_new_kind", format_func=KIND_LABELS.get,
                     label_visibility="collapsed", width=180)
        st.button("Add layer", icon=":material/add:", key="img_add", on_click=_edit, args=("add",),
                  disabled=len(edited) >= MAX_LAYERS, help="Inserted before the output layer; move it with the arrows")
    return tuple(edited), slots


def show_problems(summary: Summary, slots: list) -> None:
    for index, message in summary.problems:
        if 0 <= index < len(slots):
            slots[index].error(message, icon=":material/error:")
        else:
            st.error(message, icon=":material/error:")


_TABLE_WIDTH_PX = 560


def summary_table(summary: Summary, machine: dict | None = None, over_limits: list[str] = ()) -> None:
    """Keras-style model.summary(): output shapes and parameters, totals and estimates for the
    machine that trains it (`machine`: the job manager's measurement), and why this server will
    not train it (`over_limits`), if it will not."""
    with st.container(key="layer-summary"):
        last = len(summary.layers) - 1
        rows = [
            {"Layer": f"{i + 1}. {row.name}" + (" → softmax" if i == last and summary.ok else ""), "Output shape": " × ".join(map(str, row.output_shape)) if not row.problem else "—",
             "Parameters": f"{row.params:,}"}
            for i, row in enumerate(summary.layers)
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width=_TABLE_WIDTH_PX)
        st.caption(f"**{summary.total_params:,} parameters** · about {summary.memory_mb:,.1f} MB while training · "
                   f"≈ {_duration(summary.seconds_per_epoch)} per epoch on {_machine(machine)}")
        for note in summary.notes:
            st.caption(note)
        for problem in over_limits:
            st.error(problem, icon=":material/block:")


def _machine(machine: dict | None) -> str:
    if not machine:
        return "this server"
    if machine.get("device") == "cuda":
        return f"this server's GPU ({machine.get('name', 'CUDA')})"
    return f"this server's {machine.get('name', 'CPU')}" + ("" if machine.get("measured") else " (not yet measured)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    return f"{seconds / 3600:,.1f} h"
