"""One table of limits per page: validation, links, widgets and the CLI all read it.

`spec.LIMITS` (2-D page) and `images.spec.IMAGE_LIMITS` (Images page) say every number's range.
These tests check the tables themselves, that `validate` clamps to them and never raises on a
value of any type or size, and that every numeric widget of both pages offers exactly the
table's range (run under AppTest, like tests/test_app.py).
"""

from __future__ import annotations

import dataclasses
import math
import re
from decimal import Decimal

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from playground import spec as S
from playground.images import spec as I
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import IMAGE_LIMITS, ImageLayer, ImageSpec, ImageTrainSpec
from playground.presets import PRESETS, preset_spec
from playground.spec import LIMITS, DataSpec, LayerSpec, Limit, RunSpec, TrainSpec, parse_number, show, validate
from tests.conftest import ROOT

# ---- which table row bounds which field --------------------------------------------------------

RUN_FIELDS = {  # (part of RunSpec, field) -> row of LIMITS
    ("data", "noise"): "noise",
    ("data", "train_percent"): "train_percent",
    ("data", "seed"): "seed",
    ("train", "learning_rate"): "learning_rate",
    ("train", "batch_size"): "batch_size",
    ("train", "momentum"): "momentum",
    ("train", "beta1"): "beta1",
    ("train", "beta2"): "beta2",
    ("train", "weight_decay"): "weight_decay",
    ("train", "regularization_rate"): "regularization_rate",
}
IMAGE_TRAIN_FIELDS = ("learning_rate", "batch_size", "momentum", "beta1", "beta2", "weight_decay", "epochs")
IMAGE_LAYER_FIELDS = {  # kind -> {field: row of IMAGE_LIMITS}
    "conv": {"units": "filters", "kernel": "kernel", "stride": "stride", "padding": "padding"},
    "dense": {"units": "units"},
    "maxpool": {"size": "window"},
    "avgpool": {"size": "window"},
    "dropout": {"rate": "rate"},
    "flatten": {},
    "batchnorm": {},
}


def _numeric_fields(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)
            if isinstance(f.default, (int, float)) and not isinstance(f.default, bool)}


def _check(value, limit: Limit, where: str, problems: list[str], hi=None) -> None:
    hi = limit.hi if hi is None else hi
    if limit.whole:
        if type(value) is not int:
            problems.append(f"{where}: {value!r} is not an int")
            return
    elif type(value) is not float or not math.isfinite(value):
        problems.append(f"{where}: {value!r} is not a finite float")
        return
    if not limit.lo <= value <= hi:
        problems.append(f"{where}: {value!r} is outside {limit.lo}..{hi}")


def outside_limits(spec) -> list[str]:
    """Every numeric field of a RunSpec or ImageSpec that is not within its table row (or of the wrong type)."""
    problems: list[str] = []
    if isinstance(spec, RunSpec):
        for (part, name), row in RUN_FIELDS.items():
            hi = spec.data.num_train if row == "batch_size" else None
            _check(getattr(getattr(spec, part), name), LIMITS[row], f"{part}.{name}", problems, hi)
        _check(len(spec.layers), LIMITS["hidden_layers"], "number of hidden layers", problems)
        for i, layer in enumerate(spec.layers):
            _check(layer.units, LIMITS["units"], f"layer {i + 1} units", problems)
        return problems
    assert isinstance(spec, ImageSpec), spec
    for name in IMAGE_TRAIN_FIELDS:
        _check(getattr(spec.train, name), IMAGE_LIMITS[name], f"train.{name}", problems)
    _check(spec.seed, IMAGE_LIMITS["seed"], "seed", problems)
    _check(len(spec.layers), IMAGE_LIMITS["layers"], "number of layers", problems)
    for i, layer in enumerate(spec.layers):
        for name, row in IMAGE_LAYER_FIELDS[layer.kind].items():
            _check(getattr(layer, name), IMAGE_LIMITS[row], f"layer {i + 1} ({layer.kind}) {name}", problems)
    return problems


# ---- the tables ------------------------------------------------------------------------------------


def test_every_numeric_field_of_both_specs_has_a_row():
    assert {name for part, name in RUN_FIELDS if part == "data"} == _numeric_fields(DataSpec)
    assert {name for part, name in RUN_FIELDS if part == "train"} == _numeric_fields(TrainSpec)
    assert _numeric_fields(LayerSpec) == {"units"}
    assert set(IMAGE_TRAIN_FIELDS) == _numeric_fields(ImageTrainSpec)
    assert {name for fields in IMAGE_LAYER_FIELDS.values() for name in fields} == _numeric_fields(ImageLayer)
    assert set(IMAGE_LAYER_FIELDS) == set(I.LAYER_KINDS)
    assert set(RUN_FIELDS.values()) <= set(LIMITS)
    assert {row for fields in IMAGE_LAYER_FIELDS.values() for row in fields.values()} <= set(IMAGE_LIMITS)


@pytest.mark.parametrize("table, key", [*((LIMITS, k) for k in LIMITS), *((IMAGE_LIMITS, k) for k in IMAGE_LIMITS)])
def test_rows_are_well_formed(table, key):
    limit = table[key]
    kind = int if limit.whole else float
    assert type(limit.lo) is kind and type(limit.hi) is kind, limit
    assert limit.lo < limit.hi and limit.label
    if limit.step is not None:
        assert type(limit.step) is kind and 0 < limit.step <= limit.hi - limit.lo, limit


def test_the_images_table_shares_the_optimizer_rows_and_the_seed():
    for key in ("seed", "learning_rate", "momentum", "beta1", "beta2", "weight_decay"):
        assert IMAGE_LIMITS[key] is LIMITS[key]


def test_old_names_are_views_of_the_tables():
    assert S.NOISE_RANGE == (LIMITS["noise"].lo, LIMITS["noise"].hi)
    assert S.MOMENTUM_RANGE == LIMITS["momentum"].range and S.SEED_RANGE == LIMITS["seed"].range
    assert S.BETA_RANGE == LIMITS["beta1"].range == LIMITS["beta2"].range
    assert S.MAX_HIDDEN_LAYERS == LIMITS["hidden_layers"].hi and S.MAX_UNITS == LIMITS["units"].hi
    assert I.MAX_LAYERS == IMAGE_LIMITS["layers"].hi and I.FILTERS_RANGE == IMAGE_LIMITS["filters"].range
    assert I.POOL_RANGE == IMAGE_LIMITS["window"].range and I.DROPOUT_RANGE == IMAGE_LIMITS["rate"].range
    assert I.BATCH_RANGE == IMAGE_LIMITS["batch_size"].range and I.EPOCHS_RANGE == IMAGE_LIMITS["epochs"].range
    # the 2-D batch size is at most the largest training set (90 % of the regression data)
    assert LIMITS["batch_size"].hi == max(S.NUM_SAMPLES.values()) * LIMITS["train_percent"].hi // 100


def test_defaults_and_presets_are_within_the_tables():
    assert outside_limits(RunSpec()) == [] and outside_limits(ImageSpec()) == []
    for name in PRESETS:
        assert outside_limits(preset_spec(name)) == [], name
    for name in IMAGE_PRESETS:
        assert outside_limits(image_preset(name)) == [], name


# ---- validate clamps to the table ----------------------------------------------------------------


def _set_run(spec: RunSpec, part: str, name: str, value) -> RunSpec:
    return dataclasses.replace(spec, **{part: dataclasses.replace(getattr(spec, part), **{name: value})})


@pytest.mark.parametrize("part, name", list(RUN_FIELDS))
def test_2d_validate_clamps_each_field_to_its_row(part, name):
    limit = LIMITS[RUN_FIELDS[part, name]]
    spec = dataclasses.replace(RunSpec(), data=DataSpec(problem="regression", train_percent=90), loss="mse")
    for outside, expected in ((limit.hi * 2 + 1, limit.hi), (limit.lo - 1, limit.lo)):
        fixed, notes = validate(_set_run(spec, part, name, outside))
        assert getattr(getattr(fixed, part), name) == expected
        assert len(notes) == 1 and notes[0].startswith(limit.label), notes
    for inside in (limit.lo, limit.hi):
        assert validate(_set_run(spec, part, name, inside))[1] == []


def test_2d_validate_clamps_units_and_layer_count_to_their_rows():
    units = LIMITS["units"]
    fixed, notes = validate(dataclasses.replace(RunSpec(), layers=(LayerSpec(units.hi + 1), LayerSpec(units.lo - 1))))
    assert [layer.units for layer in fixed.layers] == [units.hi, units.lo] and len(notes) == 2
    count = LIMITS["hidden_layers"].hi
    fixed, notes = validate(dataclasses.replace(RunSpec(), layers=(LayerSpec(),) * (count + 1)))
    assert len(fixed.layers) == count and len(notes) == 1


VALID_LAYER = {"conv": I.conv(8), "dense": I.dense(10), "maxpool": I.pool(2), "avgpool": I.pool(2, "avgpool"),
               "dropout": ImageLayer("dropout", rate=0.5)}


def _image_layer_cases():
    for kind, fields in IMAGE_LAYER_FIELDS.items():
        for name, row in fields.items():
            yield kind, name, row


@pytest.mark.parametrize("kind, name, row", list(_image_layer_cases()))
def test_images_validate_clamps_each_layer_field_to_its_row(kind, name, row):
    limit = IMAGE_LIMITS[row]
    for outside, expected in ((limit.hi * 2 + 1, limit.hi), (limit.lo - 1, limit.lo)):
        fixed, notes = I.validate(ImageSpec((dataclasses.replace(VALID_LAYER[kind], **{name: outside}),)))
        assert getattr(fixed.layers[0], name) == expected
        assert len(notes) == 1, notes


@pytest.mark.parametrize("name", IMAGE_TRAIN_FIELDS)
def test_images_validate_clamps_each_training_field_to_its_row(name):
    limit = IMAGE_LIMITS[name]
    for outside, expected in ((limit.hi * 2 + 1, limit.hi), (limit.lo - 1, limit.lo)):
        fixed, notes = I.validate(ImageSpec(train=dataclasses.replace(ImageTrainSpec(), **{name: outside})))
        assert getattr(fixed.train, name) == expected
        assert len(notes) == 1 and notes[0].startswith(limit.label), notes
    count = IMAGE_LIMITS["layers"].hi
    assert len(I.validate(ImageSpec((I.FLATTEN,) * (count + 1)))[0].layers) == count


# Values no widget or link should produce, but validate must still survive: any type, any size.
ODD_VALUES = [10**5000, -(10**5000), 10**400, 2**64, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), 5e-324,
              -0.0, 7.5, True, "12", "abc", "١٢", "1e999", "", None, [1, 2], [10**5000], {"a": 1}, Decimal("1e999"),
              np.int64(3), np.float32(0.5), np.float64("nan"), object()]


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_2d_validate_never_raises_on_odd_values(value):
    for part, name in RUN_FIELDS:
        fixed, notes = validate(_set_run(RunSpec(), part, name, value))
        assert outside_limits(fixed) == [], (part, name)
        assert validate(fixed) == (fixed, [])
        assert all(len(note) < 300 for note in notes), notes
    fixed, notes = validate(dataclasses.replace(RunSpec(), layers=(LayerSpec(value, value),), features=(value,)))
    assert outside_limits(fixed) == [] and validate(fixed) == (fixed, [])
    fixed, _ = validate(RunSpec(data=DataSpec(problem=value, dataset=value), init=value, loss=value))
    assert validate(fixed) == (fixed, [])


@pytest.mark.parametrize("value", ODD_VALUES, ids=lambda v: type(v).__name__)
def test_images_validate_never_raises_on_odd_values(value):
    for name in IMAGE_TRAIN_FIELDS:
        fixed, notes = I.validate(ImageSpec(train=dataclasses.replace(ImageTrainSpec(), **{name: value})))
        assert outside_limits(fixed) == [] and I.validate(fixed) == (fixed, [])
        assert all(len(note) < 300 for note in notes), notes
    for kind, fields in IMAGE_LAYER_FIELDS.items():
        layer = ImageLayer(kind, **{name: value for name in fields}, activation=value)
        fixed, notes = I.validate(ImageSpec((layer,), data=value, seed=value))
        assert outside_limits(fixed) == [] and I.validate(fixed) == (fixed, [])
        assert all(len(note) < 300 for note in notes), notes
    fixed, _ = I.validate(ImageSpec((ImageLayer(value),), ImageTrainSpec(optimizer=value, schedule=value)))
    assert I.validate(fixed) == (fixed, [])


# ---- reading and writing numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [("12", 12), (" -3 ", -3), ("+7", 7), ("0.5", 0.5), (".5", 0.5), ("5.", 5.0), ("1e3", 1000.0), ("1E-5", 1e-5),
     ("9" * 400, int("9" * 400)), ("9" * 4000, int("9" * 4000)), ("1e999", math.inf), ("-1e999", -math.inf),
     ("inf", math.inf), ("-Infinity", -math.inf), ("١٢", None), ("²", None), ("𝟙", None), ("1_000", None),
     ("0x10", None), ("1,5", None), ("", None), ("  ", None), ("e5", None), ("1e", None), ("--1", None),
     ("abc", None), ("1 2", None), ("\x00", None)],
)
def test_parse_number_reads_plain_ascii_numbers_only(text, expected):
    assert parse_number(text) == expected and type(parse_number(text)) is type(expected)


def test_parse_number_of_more_digits_than_int_allows():
    assert parse_number("9" * 5000) == math.inf  # a float: int() would refuse more than 4300 digits
    assert math.isnan(parse_number("nan")) and math.isnan(parse_number("-NaN"))


def test_show_never_writes_a_huge_number():
    assert show(10**400) == "a 401-digit number" and show(-(10**400)) == "a negative 401-digit number"
    assert "more than" in show(10**50000)
    assert show(7) == "7" and show(0.5) == "0.5" and show("x" * 100).endswith("...'") and len(show("x" * 100)) < 50
    assert len(show([10**5000])) < 50


# ---- widgets: every number widget of both pages offers its row's range -------------------------------

TIMEOUT = 60
# widget label -> table row ('^...$': a pattern, for the per-layer inputs)
WIDGETS_2D = {
    "Training data (%)": "train_percent", "Noise (%)": "noise", "Seed": "seed", "Batch size": "batch_size",
    "Momentum": "momentum", "Adam β₁": "beta1", "Adam β₂": "beta2", "Weight decay": "weight_decay",
    "Learning rate": "learning_rate", "Regularization rate": "regularization_rate", r"^Layer \d+$": "units",
}
WIDGETS_IMAGES = {
    "Filters": "filters", "Kernel": "kernel", "Stride": "stride", "Padding": "padding", "Window": "window",
    "Units": "units", "Rate": "rate", "Batch size": "batch_size", "Epochs": "epochs", "Seed": "seed",
    "Weight decay": "weight_decay", "Weight decay (L2)": "weight_decay", "Momentum": "momentum",
    "Adam β₁": "beta1", "Adam β₂": "beta2", "Learning rate": "learning_rate",
}
ALL_KINDS = "conv8k3s2p1-relu,maxpool2,avgpool1,batchnorm,flatten,dense16-relu,dropout0.5,dense10"


def open_page(params: dict, images: bool) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    if images:
        at.switch_page("pages/images.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    _close_job(at)
    return at


def _close_job(at: AppTest) -> None:
    from playground.ui.session import job_manager

    for key in ("playground_session", "images_session"):
        if key in at.session_state and at.session_state[key].job_id:
            job_manager().close(at.session_state[key].job_id)


def number_widgets(at: AppTest, table: dict[str, Limit], labels: dict[str, str], tighter: dict | None = None) -> dict:
    """Check every slider, number input and select slider against its row (`tighter`: row -> an upper
    end the page may set below the row's, such as the 2-D training set); returns label -> row seen."""
    seen = {}
    tighter = tighter or {}

    def row_of(label: str) -> Limit:
        matches = [row for key, row in labels.items() if key == label or (key[0] == "^" and re.match(key, label))]
        assert len(matches) == 1, f"the number widget {label!r} has no row of the limits table in this test"
        seen[label] = matches[0]
        return table[matches[0]]

    for widget in [*at.slider, *at.number_input]:
        limit = row_of(widget.label)
        hi = tighter.get(seen[widget.label], limit.hi)
        assert hi <= limit.hi and (widget.min, widget.max) == (limit.lo, hi), (widget.label, widget.min, widget.max, limit)
        assert widget.step == limit.step, (widget.label, widget.step, limit)
    for widget in at.select_slider:
        limit = row_of(widget.label)
        assert (widget.options[0], widget.options[-1]) == (f"{limit.lo:g}", f"{limit.hi:g}"), (widget.label, limit)
    return seen


def test_every_number_widget_of_the_2d_page_offers_its_rows_range():
    seen = {}
    # regression at 90 %: the batch slider reaches the row's top (the largest training set)
    at = open_page({"problem": "regression", "percTrainData": "90", "optimizer": "sgd",
                    "networkShape": ",".join(["3"] * LIMITS["hidden_layers"].hi)}, images=False)
    assert at.session_state["playground_session"].spec.data.num_train == LIMITS["batch_size"].hi
    seen |= number_widgets(at, LIMITS, WIDGETS_2D)
    assert len([w for w in at.number_input if w.label.startswith("Layer ")]) == LIMITS["hidden_layers"].hi
    at = open_page({"optimizer": "adamw"}, images=False)
    seen |= number_widgets(at, LIMITS, WIDGETS_2D, {"batch_size": 250})  # half of 500 points
    assert set(seen.values()) == set(WIDGETS_2D.values())  # every row the page edits was looked at


def test_the_2d_batch_slider_ends_at_the_training_set():
    at = open_page({"percTrainData": "20"}, images=False)
    (batch,) = [s for s in at.slider if s.label == "Batch size"]
    assert (batch.min, batch.max) == (LIMITS["batch_size"].lo, 100)  # 20 % of 500 points


def test_every_number_widget_of_the_images_page_offers_its_rows_range():
    seen = {}
    seen |= number_widgets(open_page({"layers": ALL_KINDS, "optimizer": "sgd"}, images=True), IMAGE_LIMITS, WIDGETS_IMAGES)
    seen |= number_widgets(open_page({"layers": ALL_KINDS, "optimizer": "adamw"}, images=True), IMAGE_LIMITS,
                           WIDGETS_IMAGES)
    assert set(seen.values()) == set(WIDGETS_IMAGES.values())
    assert {"Weight decay", "Weight decay (L2)"} <= set(seen)


@pytest.mark.parametrize("images", [False, True], ids=["2-D", "Images"])
def test_a_momentum_above_the_old_slider_end_opens(images):
    """Regression: the momentum slider stopped at 0.99, so momentum=0.995 (valid: up to 0.999) raised
    StreamlitValueAboveMaxError on both pages."""
    at = open_page({"optimizer": "sgd", "momentum": "0.995"}, images)
    session = at.session_state["images_session" if images else "playground_session"]
    assert session.spec.train.momentum == 0.995 and session.link_notes == []
    (momentum,) = [s for s in at.slider if s.label == "Momentum"]
    assert momentum.value == 0.995
