"""Importing TensorFlow Playground links: settings carried over, everything else explained."""

from __future__ import annotations

import zlib

import pytest

from playground.spec import DataSpec, LayerSpec, RunSpec, TrainSpec, ViewSpec, validate
from playground.tfp_import import import_link, tfp_seed_to_int, translate

TFP_LINK = (
    "https://playground.tensorflow.org/#activation=relu&batchSize=10&dataset=spiral&regDataset=reg-plane"
    "&learningRate=0.03&regularizationRate=0.001&noise=15&networkShape=6,4&seed=0.80082&showTestData=true"
    "&discretize=true&percTrainData=60&x=true&y=true&xTimesY=true&xSquared=false&ySquared=false&cosX=false"
    "&sinX=true&cosY=false&sinY=false&collectStats=false&problem=classification&initZero=false&hideText=false"
)
# TF Playground's own default link (regularization 'none' is left out of its links).
TFP_DEFAULT = (
    "https://playground.tensorflow.org/#activation=tanh&batchSize=10&dataset=circle&regDataset=reg-plane"
    "&learningRate=0.03&regularizationRate=0&noise=0&networkShape=4,2&seed=0.59624&showTestData=false"
    "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false"
    "&cosX=false&sinX=false&cosY=false&sinY=false&collectStats=false&problem=classification"
    "&initZero=false&hideText=false"
)

EXPECTED = RunSpec(
    data=DataSpec(problem="classification", dataset="spiral", reg_dataset="reg-plane", noise=15, train_percent=60,
                  seed=tfp_seed_to_int("0.80082")),
    features=("x", "y", "xTimesY", "sinX"),
    layers=(LayerSpec(6, "relu"), LayerSpec(4, "relu")),
    init="default",
    loss="bce",
    train=TrainSpec(learning_rate=0.03, batch_size=10, regularization="none", regularization_rate=0.001),
    view=ViewSpec(show_test_data=True, discretize=True),
)


def test_real_link_gives_exactly_its_settings():
    spec, notes = import_link(TFP_LINK)
    assert spec == EXPECTED
    assert validate(spec) == (spec, [])
    joined = "\n".join(notes)
    assert "seed" in joined and "0.80082" in joined and str(spec.data.seed) in joined
    assert "cross-entropy" in joined  # the loss differs from TF Playground's
    # display-only settings and features switched off are converted silently
    for quiet in ("hideText", "collectStats", "cosX", "cosY"):
        assert quiet not in joined


def test_tfp_default_link():
    spec, notes = import_link(TFP_DEFAULT)
    assert spec == RunSpec(data=DataSpec(seed=tfp_seed_to_int("0.59624")))
    assert len(notes) == 2  # the seed and the loss


def test_bare_fragment_works():
    fragment = TFP_LINK.split("#", 1)[1]
    assert import_link("#" + fragment) == import_link(TFP_LINK)
    assert import_link(fragment)[0] == EXPECTED


def test_seed_converts_deterministically():
    a = tfp_seed_to_int("0.80082")
    assert a == tfp_seed_to_int("0.80082") == tfp_seed_to_int(" 0.80082 ")
    assert a == zlib.crc32(b"0.80082") & 0x7FFFFFFF
    assert 0 <= a < 2**31
    assert a != tfp_seed_to_int("0.80083")
    assert tfp_seed_to_int("42") == 42  # a whole number stays itself
    assert 0 <= tfp_seed_to_int(str(2**40)) < 2**31
    assert import_link(TFP_LINK)[0].data.seed == import_link(TFP_LINK)[0].data.seed == a


def test_seed_is_carried_into_our_parameters():
    params, _ = translate(TFP_LINK)
    assert params["seed"] == str(tfp_seed_to_int("0.80082"))
    assert "hideText" not in params and "collectStats" not in params and "cosX" not in params


@pytest.mark.parametrize("feature", ["cosX", "cosY"])
def test_unsupported_feature_switched_on_is_listed(feature):
    spec, notes = import_link(TFP_LINK.replace(f"{feature}=false", f"{feature}=true"))
    assert spec == EXPECTED
    assert any(n.startswith(f"{feature}:") and "not offered" in n for n in notes)


def test_regression_link():
    link = ("https://playground.tensorflow.org/#activation=linear&batchSize=30&dataset=circle&regDataset=reg-gauss"
            "&learningRate=0.1&regularizationRate=0.01&regularization=L2&noise=5&networkShape=&seed=7"
            "&percTrainData=70&x=true&y=true&problem=regression&initZero=true")
    spec, notes = import_link(link)
    assert spec.data == DataSpec(problem="regression", reg_dataset="reg-gauss", noise=5, train_percent=70, seed=7)
    assert spec.loss == "mse" and spec.layers == () and spec.init == "zeros"
    assert spec.train == TrainSpec(learning_rate=0.1, batch_size=30, regularization="L2", regularization_rate=0.01)
    assert not any("cross-entropy" in n for n in notes)


def test_unknown_parameter_is_listed():
    spec, notes = import_link("https://playground.tensorflow.org/#dataset=xor&tutorial=neurons&wobble=3")
    assert spec.data.dataset == "xor"
    assert any("'wobble'" in n for n in notes)
    assert not any("tutorial" in n for n in notes)


@pytest.mark.parametrize(
    "link",
    [
        "garbage text",
        "",
        "   ",
        "https://playground.tensorflow.org/",
        "#",
        "activation=softmax",
        "networkShape=99",
        "networkShape=4,,x,-3",
        "learningRate=fast&noise=-5&batchSize=0",
        "seed=" + "9" * 1000,
        "%%%&&&===",
        "https://playground.tensorflow.org/#" + "x" * 5000,
    ],
)
def test_malformed_links_never_raise_and_explain(link):
    spec, notes = import_link(link)
    assert validate(spec) == (spec, [])
    assert notes and all(isinstance(n, str) and n for n in notes)


def test_empty_link_says_nothing_was_found():
    spec, notes = import_link("")
    assert spec == RunSpec()
    assert notes == ["No settings found in that link: paste the whole address, including its '#' part."]


def test_softmax_activation_is_replaced_with_a_note():
    spec, notes = import_link("https://playground.tensorflow.org/#activation=softmax")
    assert all(layer.activation == "tanh" for layer in spec.layers)
    assert any("softmax" in n for n in notes)


def test_oversized_layer_is_clamped_with_a_note():
    spec, notes = import_link("https://playground.tensorflow.org/#networkShape=99")
    assert spec.layers == (LayerSpec(64, "tanh"),)
    assert any("99" in n and "64" in n for n in notes)


def test_garbage_text_gives_defaults():
    spec, notes = import_link("garbage text")
    assert spec == RunSpec()
    assert any("garbage text" in n for n in notes)
