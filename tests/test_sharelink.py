"""Share links: every valid spec survives a round trip; no text can make decode raise."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground import spec as S
from playground import tfp_import
from playground.images.spec import LAYER_KINDS
from playground.images.spec import validate as validate_image
from playground.sharelink import (
    IMAGE_PARAMS,
    KNOWN_PARAMS,
    decode,
    decode_image,
    encode,
    encode_image,
    parse_layer,
    parse_link,
    to_query,
)
from playground.spec import DataSpec, LayerSpec, RunSpec, TrainSpec, ViewSpec, validate
from tests.test_limits import outside_limits

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


# ---- fuzzing both pages' links -----------------------------------------------------------------------
# Values of any size (hundreds of digits, '1e999'), any text, unicode digits, repeated keys: decoding
# never raises, and what it gives is within the limits tables, validates to itself and round-trips.

FUZZ = settings(max_examples=250, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PAGES = {  # name -> (decode, encode, the page's parameter names)
    "2-D": (decode, encode, KNOWN_PARAMS),
    "Images": (decode_image, encode_image, IMAGE_PARAMS),
}
SPECIAL_NUMBERS = ["", " ", "nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "1e999", "-1e999", "1e-999",
                   "1e309", "0x10", "1_000", "1,5", "abc", "٣", "١٢", "²", "𝟙", "Ⅻ", " 7 ", "\t8\n", "+0", "-0", "-0.0",
                   ".5", "5.", "1e", "e5", "--1", "0.995", "0.9999", "0.99999", "2147483647", "2147483648", "1080"]
digit_text = st.text("0123456789", min_size=1, max_size=600)
# Hypothesis favours short text and small integers: draw the lengths that matter on purpose (beyond
# int64, beyond a float at 309 digits, around MAX_VALUE_CHARS = 500).
DIGIT_COUNTS = [10, 11, 16, 19, 20, 40, 300, 308, 309, 310, 400, 450, 498, 499, 500, 501, 600]
long_digits = st.builds(lambda sign, lead, rest, count: sign + lead + rest * (count - 1),
                        st.sampled_from(["", "", "-", "+"]), st.sampled_from("123456789"),
                        st.sampled_from("0123456789"), st.sampled_from(DIGIT_COUNTS))
other_digits = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=4)  # '١٢', '²', 'Ⅻ'
number_text = st.one_of(
    long_digits,
    long_digits,
    other_digits,
    st.integers(-(10**600), 10**600).map(str),  # hundreds of digits, either sign
    st.integers(-2000, 2000).map(str),
    digit_text,
    st.tuples(st.sampled_from(["", "-", "+"]), digit_text,
              st.sampled_from(["", ".", ".5", "e999", "e-999", "e+3", "e-400"])).map("".join),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-2, max_value=2).map(str),
    st.sampled_from(SPECIAL_NUMBERS),
)
CHOICE_WORDS = ["true", "false", "1", "0", "TRUE", "sgd", "adam", "adamw", "rmsprop", "adagrad", "relu", "tanh",
                "linear", "softmax", "circle", "spiral", "reg-gauss", "regression", "classification", "mse", "bce",
                "huber", "L1", "L2", "none", "step", "cosine", "subset", "full", "he", "zeros"]
layer_token = st.one_of(
    st.tuples(
        st.sampled_from([*LAYER_KINDS, "lstm", "CONV", ""]),
        st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=450), number_text,
                  st.sampled_from(["١٢", "1.5", "0.5", "1e999", "1e-999"])),
        st.sampled_from(["", "k3", "k" + "9" * 300, "k٣", "s2p1", "k3s9p9", "p" + "1" * 100]),
        st.sampled_from(["", "-relu", "-tanh", "-nope", "-", "-RELU"]),
    ).map("".join),
    st.text(max_size=12),
)
link_value = st.one_of(
    number_text,
    st.lists(number_text, min_size=1, max_size=10).map(",".join),  # networkShape, activations
    st.lists(layer_token, max_size=20).map(",".join),  # layers
    st.sampled_from(CHOICE_WORDS),
    st.lists(st.sampled_from(CHOICE_WORDS), min_size=1, max_size=9).map(",".join),
    st.text(),
    st.text(min_size=495, max_size=510),  # around MAX_VALUE_CHARS
)


def link_pairs(page: str):
    """(name, value) pairs, names repeating at will: mostly the page's own names, some of any text."""
    names = st.one_of(st.sampled_from(PAGES[page][2]), st.sampled_from(PAGES[page][2]), st.text(max_size=12))
    return st.lists(st.tuples(names, link_value), max_size=16)


def as_lists(pairs) -> dict[str, list[str]]:
    """What parse_qs gives: every name with the list of its values, in order."""
    params: dict[str, list[str]] = {}
    for name, value in pairs:
        params.setdefault(name, []).append(value)
    return params


def check_decoded(page: str, params) -> tuple:
    """Decode, then assert everything a decoded spec promises; returns (spec, notes)."""
    decoder, encoder, _ = PAGES[page]
    spec, notes = decoder(params)
    assert all(isinstance(n, str) and 0 < len(n) < 300 for n in notes), notes
    assert outside_limits(spec) == []
    assert (validate if page == "2-D" else validate_image)(spec) == (spec, [])
    link = encoder(spec)
    assert all(isinstance(v, str) for v in link.values())
    assert decoder(link) == (spec, [])  # exactly, without a note
    assert decoder(parse_link("http://localhost:8501/?" + urlencode(link, safe=","))) == (spec, [])
    return spec, notes


@FUZZ
@given(st.data())
@pytest.mark.parametrize("page", list(PAGES))
def test_any_link_decodes_within_limits_and_round_trips(page, data):
    pairs = data.draw(link_pairs(page))
    spec, notes = check_decoded(page, as_lists(pairs))  # as parse_qs gives them
    repeated = {name for name, values in as_lists(pairs).items() if len(values) > 1}
    for name in repeated:
        assert any(note.startswith(f"{name!r} was given") for note in notes), (name, notes)
    # The same parameters as a pasted link (repeats and all) decode to the same spec.
    query = urlencode(pairs)
    params = parse_link("?" + query)
    assert {name: values if len(values) > 1 else values[0] for name, values in as_lists(pairs).items()} == params
    assert check_decoded(page, params) == (spec, notes)


@FUZZ
@given(st.data())
@pytest.mark.parametrize("page", list(PAGES))
def test_any_values_of_the_pages_own_names(page, data):
    params = data.draw(st.dictionaries(st.sampled_from(PAGES[page][2]), link_value, max_size=16))
    check_decoded(page, params)


@FUZZ
@given(st.dictionaries(st.text(), st.one_of(st.text(), st.lists(st.text(), max_size=3))))
@pytest.mark.parametrize("page", list(PAGES))
def test_any_text_at_all(page, params):
    check_decoded(page, params)


# TF Playground's seed is read before any length limit: up to past int()'s 4300 digits.
tfp_value = st.one_of(link_value, st.sampled_from([4299, 4300, 4301, 6000]).map(lambda n: "7" * n))


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(tfp_import.PASSED + ("seed", "cosX", "hideText")), tfp_value), max_size=16),
       st.sampled_from(["https://playground.tensorflow.org/#", "#", "", "?x=1#"]))
def test_any_tensorflow_playground_link_imports_within_limits(pairs, prefix):
    spec, notes = tfp_import.import_link(prefix + urlencode(pairs))
    assert all(isinstance(n, str) and 0 < len(n) < 300 for n in notes), notes
    assert outside_limits(spec) == [] and validate(spec) == (spec, [])
    assert decode(encode(spec)) == (spec, [])


@FUZZ
@given(st.text())
def test_any_text_pasted_as_a_tensorflow_playground_link(text):
    spec, notes = tfp_import.import_link(text)
    assert notes and outside_limits(spec) == [] and validate(spec) == (spec, [])


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


# ---- numbers of any size and spelling ----------------------------------------------------------------


def test_network_shape_with_hundreds_of_digits_is_clamped_with_a_note():
    """Regression: '/?networkShape=' and 400 digits raised 'int too large to convert to float' in spec._whole."""
    spec, notes = decode(parse_link("/?networkShape=" + "9" * 400 + ",2"))
    assert [layer.units for layer in spec.layers] == [S.MAX_UNITS, 2]
    assert notes == ["Neurons in layer 1: a 400-digit number is outside 1–64; using 64."]
    spec, notes = decode({"networkShape": "-" + "9" * 400})
    assert [layer.units for layer in spec.layers] == [1] and "negative 400-digit" in notes[0]


@pytest.mark.parametrize("name", ["seed", "noise", "batchSize", "percTrainData"])
def test_whole_numbers_with_hundreds_of_digits_are_clamped_to_the_top(name):
    spec, notes = decode({name: "9" * 450})
    assert encode(spec)[name] != encode(DEFAULT)[name] or name == "batchSize"
    assert len(notes) == 1 and "450-digit number is outside" in notes[0], notes


@pytest.mark.parametrize("name", ["learningRate", "momentum", "beta1", "weightDecay", "regularizationRate"])
def test_real_numbers_with_hundreds_of_digits_are_clamped(name):
    spec, notes = decode({name: "9" * 450})
    assert len(notes) == 1 and "450-digit number is outside" in notes[0], notes
    assert validate(spec) == (spec, [])


def test_a_number_too_large_for_a_float_keeps_the_default_with_a_note():
    spec, notes = decode({"learningRate": "1e999", "noise": "-1e999"})
    assert spec == DEFAULT
    assert notes == ["noise: '-1e999' is too large to be a finite number; using 0.",
                     "learningRate: '1e999' is too large to be a finite number; using 0.03."]


@pytest.mark.parametrize("text", ["١٢", "²", "𝟙", "1_000", "0x10", "12abc"])
def test_numbers_must_be_plain_ascii(text):
    """int() and float() read '١٢' as 12 and '1_000' as 1000; a link's number is plain digits only."""
    spec, notes = decode({"noise": text, "networkShape": text})
    assert spec.data.noise == 0 and spec.layers == ()
    assert len(notes) == 2 and all(repr(text) in n for n in notes), notes


def test_value_length_limit_is_exact():
    from playground.sharelink import MAX_VALUE_CHARS

    spec, notes = decode({"seed": "0" * (MAX_VALUE_CHARS - 1) + "7"})
    assert spec.data.seed == 7 and notes == []
    spec, notes = decode({"seed": "0" * MAX_VALUE_CHARS + "7"})
    assert spec.data.seed == 0 and notes == [f"seed: value too long ({MAX_VALUE_CHARS + 1} characters); ignored."]


def test_empty_values_are_noted():
    spec, notes = decode(parse_link("?noise=&dataset=&showTestData=&learningRate="))
    assert spec == DEFAULT
    assert len(notes) == 4 and all("''" in n for n in notes), notes


def test_many_unknown_parameters_give_a_bounded_number_of_notes():
    spec, notes = decode({f"p{i}": "1" for i in range(1000)})
    assert spec == DEFAULT
    assert len(notes) == 11 and notes[-1] == "990 more unknown parameters ignored."


def test_values_that_cannot_be_written_as_text_are_ignored():
    spec, notes = decode({"seed": 10**5000, 10**5000: "1", "noise": [3, 10**5000]})
    assert spec == DEFAULT and len(notes) == 3


@pytest.mark.parametrize(
    "token, expected",
    [("conv" + "9" * 400 + "k3-relu", "Layer 1 (conv) size: a 400-digit number is outside 1–256; using 256."),
     ("dense10k" + "9" * 300, None),  # 'k' is for conv only: the kernel is not read
     ("conv8k" + "9" * 300, "Layer 1 (conv) kernel: a 300-digit number is outside 1–11; using 11."),
     ("maxpool" + "9" * 400, "Layer 1 (maxpool) window: a 400-digit number is outside 1–8; using 8.")],
)
def test_image_layers_with_hundreds_of_digits_are_clamped(token, expected):
    spec, notes = decode_image({"layers": token})
    assert len(spec.layers) == 1
    assert notes == ([expected] if expected else [])


@pytest.mark.parametrize("token", ["dropout1e999", "conv١٢", "dense٣", "conv1.5", "conv32k٣", "dense" + "9" * 5000])
def test_image_layer_tokens_that_are_not_numbers_are_dropped(token):
    assert parse_layer(token) is None  # 5000 digits: more than int() reads; never that long in a link
    if len(token) < 400:
        spec, notes = decode_image({"layers": token + ",flatten"})
        assert [layer.kind for layer in spec.layers] == ["flatten"] and len(notes) == 1 and "is not a layer" in notes[0]


@pytest.mark.parametrize("seed", ["²", "١٢", "9" * 5000, "\udc80", "2147483648", "-5"])
def test_tensorflow_playground_seeds_of_any_text(seed):
    """Regression: a seed of '²' (str.isdigit() but not int()) or of 5000 digits raised ValueError."""
    value = tfp_import.tfp_seed_to_int(seed)
    assert 0 <= value <= S.SEED_RANGE[1]
    spec, notes = tfp_import.import_link("#seed=" + seed)
    assert spec.data.seed == tfp_import.tfp_seed_to_int(seed) and validate(spec) == (spec, [])
