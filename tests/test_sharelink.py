"""Share links: every valid spec survives a round trip; no text can make decode raise."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import spec as S
from playground.sharelink import KNOWN_PARAMS, decode, encode, parse_link, to_query
from playground.spec import DataSpec, LayerSpec, RunSpec, TrainSpec, ViewSpec, validate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _floats(lo: float, hi: float):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


@st.composite
def run_specs(draw) -> RunSpec:
    """Any spec within the limits spec.py documents (so validate leaves it unchanged)."""
    problem = draw(st.sampled_from(S.PROBLEMS))
    data = DataSpec(
        problem=problem,
        dataset=draw(st.sampled_from(S.CLASSIFY_DATASETS)),
        reg_dataset=draw(st.sampled_from(S.REGRESS_DATASETS)),
        noise=draw(st.integers(*S.NOISE_RANGE)),
        train_percent=draw(st.integers(*S.TRAIN_PERCENT_RANGE)),
        seed=draw(st.integers(*S.SEED_RANGE)),
    )
    features = tuple(f for f in S.FEATURES if draw(st.booleans()))
    if not features:
        features = (draw(st.sampled_from(S.FEATURES)),)
    layers = tuple(
        LayerSpec(draw(st.integers(1, S.MAX_UNITS)), draw(st.sampled_from(S.ACTIVATIONS)))
        for _ in range(draw(st.integers(0, S.MAX_HIDDEN_LAYERS)))
    )
    optimizer = draw(st.sampled_from(S.OPTIMIZERS))
    momentum = draw(st.one_of(st.just(0.0), _floats(*S.MOMENTUM_RANGE)))
    train = TrainSpec(
        learning_rate=draw(_floats(*S.LEARNING_RATE_RANGE)),
        batch_size=draw(st.integers(1, data.num_train)),
        optimizer=optimizer,
        momentum=momentum,
        nesterov=optimizer == "sgd" and momentum > 0 and draw(st.booleans()),
        beta1=draw(_floats(*S.BETA_RANGE)),
        beta2=draw(_floats(*S.BETA_RANGE)),
        weight_decay=draw(_floats(*S.WEIGHT_DECAY_RANGE)),
        regularization=draw(st.sampled_from(S.REGULARIZATIONS)),
        regularization_rate=draw(_floats(*S.REG_RATE_RANGE)),
    )
    losses = S.CLASSIFY_LOSSES if problem == "classification" else S.REGRESS_LOSSES
    return RunSpec(
        data=data,
        features=features,
        layers=layers,
        init=draw(st.sampled_from(S.INITS)),
        loss=draw(st.sampled_from(losses)),
        train=train,
        view=ViewSpec(draw(st.booleans()), draw(st.booleans())),
    )


# ---- properties ---------------------------------------------------------------------------------


@SETTINGS
@given(run_specs())
def test_strategy_only_makes_valid_specs(spec):
    assert validate(spec) == (spec, [])


@SETTINGS
@given(run_specs())
def test_round_trip(spec):
    params = encode(spec)
    assert decode(params) == (spec, [])
    assert encode(decode(params)[0]) == params
    assert set(params) <= set(KNOWN_PARAMS)
    assert all(isinstance(v, str) for v in params.values())


@SETTINGS
@given(run_specs())
def test_round_trip_through_the_link_text(spec):
    link = "http://localhost:8501/?" + to_query(spec)
    assert decode(parse_link(link)) == (spec, [])


@SETTINGS
@given(st.dictionaries(st.text(), st.text()))
def test_decode_never_raises_on_any_text(params):
    spec, notes = decode(params)
    assert isinstance(spec, RunSpec)
    assert all(isinstance(n, str) and n for n in notes)
    assert validate(spec) == (spec, [])


@SETTINGS
@given(st.dictionaries(st.sampled_from(KNOWN_PARAMS), st.text(max_size=30), max_size=12))
def test_decode_never_raises_on_known_names_with_any_values(params):
    spec, _ = decode(params)
    assert validate(spec) == (spec, [])


number_text = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "nan", "inf", "-inf", "1e309", "-1e309", "0x10", "1_000", "1,5", "abc", "٣"]),
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(KNOWN_PARAMS), number_text, max_size=12))
def test_decode_never_raises_on_numeric_looking_values(params):
    spec, _ = decode(params)
    assert validate(spec) == (spec, [])


@SETTINGS
@given(st.dictionaries(st.text(), st.lists(st.text(), max_size=3)))
def test_decode_accepts_lists_of_values(params):
    spec, _ = decode(params)
    assert validate(spec) == (spec, [])


# ---- specific links -------------------------------------------------------------------------------

DEFAULT = RunSpec()


def test_empty_link_gives_the_defaults_without_notes():
    assert decode({}) == (DEFAULT, [])


def test_tf_playground_style_names():
    spec, notes = decode(
        {"dataset": "xor", "networkShape": "4,2", "learningRate": "0.03", "activation": "relu", "noise": "20",
         "percTrainData": "70", "batchSize": "5", "x": "true", "y": "false", "xTimesY": "true",
         "regularization": "L2", "regularizationRate": "0.001", "showTestData": "true", "discretize": "1"}
    )
    assert notes == []
    assert spec.data == DataSpec(dataset="xor", noise=20, train_percent=70)
    assert spec.features == ("x", "xTimesY")
    assert spec.layers == (LayerSpec(4, "relu"), LayerSpec(2, "relu"))
    assert spec.train == replace(TrainSpec(), learning_rate=0.03, batch_size=5, regularization="L2",
                                 regularization_rate=0.001)
    assert spec.view == ViewSpec(True, True)


def test_learning_rate_not_a_number():
    spec, notes = decode({"learningRate": "abc"})
    assert spec == DEFAULT
    assert len(notes) == 1 and "learningRate" in notes[0] and "'abc'" in notes[0] and "0.03" in notes[0]


def test_network_shape_with_a_bad_item_drops_that_layer():
    spec, notes = decode({"networkShape": "4,x,2"})
    assert [layer.units for layer in spec.layers] == [4, 2]
    assert len(notes) == 1 and "networkShape" in notes[0] and "'x'" in notes[0] and "dropped" in notes[0]


def test_noise_overflowing_float():
    spec, notes = decode({"noise": "1e309"})
    assert spec.data.noise == 0
    assert len(notes) == 1 and "noise" in notes[0] and "finite" in notes[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_learning_rate(value):
    spec, notes = decode({"learningRate": value})
    assert spec.train.learning_rate == 0.03
    assert len(notes) == 1 and "learningRate" in notes[0]


def test_huge_values_are_clamped_with_notes():
    spec, notes = decode({"learningRate": "1e300", "batchSize": "99999999999", "networkShape": "1000,2",
                          "seed": "1e20", "noise": "500", "percTrainData": "1000000"})
    assert spec.train.learning_rate == 10.0
    assert spec.data.noise == 50 and spec.data.train_percent == 90
    assert spec.train.batch_size == spec.data.num_train == 450
    assert spec.layers[0].units == 64
    assert spec.data.seed == 2**31 - 1
    joined = "\n".join(notes)
    for word in ("Learning rate", "Batch size", "Neurons in layer 1", "Seed", "Noise", "Training data"):
        assert word in joined


def test_fractional_whole_numbers_are_rounded_with_a_note():
    spec, notes = decode({"batchSize": "7.6"})
    assert spec.train.batch_size == 8
    assert len(notes) == 1 and "batchSize" in notes[0] and "whole number" in notes[0]


def test_too_long_value_is_ignored():
    spec, notes = decode({"dataset": "spiral" * 100})
    assert spec.data.dataset == "circle"
    assert len(notes) == 1 and "too long" in notes[0]


def test_too_many_layers_in_the_list():
    spec, notes = decode({"networkShape": ",".join(["2"] * 65)})
    assert spec.layers == DEFAULT.layers
    assert any("more than 64" in n for n in notes)


def test_more_than_eight_layers():
    spec, notes = decode({"networkShape": ",".join(["3"] * 10)})
    assert spec.layers == tuple(LayerSpec(3, "tanh") for _ in range(8))
    assert any("8 hidden layers" in n for n in notes)


def test_unknown_parameters_are_noted_but_streamlit_ones_are_not():
    spec, notes = decode({"colour": "red", "embed": "true", "embed_options": "dark_theme"})
    assert spec == DEFAULT
    assert notes == ["Unknown parameter 'colour' ignored."]


def test_unknown_choice_values_are_noted():
    spec, notes = decode({"dataset": "donut", "activation": "softmax", "optimizer": "lbfgs"})
    assert spec.data.dataset == "circle" and spec.train.optimizer == "sgd"
    assert all(layer.activation == "tanh" for layer in spec.layers)
    joined = "\n".join(notes)
    assert "donut" in joined and "softmax" in joined and "lbfgs" in joined


def test_bad_flag_is_noted():
    spec, notes = decode({"showTestData": "yes", "x": "maybe"})
    assert spec.view.show_test_data is False
    assert spec.features == ("x", "y")  # x falls back to its default, which is on
    assert len(notes) == 2
    assert any("showTestData" in n and "'yes'" in n for n in notes)
    assert any(n.startswith("x:") and "'maybe'" in n for n in notes)


def test_activations_count_mismatch_uses_the_common_one():
    spec, notes = decode({"networkShape": "3,3,3", "activation": "relu", "activations": "elu,sigmoid"})
    assert [layer.activation for layer in spec.layers] == ["elu", "sigmoid", "relu"]
    assert len(notes) == 1 and "activations" in notes[0] and "2 given for 3 layers" in notes[0]


def test_activations_too_many():
    spec, notes = decode({"networkShape": "5", "activations": "elu,sigmoid"})
    assert spec.layers == (LayerSpec(5, "elu"),)
    assert len(notes) == 1 and "activations" in notes[0]


def test_per_layer_activations():
    spec, notes = decode({"networkShape": "3,2", "activations": "relu,gelu"})
    assert notes == []
    assert spec.layers == (LayerSpec(3, "relu"), LayerSpec(2, "gelu"))
    params = encode(spec)
    assert params["activations"] == "relu,gelu" and params["activation"] == "relu"


def test_blank_network_shape_means_no_hidden_layers():
    spec, notes = decode({"networkShape": ""})
    assert spec.layers == ()
    assert notes == []
    assert encode(spec)["networkShape"] == ""
    assert decode(encode(spec)) == (spec, [])


def test_init_zero_flag_of_tf_playground():
    assert decode({"initZero": "true"})[0].init == "zeros"
    assert decode({"initZero": "false"})[0].init == "default"
    assert decode({"initZero": "true", "init": "he"})[0].init == "he"


def test_regression_default_loss():
    spec, notes = decode({"problem": "regression", "regDataset": "reg-gauss"})
    assert notes == []
    assert spec.loss == "mse" and spec.data.name == "reg-gauss"


def test_loss_not_fitting_the_problem():
    spec, notes = decode({"problem": "regression", "loss": "bce"})
    assert spec.loss == "mse"
    assert len(notes) == 1 and "does not fit" in notes[0]


def test_lists_of_values_use_the_last_with_a_note():
    spec, notes = decode({"dataset": ["xor", "spiral"], "noise": [], "seed": ["4"]})
    assert spec.data.dataset == "spiral" and spec.data.noise == 0 and spec.data.seed == 4
    assert notes == ["'dataset' was given 2 times; using the last one, 'spiral'."]


def test_a_repeated_parameter_in_a_link_uses_the_last_with_a_note():
    params = parse_link("?noise=5&dataset=xor&noise=10&noise=20")
    assert params == {"noise": ["5", "10", "20"], "dataset": "xor"}
    spec, notes = decode(params)
    assert spec.data.noise == 20 and spec.data.dataset == "xor"
    assert notes == ["'noise' was given 3 times; using the last one, '20'."]


def test_encode_writes_every_setting():
    params = encode(DEFAULT)
    assert params["dataset"] == "circle"
    assert params["networkShape"] == "4,2"
    assert params["learningRate"] == "0.03"
    assert params["activation"] == "tanh" and "activations" not in params
    assert params["x"] == "true" and params["sinX"] == "false"
    assert set(KNOWN_PARAMS) - set(params) == {"activations", "initZero"}


def test_query_keeps_commas_readable():
    query = to_query(DEFAULT)
    assert "networkShape=4,2" in query
    assert query.startswith("problem=classification&dataset=circle&")


# ---- parse_link -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "http://localhost:8501/?a=1&b=2",
        "https://example.org/playground?a=1&b=2",
        "?a=1&b=2",
        "#a=1&b=2",
        "a=1&b=2",
        "  https://playground.tensorflow.org/#a=1&b=2  ",
        "http://localhost:8501/#a=1&b=2",
    ],
)
def test_parse_link_forms(text):
    assert parse_link(text) == {"a": "1", "b": "2"}


def test_parse_link_keeps_blank_values_and_decodes_escapes():
    assert parse_link("?networkShape=&dataset=circle") == {"networkShape": "", "dataset": "circle"}
    assert parse_link("a=1%2C2&b=x+y") == {"a": "1,2", "b": "x y"}


def test_parse_link_of_nothing():
    assert parse_link("") == {}
    assert parse_link("   ") == {}
    spec, notes = decode(parse_link("https://playground.tensorflow.org/"))
    assert spec == DEFAULT and len(notes) == 1 and "Unknown parameter" in notes[0]


def test_share_link_with_an_anchor_keeps_its_settings():
    """Clicking a heading's anchor adds '#...' to the address; the settings before it still count."""
    params = parse_link("http://localhost:8501/?dataset=spiral&noise=10#neural-network-playground")
    assert params["dataset"] == "spiral" and params["noise"] == "10"


def test_full_link_decodes():
    query = urlencode({"dataset": "moons", "networkShape": "8,8", "learningRate": "0.1"}, safe=",")
    spec, notes = decode(parse_link(f"http://localhost:8501/?{query}"))
    assert notes == []
    assert spec.data.dataset == "moons" and spec.train.learning_rate == 0.1
    assert [layer.units for layer in spec.layers] == [8, 8]


def test_parse_link_reads_both_query_and_fragment():
    assert parse_link("https://playground.tensorflow.org/?hl=en#dataset=xor&noise=5") == {
        "hl": "en", "dataset": "xor", "noise": "5"}


@pytest.mark.parametrize(
    "page_url, expected",
    [
        ("http://127.0.0.1:8501", "http://127.0.0.1:8501/?dataset=xor&networkShape=4,2"),
        ("http://host:8501/?old=1#frag", "http://host:8501/?dataset=xor&networkShape=4,2"),
        ("https://school.example/playground/images", "https://school.example/playground/images?dataset=xor&networkShape=4,2"),
    ],
)
def test_share_link_is_the_page_address_with_the_settings(page_url, expected):
    from playground.ui.share import link_for

    assert link_for(page_url, {"dataset": "xor", "networkShape": "4,2"}) == expected
