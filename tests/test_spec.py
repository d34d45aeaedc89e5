"""validate(): every out-of-range or unknown setting is fixed, and every fix is explained."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from playground.spec import (
    ACTIVATIONS,
    FEATURES,
    MAX_HIDDEN_LAYERS,
    MAX_UNITS,
    DataSpec,
    LayerSpec,
    RunSpec,
    TrainSpec,
    ViewSpec,
    validate,
)

BASE = RunSpec()


def with_data(**kw) -> RunSpec:
    return replace(BASE, data=replace(BASE.data, **kw))


def with_train(**kw) -> RunSpec:
    return replace(BASE, train=replace(BASE.train, **kw))


def one_note(spec: RunSpec) -> tuple[RunSpec, str]:
    fixed, notes = validate(spec)
    assert len(notes) == 1, notes
    return fixed, notes[0]


def test_defaults_are_valid_and_unchanged():
    assert validate(RunSpec()) == (RunSpec(), [])


def test_validate_is_idempotent_on_a_messy_spec():
    messy = RunSpec(
        data=DataSpec(problem="regression", dataset="nope", reg_dataset="reg-gauss", noise=99, train_percent=1, seed=-5),
        features=("sinY", "x", "x", "cosX"),
        layers=tuple(LayerSpec(100, "swish") for _ in range(12)),
        init="orthogonal",
        loss="bce",
        train=TrainSpec(learning_rate=50, batch_size=10_000, optimizer="lbfgs", momentum=2, nesterov=True,
                        beta1=-1, beta2=1.5, weight_decay=3, regularization="L3", regularization_rate=-1),
    )
    fixed, notes = validate(messy)
    assert len(notes) >= 15
    assert validate(fixed) == (fixed, [])


# ---- numbers out of range ---------------------------------------------------------------------


@pytest.mark.parametrize("noise, expected", [(-3, 0), (51, 50), (1000, 50)])
def test_noise_is_clamped(noise, expected):
    fixed, note = one_note(with_data(noise=noise))
    assert fixed.data.noise == expected
    assert "Noise" in note and str(noise) in note and str(expected) in note


@pytest.mark.parametrize("percent, expected", [(0, 10), (5, 10), (95, 90), (100, 90)])
def test_train_percent_is_clamped(percent, expected):
    fixed, note = one_note(with_data(train_percent=percent))
    assert fixed.data.train_percent == expected
    assert "Training data" in note and str(percent) in note and str(expected) in note


def test_in_range_boundaries_are_kept():
    spec = with_data(noise=50, train_percent=90)
    spec = replace(spec, train=replace(spec.train, learning_rate=10.0, batch_size=450))
    assert validate(spec) == (spec, [])
    spec = with_data(noise=0, train_percent=10)
    spec = replace(spec, train=replace(spec.train, learning_rate=1e-5, batch_size=1))
    assert validate(spec) == (spec, [])


@pytest.mark.parametrize("lr, expected", [(0.0, 1e-5), (1e-7, 1e-5), (-1.0, 1e-5), (10.5, 10.0), (1e6, 10.0)])
def test_learning_rate_is_clamped(lr, expected):
    fixed, note = one_note(with_train(learning_rate=lr))
    assert fixed.train.learning_rate == expected
    assert "Learning rate" in note and str(expected) in note


@pytest.mark.parametrize("units, expected", [(0, 1), (-4, 1), (65, MAX_UNITS), (1000, MAX_UNITS)])
def test_units_are_clamped(units, expected):
    spec = replace(BASE, layers=(LayerSpec(4, "tanh"), LayerSpec(units, "relu")))
    fixed, note = one_note(spec)
    assert fixed.layers == (LayerSpec(4, "tanh"), LayerSpec(expected, "relu"))
    assert "layer 2" in note and str(units) in note and str(expected) in note


def test_more_than_eight_layers_are_cut():
    layers = tuple(LayerSpec(i + 1, "relu") for i in range(MAX_HIDDEN_LAYERS + 3))
    fixed, note = one_note(replace(BASE, layers=layers))
    assert fixed.layers == layers[:MAX_HIDDEN_LAYERS]
    assert str(MAX_HIDDEN_LAYERS) in note and "hidden layers" in note


def test_exactly_eight_layers_and_zero_layers_are_fine():
    eight = replace(BASE, layers=tuple(LayerSpec(2, "tanh") for _ in range(MAX_HIDDEN_LAYERS)))
    assert validate(eight) == (eight, [])
    none = replace(BASE, layers=())
    assert validate(none) == (none, [])


def test_batch_size_larger_than_training_set_is_clamped():
    spec = with_data(train_percent=20)  # 100 of 500 points
    spec = replace(spec, train=replace(spec.train, batch_size=101))
    fixed, note = one_note(spec)
    assert fixed.data.num_train == 100
    assert fixed.train.batch_size == 100
    assert "Batch size" in note and "101" in note and "100" in note


def test_batch_size_limit_follows_the_problem_size():
    spec = replace(with_data(problem="regression", train_percent=50), loss="mse")
    spec = replace(spec, train=replace(spec.train, batch_size=600))  # 600 of 1200 points: fine
    assert validate(spec) == (spec, [])
    fixed, note = one_note(replace(spec, data=replace(spec.data, problem="classification"), loss="bce"))
    assert fixed.train.batch_size == 250
    assert "Batch size" in note


def test_batch_size_below_one():
    fixed, note = one_note(with_train(batch_size=0))
    assert fixed.train.batch_size == 1
    assert "Batch size" in note


@pytest.mark.parametrize(
    "field, label, expected",
    [
        ("learning_rate", "Learning rate", 1e-5),
        ("momentum", "Momentum", 0.0),
        ("beta1", "β₁", 0.0),
        ("beta2", "β₂", 0.0),
        ("weight_decay", "Weight decay", 0.0),
        ("regularization_rate", "Regularization rate", 0.0),
    ],
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_are_replaced(field, label, expected, bad):
    fixed, note = one_note(with_train(**{field: bad}))
    value = getattr(fixed.train, field)
    assert math.isfinite(value) and value == expected
    assert label in note and "not a number" in note


@pytest.mark.parametrize(
    "field, value, expected, label",
    [
        ("momentum", 1.0, 0.999, "Momentum"),
        ("momentum", -0.5, 0.0, "Momentum"),
        ("beta1", 1.0, 0.9999, "β₁"),
        ("beta2", 2.0, 0.9999, "β₂"),
        ("weight_decay", 1.5, 1.0, "Weight decay"),
        ("regularization_rate", 11.0, 10.0, "Regularization rate"),
        ("regularization_rate", -0.1, 0.0, "Regularization rate"),
    ],
)
def test_other_train_numbers_are_clamped(field, value, expected, label):
    fixed, note = one_note(with_train(**{field: value}))
    assert getattr(fixed.train, field) == expected
    assert label in note and str(value) in note


@pytest.mark.parametrize("seed, expected", [(-1, 0), (2**31, 2**31 - 1)])
def test_seed_is_clamped(seed, expected):
    fixed, note = one_note(with_data(seed=seed))
    assert fixed.data.seed == expected
    assert "Seed" in note


# ---- unknown choices ------------------------------------------------------------------------------


def test_unknown_problem_becomes_classification():
    fixed, note = one_note(with_data(problem="clustering"))
    assert fixed.data.problem == "classification" and fixed.loss == "bce"
    assert "Problem type" in note and "clustering" in note


def test_unknown_data_sets():
    fixed, notes = validate(with_data(dataset="donut", reg_dataset="reg-sine"))
    assert (fixed.data.dataset, fixed.data.reg_dataset) == ("circle", "reg-plane")
    assert len(notes) == 2
    assert any("donut" in n and "circle" in n for n in notes)
    assert any("reg-sine" in n and "reg-plane" in n for n in notes)


def test_unknown_activation_becomes_tanh():
    spec = replace(BASE, layers=(LayerSpec(3, "relu"), LayerSpec(3, "softmax")))
    fixed, note = one_note(spec)
    assert fixed.layers == (LayerSpec(3, "relu"), LayerSpec(3, "tanh"))
    assert "layer 2" in note and "softmax" in note and "tanh" in note


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_known_activation_is_kept(activation):
    spec = replace(BASE, layers=(LayerSpec(3, activation),))
    assert validate(spec) == (spec, [])


def test_unknown_init_optimizer_and_regularization():
    spec = replace(BASE, init="orthogonal", train=replace(BASE.train, optimizer="lbfgs", regularization="dropout"))
    fixed, notes = validate(spec)
    assert (fixed.init, fixed.train.optimizer, fixed.train.regularization) == ("default", "sgd", "none")
    assert len(notes) == 3
    assert any("orthogonal" in n and "initialisation" in n for n in notes)
    assert any("lbfgs" in n and "Optimizer" in n for n in notes)
    assert any("dropout" in n and "Regularization" in n for n in notes)


@pytest.mark.parametrize(
    "problem, loss, expected, words",
    [
        ("classification", "mse", "bce", "does not fit"),
        ("regression", "bce", "mse", "does not fit"),
        ("classification", "hinge", "bce", "hinge"),
        ("regression", "hinge", "mse", "hinge"),
    ],
)
def test_loss_must_fit_the_problem(problem, loss, expected, words):
    fixed, note = one_note(replace(with_data(problem=problem), loss=loss))
    assert fixed.loss == expected
    assert words in note and expected in note


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_regression_losses_are_kept(loss):
    spec = replace(with_data(problem="regression"), loss=loss)
    assert validate(spec) == (spec, [])


# ---- features -------------------------------------------------------------------------------------


def test_no_features_means_x_and_y():
    fixed, note = one_note(replace(BASE, features=()))
    assert fixed.features == ("x", "y")
    assert "At least one input feature" in note


def test_only_unknown_features_means_x_and_y_with_both_notes():
    fixed, notes = validate(replace(BASE, features=("cosX", "cosY")))
    assert fixed.features == ("x", "y")
    assert len(notes) == 2
    assert any("cosX" in n and "cosY" in n for n in notes)
    assert any("At least one input feature" in n for n in notes)


def test_features_are_put_in_canonical_order_without_repeats():
    fixed, notes = validate(replace(BASE, features=("sinY", "x", "sinY", "xTimesY")))
    assert fixed.features == ("x", "xTimesY", "sinY")
    assert notes == []


def test_all_features_kept():
    spec = replace(BASE, features=FEATURES)
    assert validate(spec) == (spec, [])


def test_one_feature_is_enough():
    spec = replace(BASE, features=("xTimesY",))
    assert validate(spec) == (spec, [])


# ---- nesterov -------------------------------------------------------------------------------------


def test_nesterov_kept_with_sgd_and_momentum():
    spec = with_train(optimizer="sgd", momentum=0.9, nesterov=True)
    assert validate(spec) == (spec, [])


@pytest.mark.parametrize(
    "optimizer, momentum",
    [("sgd", 0.0), ("adam", 0.9), ("rmsprop", 0.9), ("adagrad", 0.0), ("adamw", 0.5)],
)
def test_nesterov_turned_off_otherwise(optimizer, momentum):
    fixed, note = one_note(with_train(optimizer=optimizer, momentum=momentum, nesterov=True))
    assert fixed.train.nesterov is False
    assert fixed.train.optimizer == optimizer and fixed.train.momentum == momentum
    assert "Nesterov" in note


def test_nesterov_turned_off_when_momentum_was_clamped_to_zero():
    fixed, notes = validate(with_train(optimizer="sgd", momentum=-1.0, nesterov=True))
    assert fixed.train.momentum == 0.0 and fixed.train.nesterov is False
    assert any("Momentum" in n for n in notes) and any("Nesterov" in n for n in notes)


def test_nesterov_kept_when_an_unknown_optimizer_falls_back_to_sgd():
    fixed, notes = validate(with_train(optimizer="sgdm", momentum=0.9, nesterov=True))
    assert fixed.train.optimizer == "sgd" and fixed.train.nesterov is True  # replaced by sgd: still fine
    assert len(notes) == 1 and "sgdm" in notes[0]


def test_view_flags_pass_through():
    spec = replace(BASE, view=ViewSpec(show_test_data=True, discretize=True))
    assert validate(spec) == (spec, [])


def test_every_change_gets_its_own_note():
    spec = replace(
        with_data(noise=80, train_percent=95),
        layers=(LayerSpec(0, "tanh"), LayerSpec(70, "bogus")),
        train=replace(BASE.train, learning_rate=20.0, optimizer="nadam"),
    )
    fixed, notes = validate(spec)
    assert len(notes) == 7  # noise, share, units x2, activation, learning rate, optimizer
    joined = "\n".join(notes)
    for word in ("Noise", "Training data", "layer 1", "layer 2", "bogus", "Learning rate", "nadam"):
        assert word in joined
