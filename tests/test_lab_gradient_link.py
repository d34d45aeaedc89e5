"""Lab "Gradient descent": its limits table, validate and share links. Valid specs round-trip;
no text, however long, odd or repeated, makes decode raise or escape the limits."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.labs.gradient_descent.link import PARAMS, decode, encode
from playground.labs.gradient_descent.spec import (
    BOXES,
    KINDS,
    LIMITS,
    MODES,
    OPTIMIZERS,
    SURFACES,
    DataSpec,
    GradientSpec,
    TrainSpec,
    validate,
)
from playground.sharelink import parse_link
from playground.spec import Limit

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def number(name: str):
    limit = LIMITS[name]
    if limit.whole:
        return st.integers(limit.lo, limit.hi)
    return st.floats(limit.lo, limit.hi, allow_nan=False, allow_infinity=False)


@st.composite
def specs(draw) -> GradientSpec:
    """Any spec within the limits table (validate leaves it unchanged)."""
    points = draw(number("points"))
    mode, surface = draw(st.sampled_from(MODES)), draw(st.sampled_from(SURFACES))
    start = None
    if draw(st.booleans()):
        x0, x1, y0, y1 = BOXES[surface] if mode == "race" and surface in BOXES else (-10, 10, -10, 10)
        start = (draw(st.floats(x0, x1)) + 0.0, draw(st.floats(y0, y1)) + 0.0)
    return GradientSpec(
        mode=mode,
        data=DataSpec(draw(st.sampled_from(KINDS)), draw(number("w")), draw(number("b")), draw(number("noise")),
                      points, draw(number("degree")), draw(number("seed"))),
        surface=surface,
        start=start,
        train=TrainSpec(
            optimizer=draw(st.sampled_from(OPTIMIZERS)),
            learning_rate=draw(number("learning_rate")),
            batch_size=draw(st.integers(0, points)),
            momentum=draw(number("momentum")),
            beta1=draw(number("beta1")),
            beta2=draw(number("beta2")),
            weight_decay=draw(number("weight_decay")),
            steps=draw(number("steps")),
        ),
    )


def within_limits(spec: GradientSpec) -> list[str]:
    """Every number and choice of a spec checked against LIMITS; what is outside, by name."""
    values = {"mode": spec.mode, "surface": spec.surface, "kind": spec.data.kind, "optimizer": spec.train.optimizer,
              **{k: getattr(spec.data, k) for k in ("w", "b", "noise", "points", "degree", "seed")},
              **{k: getattr(spec.train, k) for k in ("learning_rate", "batch_size", "momentum", "beta1", "beta2",
                                                      "weight_decay", "steps")}}
    if spec.start is not None:
        values["start"] = spec.start
    bad = []
    for name, value in values.items():
        limit = LIMITS[name]
        items = value if name == "start" else (value,)
        for item in items:
            if isinstance(limit, Limit):
                ok = type(item) is (int if limit.whole else float) and limit.lo <= item <= limit.hi
            else:
                ok = item in limit
            if not ok:
                bad.append(name)
    return bad


@SETTINGS
@given(specs())
def test_strategy_makes_valid_specs(spec):
    assert validate(spec) == (spec, [])
    assert within_limits(spec) == []


@SETTINGS
@given(specs())
def test_round_trip(spec):
    params = encode(spec)
    assert set(params) == set(PARAMS) and all(isinstance(v, str) for v in params.values())
    assert decode(params) == (spec, [])
    assert decode(parse_link("http://localhost:8501/gradient_descent?" + urlencode(params, safe=","))) == (spec, [])


def test_empty_link_gives_the_defaults_without_notes():
    assert decode({}) == (GradientSpec(), [])
    assert validate(GradientSpec()) == (GradientSpec(), [])


def test_out_of_range_values_are_clamped_with_notes():
    spec, notes = decode({"learningRate": "1e999", "seed": "9" * 400, "degree": "0", "noise": "-3",
                          "w": "nan", "points": "20", "batchSize": "400", "surface": "himmelblau", "start": "inf,2"})
    assert spec.train.learning_rate == TrainSpec().learning_rate
    assert spec.data.seed == 2**31 - 1 and spec.data.degree == 1 and spec.data.noise == 0.0 and spec.data.w == 2.0
    assert spec.train.batch_size == 0  # more than the points: full batch
    assert spec.surface == "ravine" and spec.start is None
    text = " ".join(notes)
    for word in ("learningRate", "400-digit", "Polynomial degree", "Noise", "w:", "Batch size", "himmelblau", "start"):
        assert word in text, word


def test_a_race_start_outside_the_surface_is_moved_onto_it():
    spec, notes = decode({"mode": "race", "surface": "rosenbrock", "start": "-9,0.5"})
    assert spec.start == (-2.0, 0.5) and any("outside the rosenbrock plot" in n for n in notes)
    fit, notes = decode({"mode": "fit", "surface": "rosenbrock", "start": "-9,0.5"})  # a fit's (w, b) is free
    assert fit.start == (-9.0, 0.5) and notes == []


def test_repeated_keys_use_the_last_with_a_note():
    spec, notes = decode({"optimizer": ["adam", "nesterov"], "steps": ["5", "7"]})
    assert spec.train.optimizer == "nesterov" and spec.train.steps == 7
    assert sum("times" in n for n in notes) == 2


def test_validate_takes_values_of_any_type():
    odd = GradientSpec(mode=None, data=DataSpec(kind=3, w="x", b=[1], points=2.5, seed=-1), surface=b"saddle",
                       start=("a", "b"), train=TrainSpec(optimizer=None, learning_rate=float("inf"), steps=10**500))
    spec, notes = validate(odd)
    assert within_limits(spec) == [] and validate(spec) == (spec, [])
    assert len(notes) >= 9 and all(isinstance(n, str) and len(n) < 300 for n in notes)


# ---- fuzzing --------------------------------------------------------------------------------------

SPECIAL = ["", " ", "nan", "-nan", "inf", "-inf", "Infinity", "1e999", "-1e999", "1e-999", "1e309", "0x10",
           "1_000", "1,5", "٣", "١٢", "²", "𝟙", "Ⅻ", "\t8\n", "-0", "-0.0", ".5", "5.", "1e", "auto", "AUTO",
           "1,2", "1,2,3", ",", "nan,1", "1e999,1", "-0.0,-0.0", "2147483648", "line", "race", "fit", "curve",
           "adamw", "nesterov", "saddle", "beale"]
digits = st.builds(lambda sign, n: sign + "7" * n, st.sampled_from(["", "-", "+"]),
                   st.sampled_from([1, 16, 19, 20, 300, 308, 309, 310, 499, 500, 501, 700]))
value = st.one_of(
    digits,
    st.integers(-(10**600), 10**600).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.one_of(digits, st.floats().map(repr), st.sampled_from(SPECIAL)), min_size=1, max_size=4).map(",".join),
    st.sampled_from(SPECIAL),
    st.text(),
    st.text(min_size=495, max_size=510),
)
pairs = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), st.sampled_from(PARAMS), st.text(max_size=10)), value),
                 max_size=20)


def check(params) -> None:
    spec, notes = decode(params)
    assert all(isinstance(n, str) and 0 < len(n) < 300 for n in notes), notes
    assert within_limits(spec) == []
    assert validate(spec) == (spec, [])
    assert decode(encode(spec)) == (spec, [])
    if spec.start is not None:
        assert all(math.isfinite(v) for v in spec.start)


@FUZZ
@given(pairs)
def test_any_link_decodes_within_limits_and_round_trips(items):
    as_lists: dict[str, list[str]] = {}
    for name, text in items:
        as_lists.setdefault(name, []).append(text)
    check(as_lists)  # as parse_qs gives them (repeated keys)
    check(dict(items))  # plain strings


@FUZZ
@given(st.text(max_size=600))
def test_any_pasted_text(text):
    check(parse_link(text))


@pytest.mark.parametrize("params", [
    {"start": "1" * 4000 + ",1"},
    {"seed": "9" * 5000},
    {"points": 10**5000},  # not text at all: a value that cannot even be printed
    {"w": None, "b": object(), 3: "x"},
])
def test_pathological_values(params):
    check(params)
