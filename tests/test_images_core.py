"""The Images core without Streamlit: shapes and problems, clamping, links, drawing, model, trainer, CLI."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from playground.data.mnist import load_mnist
from playground.images import trainer as trainer_module
from playground.images.drawing import to_mnist
from playground.images.model import SeededDropout, build_image_model
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import (
    FLATTEN,
    LAYER_KINDS,
    MAX_LAYERS,
    MAX_PARAMS,
    ImageLayer,
    ImageSpec,
    ImageTrainSpec,
    conv,
    dense,
    pool,
    summarize,
    validate,
)
from playground.images.trainer import ImageTrainer
from playground.sharelink import (
    decode_image,
    encode_image,
    image_query,
    layer_token,
    parse_layer,
)
from playground.spec import ACTIVATIONS, OPTIMIZERS
from tests.conftest import ROOT

# ---- summarize: shapes and parameters --------------------------------------------------------------

PRESET_SHAPES = {
    "seed-cnn": ([(32, 26, 26), (32, 13, 13), (5408,), (128,), (10,)], [320, 0, 0, 692_352, 1_290], 693_962),
    "lenet5": (
        [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)],
        [156, 0, 2_416, 0, 0, 48_120, 10_164, 850],
        61_706,
    ),
    "mlp": ([(784,), (128,), (10,)], [0, 100_480, 1_290], 101_770),
    "logistic": ([(784,), (10,)], [0, 7_850], 7_850),
}


@pytest.mark.parametrize("name", list(PRESET_SHAPES))
def test_presets_have_the_published_shapes_and_parameter_counts(name):
    shapes, params, total = PRESET_SHAPES[name]
    summary = summarize(image_preset(name))
    assert summary.ok, summary.problems
    assert [row.output_shape for row in summary.layers] == shapes
    assert [row.params for row in summary.layers] == params
    assert summary.total_params == total
    assert all(row.problem is None for row in summary.layers)
    assert summary.memory_mb > 0 and summary.seconds_per_epoch > 0


def test_every_preset_is_in_the_table():
    assert set(IMAGE_PRESETS) == set(PRESET_SHAPES)
    assert image_preset("seed-cnn") == ImageSpec()


ALL_KINDS = (
    conv(16, 5, "relu", stride=2, padding=2),  # (28 + 4 - 5) // 2 + 1 = 14
    ImageLayer("batchnorm"),
    pool(2, "avgpool"),  # 7
    conv(8, 3, "elu", padding=1),  # 7
    pool(3),  # 2
    FLATTEN,  # 32
    ImageLayer("dropout", rate=0.3),
    dense(20, "gelu"),
    ImageLayer("batchnorm"),
    dense(10),
)


def test_every_layer_kind_gets_its_shape_and_parameters():
    summary = summarize(ImageSpec(ALL_KINDS))
    assert summary.ok, summary.problems
    assert [row.output_shape for row in summary.layers] == [
        (16, 14, 14), (16, 14, 14), (16, 7, 7), (8, 7, 7), (8, 2, 2), (32,), (32,), (20,), (20,), (10,)]
    assert [row.params for row in summary.layers] == [16 * 26, 32, 0, 8 * (16 * 9 + 1), 0, 0, 0, 32 * 20 + 20, 40, 210]
    assert [row.name for row in summary.layers][:5] == [
        "Conv2D 16 5x5 /2 pad 2 relu", "BatchNorm", "AvgPool2D 2x2", "Conv2D 8 3x3 pad 1 elu", "MaxPool2D 3x3"]
    assert summary.layers[6].name == "Dropout 0.3"


@pytest.mark.parametrize("layers", [ALL_KINDS, *[layers for _, layers in IMAGE_PRESETS.values()]])
def test_summary_agrees_with_the_built_torch_model(layers):
    spec = ImageSpec(layers)
    summary = summarize(spec)
    model = build_image_model(spec, torch.Generator().manual_seed(0))
    assert sum(p.numel() for p in model.parameters()) == summary.total_params
    model.eval()
    x = torch.zeros(2, 1, 28, 28)
    shapes = []
    modules = list(model)
    for i, module in enumerate(modules):
        x = module(x)
        follows = modules[i + 1] if i + 1 < len(modules) else None
        if follows is None or not isinstance(follows, (torch.nn.ReLU, torch.nn.Tanh, torch.nn.ELU, torch.nn.GELU,
                                                        torch.nn.SiLU, torch.nn.Sigmoid, torch.nn.LeakyReLU)):
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [row.output_shape for row in summary.layers]


# ---- summarize: problems on the offending layer ---------------------------------------------------


def problem(layers, expected_index: int) -> str:
    summary = summarize(ImageSpec(tuple(layers)))
    assert not summary.ok
    indexes = [i for i, _ in summary.problems]
    assert expected_index in indexes, summary.problems
    message = dict(summary.problems)[expected_index]
    row = summary.layers[expected_index] if expected_index < len(summary.layers) else None
    if row is not None and row.problem is not None:
        assert row.problem == message
    return message


def test_kernel_larger_than_its_input():
    # 28 -> (28 - 11) // 4 + 1 = 5, then a 7x7 kernel does not fit
    message = problem([conv(8, 11, stride=4), conv(8, 7), FLATTEN, dense(10)], 1)
    assert "7x7 kernel is larger than its 5x5 input" in message and "smaller kernel" in message
    summary = summarize(ImageSpec((conv(8, 11, stride=4), conv(8, 7), FLATTEN, dense(10))))
    assert len(summary.layers) == 2  # later shapes are unknowable, so they are not listed
    # padding makes it fit
    assert summarize(ImageSpec((conv(8, 11, stride=4), conv(8, 7, padding=1), FLATTEN, dense(10)))).ok


def test_pooling_window_larger_than_its_input():
    message = problem([conv(8, 3), pool(8), pool(4), FLATTEN, dense(10)], 2)  # 26 -> 3, then a 4x4 window
    assert "4x4 window is larger than its 3x3 input" in message


def test_conv_and_pooling_after_flatten():
    assert "Move it before the Flatten layer" in problem([FLATTEN, conv(32, 3), dense(10)], 1)
    assert "Pooling needs an image" in problem([conv(4, 3), FLATTEN, pool(2), dense(10)], 2)


def test_dense_before_flatten():
    message = problem([conv(32, 3), dense(10)], 1)
    assert "Dense needs a flat input" in message and "32x26x26" in message and "Add a Flatten layer" in message
    assert "1x28x28" in problem([dense(10)], 0)


def test_last_layer_must_give_10_outputs():
    message = problem([FLATTEN, dense(20)], 1)
    assert "must give 10 outputs" in message and "It gives 20" in message
    assert "It gives 1x28x28" in problem([], 0)
    assert "It gives 32x26x26" in problem([conv(32, 3)], 0)


def test_output_layer_with_an_activation():
    message = problem([FLATTEN, dense(10, "relu")], 1)
    assert "should have no activation" in message and "logits" in message
    assert summarize(ImageSpec((FLATTEN, dense(10, "relu"), dense(10)))).ok


def test_parameter_limit():
    layers = [conv(64, 3), FLATTEN, dense(2048, "relu"), dense(10)]  # 64*26*26 = 43,264 inputs to 2048 units
    message = problem(layers, 2)
    summary = summarize(ImageSpec(tuple(layers)))
    assert summary.total_params > MAX_PARAMS
    assert f"{summary.total_params:,} parameters" in message and f"{MAX_PARAMS:,}" in message
    assert summary.layers[2].params == 43_264 * 2048 + 2048
    assert summarize(ImageSpec((conv(64, 3), pool(4), FLATTEN, dense(256, "relu"), dense(10)))).ok


def test_an_empty_output():
    assert "output would be empty" in problem([FLATTEN, dense(0), dense(10)], 1)
    assert "output would be empty" in problem([conv(0, 3), FLATTEN, dense(10)], 0)


def test_problems_never_change_the_layer_list():
    layers = (FLATTEN, conv(32, 3), dense(10))
    spec = ImageSpec(layers)
    summarize(spec)
    assert spec.layers == layers
    assert validate(spec)[0].layers == layers


# ---- validate: clamping with notes ------------------------------------------------------------------


def test_validate_clamps_every_number_with_a_note():
    spec = ImageSpec(
        layers=(
            ImageLayer("conv", units=300, kernel=0, stride=9, padding=7, activation="relu"),
            ImageLayer("maxpool", size=20),
            FLATTEN,
            ImageLayer("dropout", rate=1.5),
            ImageLayer("dense", units=5000, activation="swish"),
            ImageLayer("dense", units=0),
        ),
        train=ImageTrainSpec(learning_rate=100.0, batch_size=5000, epochs=0, optimizer="lbfgs", schedule="zigzag",
                             momentum=2.0, weight_decay=-1.0),
        data="imagenet",
        seed=-4,
    )
    clean, notes = validate(spec)
    c, p, _, d, h, o = clean.layers
    assert (c.units, c.kernel, c.stride, c.padding, c.activation) == (256, 1, 4, 5, "relu")
    assert p.size == 8 and d.rate == 0.9 and h.units == 2048 and h.activation == "linear" and o.units == 1
    t = clean.train
    assert (t.learning_rate, t.batch_size, t.epochs, t.optimizer, t.schedule) == (10.0, 1024, 1, "adam", "none")
    assert (t.momentum, t.weight_decay) == (0.999, 0.0)
    assert clean.data == "subset" and clean.seed == 0
    text = "\n".join(notes)
    for expected in ("Layer 1 (conv) size: 300 is outside 1–256; using 256.", "Layer 1 (conv) kernel: 0",
                     "Layer 1 (conv) stride", "Layer 1 (conv) padding", "Layer 2 (maxpool) window: 20",
                     "Layer 4 (dropout) rate: 1.5 is outside 0.0–0.9; using 0.9.",
                     "Layer 5 (dense) size: 5000", "activation 'swish' unknown; using linear",
                     "Layer 6 (dense) size: 0", "Learning rate: 100.0", "Batch size: 5000", "Epochs: 0",
                     "Optimizer 'lbfgs' unknown", "Schedule 'zigzag' unknown", "Data 'imagenet' unknown",
                     "Momentum", "Weight decay", "Seed"):
        assert expected in text, (expected, notes)


def test_validate_handles_nan_unknown_kinds_and_too_many_layers():
    clean, notes = validate(ImageSpec(train=ImageTrainSpec(learning_rate=float("nan"))))
    assert clean.train.learning_rate == 1e-5 and any("not a number" in n for n in notes)
    clean, notes = validate(ImageSpec((ImageLayer("lstm"), FLATTEN, dense(10))))
    assert [l.kind for l in clean.layers] == ["flatten", "dense"] and "unknown kind 'lstm' dropped" in notes[0]
    clean, notes = validate(ImageSpec((FLATTEN,) * 20))
    assert len(clean.layers) == MAX_LAYERS and f"At most {MAX_LAYERS} layers" in notes[0]


def test_validate_keeps_a_valid_spec_unchanged():
    for name in IMAGE_PRESETS:
        assert validate(image_preset(name)) == (image_preset(name), [])
    assert validate(ImageSpec(ALL_KINDS)) == (ImageSpec(ALL_KINDS), [])


# ---- share links ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(IMAGE_PRESETS))
def test_every_preset_round_trips_through_its_link(name):
    spec = image_preset(name)
    assert decode_image(encode_image(spec)) == (spec, [])
    from urllib.parse import parse_qsl

    assert decode_image(dict(parse_qsl(image_query(spec)))) == (spec, [])


def test_the_seed_cnn_link_reads_like_keras():
    assert encode_image(ImageSpec())["layers"] == "conv32k3-relu,maxpool2,flatten,dense128-relu,dense10"
    assert encode_image(image_preset("lenet5"))["layers"].startswith("conv6k5p2-tanh,avgpool2,conv16k5-tanh")


_kinds = st.sampled_from(LAYER_KINDS)
_acts = st.sampled_from(ACTIVATIONS)


@st.composite
def valid_layer(draw):
    kind = draw(_kinds)
    if kind == "conv":
        return ImageLayer("conv", units=draw(st.integers(1, 256)), kernel=draw(st.integers(1, 11)),
                          stride=draw(st.integers(1, 4)), padding=draw(st.integers(0, 5)), activation=draw(_acts))
    if kind == "dense":
        return ImageLayer("dense", units=draw(st.integers(1, 2048)), activation=draw(_acts))
    if kind in ("maxpool", "avgpool"):
        return ImageLayer(kind, size=draw(st.integers(1, 8)))
    if kind == "dropout":
        return ImageLayer("dropout", rate=draw(st.floats(0.0, 0.9, allow_subnormal=False)))
    return ImageLayer(kind)


@st.composite
def valid_image_spec(draw):
    train = ImageTrainSpec(
        optimizer=draw(st.sampled_from(OPTIMIZERS)),
        learning_rate=draw(st.floats(1e-5, 10.0)),
        batch_size=draw(st.integers(1, 1024)),
        schedule=draw(st.sampled_from(("none", "step", "cosine"))),
        epochs=draw(st.integers(1, 100)),
        weight_decay=draw(st.floats(0.0, 1.0)),
    )
    layers = tuple(draw(st.lists(valid_layer(), max_size=MAX_LAYERS)))
    return ImageSpec(layers, train, draw(st.sampled_from(("subset", "full"))), draw(st.integers(0, 2**31 - 1)))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_image_spec())
def test_any_valid_spec_round_trips_through_its_link(spec):
    spec, _ = validate(spec)  # momentum/nesterov combinations settle first
    decoded, notes = decode_image(encode_image(spec))
    assert notes == []
    assert decoded == spec
    for layer in spec.layers:
        assert parse_layer(layer_token(layer)) == layer


def test_malformed_layer_tokens_are_dropped_with_notes():
    spec, notes = decode_image({"layers": "conv32k3-relu, banana ,maxpool2,,conv-3,dense1e5,FLATTEN,dense10"})
    assert [layer_token(l) for l in spec.layers] == ["conv32k3-relu", "maxpool2", "flatten", "dense10"]
    assert len(notes) == 3, notes
    assert "'banana' is not a layer" in notes[0] and "'conv-3'" in notes[1] and "'dense1e5'" in notes[2]
    spec, notes = decode_image({"layers": "dropout1,dense10-nope"})
    assert spec.layers[0].rate == 0.9 and spec.layers[1].activation == "linear"
    assert any("rate" in n for n in notes) and any("'nope' unknown" in n for n in notes)


def test_a_link_without_layers_keeps_the_seed_cnn_and_an_empty_list_stays_empty():
    assert decode_image({"epochs": "2"})[0].layers == ImageSpec().layers
    spec, _ = decode_image({"layers": ""})
    assert spec.layers == () and not summarize(spec).ok


# ---- drawing -> MNIST --------------------------------------------------------------------------------


def canvas(background=(255, 255, 255, 255)) -> np.ndarray:
    image = np.zeros((224, 224, 4), np.uint8)
    image[:] = background
    return image


def draw_seven(image: np.ndarray) -> np.ndarray:
    """An off-centre '7': a bar along the top and a diagonal down-left, 18 px strokes."""
    image[20:38, 120:210] = (0, 0, 0, 255)
    for y in range(20, 160):
        x = 200 - (y - 20) // 2
        image[y, x - 9 : x + 9] = (0, 0, 0, 255)
    return image


def test_an_empty_pad_gives_none():
    assert to_mnist(None) is None
    assert to_mnist(canvas()) is None
    assert to_mnist(canvas((0, 0, 0, 0))) is None  # fully transparent, whatever its colour
    assert to_mnist(np.zeros((4, 4, 4), np.uint8)) is None


def test_a_stroke_is_centred_and_fits_20x20():
    digit = to_mnist(draw_seven(canvas()))
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert digit.min() >= 0 and math.isclose(float(digit.max()), 1.0)
    yy, xx = np.mgrid[0:28, 0:28]
    cy, cx = (yy * digit).sum() / digit.sum(), (xx * digit).sum() / digit.sum()
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1, (cy, cx)
    rows, cols = np.flatnonzero(digit.max(1) > 0.05), np.flatnonzero(digit.max(0) > 0.05)
    assert rows[-1] - rows[0] + 1 <= 20 and cols[-1] - cols[0] + 1 <= 20
    assert rows[-1] - rows[0] + 1 >= 18  # the taller side is scaled to about 20
    assert digit[0].max() == digit[-1].max() == digit[:, 0].max() == digit[:, -1].max() == 0


def test_transparent_and_white_backgrounds_give_the_same_digit():
    white = to_mnist(draw_seven(canvas()))
    transparent = to_mnist(draw_seven(canvas((0, 0, 0, 0))))
    transparent_white = to_mnist(draw_seven(canvas((255, 255, 255, 0))))
    rgb = to_mnist(draw_seven(canvas())[..., :3])
    np.testing.assert_array_equal(white, transparent)
    np.testing.assert_array_equal(white, transparent_white)
    np.testing.assert_array_equal(white, rgb)


def test_where_it_was_drawn_does_not_matter():
    a = canvas()
    a[30:130, 40:58] = (0, 0, 0, 255)
    b = canvas()
    b[100:200, 180:198] = (0, 0, 0, 255)
    np.testing.assert_allclose(to_mnist(a), to_mnist(b))


# ---- the model ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(IMAGE_PRESETS))
def test_models_give_10_logits_and_are_seeded(name):
    spec = image_preset(name)
    before = torch.random.get_rng_state()
    model = build_image_model(spec, torch.Generator().manual_seed(1))
    assert torch.equal(torch.random.get_rng_state(), before)  # the global random state is left alone
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    same = build_image_model(spec, torch.Generator().manual_seed(1))
    other = build_image_model(spec, torch.Generator().manual_seed(2))
    pairs = list(zip(model.state_dict().values(), same.state_dict().values(), other.state_dict().values()))
    assert pairs and all(torch.equal(a, b) for a, b, _ in pairs)
    assert not all(torch.equal(a, c) for a, _, c in pairs)


def test_dropout_is_seeded_and_off_in_eval():
    layer = SeededDropout(0.5, torch.Generator().manual_seed(3))
    x = torch.ones(1000)
    first = layer(x)
    assert set(first.unique().tolist()) == {0.0, 2.0} and 350 < int((first == 0).sum()) < 650
    again = SeededDropout(0.5, torch.Generator().manual_seed(3))(x)
    assert torch.equal(first, again)
    layer.eval()
    assert torch.equal(layer(x), x)


# ---- the trainer ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    """The seed CNN (Adam 1e-3, batch 128) after 3 epochs on the shipped subset."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        trainer = ImageTrainer(ImageSpec(), device="cpu")
        trainer.run_epochs(3)
    finally:
        torch.set_num_threads(threads)
    return trainer


def test_the_seed_cnn_learns_the_subset(trained):
    assert ImageSpec().train == ImageTrainSpec(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=3)
    assert trained.epoch == 3 and trained.finished and trained.diverged is None
    assert trained.steps_per_epoch == math.ceil(10_000 / 128) and trained.step_count == 3 * trained.steps_per_epoch
    assert trained.test_accuracy > 0.92, trained.test_accuracy
    losses = trained.epoch_train_losses
    assert len(losses) == 3 and losses[0] > losses[-1]
    assert trained.step(5) == 0  # finished: no more steps until the epochs are raised


def test_snapshot_holds_plain_values_and_consistent_views(trained):
    snap = trained.snapshot()

    def plain(value):
        assert not isinstance(value, torch.Tensor)
        if isinstance(value, (list, tuple)):
            for item in value:
                plain(item)
        else:
            assert value is None or isinstance(value, (np.ndarray, int, float, bool, str)), type(value)

    for f in dataclasses.fields(snap):
        plain(getattr(snap, f.name))
    data = load_mnist("subset")
    assert snap.epoch == 3 and snap.finished and snap.eta_s is None
    assert snap.confusion.shape == (10, 10) and snap.confusion.sum() == len(data.test_labels) == 2000
    assert np.array_equal(snap.confusion.sum(1), np.bincount(data.test_labels, minlength=10))
    assert math.isclose(np.trace(snap.confusion) / 2000, trained.test_accuracy)
    assert snap.test_curve.shape == (4, 4)  # before training and after each epoch
    assert snap.test_curve[:, 1].tolist() == [0, 1, 2, 3] and snap.test_curve[-1, 3] == trained.test_accuracy
    assert snap.train_curve.shape[1] == 3 and len(snap.train_curve) == trained.step_count // trainer_module.LOG_EVERY
    assert snap.filters.shape == (32, 3, 3)
    assert len(snap.feature_maps) == 1 and snap.feature_maps[0].shape == (16, 26, 26)
    assert snap.feature_maps[0].min() >= 0  # taken after the ReLU

    mistakes = snap.misclassified
    assert 0 < len(mistakes) <= trainer_module.MAX_MISTAKES and mistakes.shape[1] == 3
    assert len(snap.misclassified_confidence) == len(mistakes)
    assert np.all(np.diff(snap.misclassified_confidence) <= 0)  # most confident first
    with torch.inference_mode():
        trained.model.eval()
        predicted = trained.model(trained.x_test[torch.from_numpy(mistakes[:, 0])]).argmax(1).numpy()
        trained.model.train()
    for (index, true, guess), again in zip(mistakes, predicted):
        assert data.test_labels[index] == true and guess != true and guess == again


def test_a_drawing_is_classified_like_the_test_image_it_copies(trained):
    data = load_mnist("subset")
    index = 7
    trained.probe(test_index=index, drawing=data.test_images[index] / 255.0, drawing_id=5)
    snap = trained.snapshot()
    assert snap.probe_index == index and snap.drawing_id == 5
    assert snap.prediction.shape == (10,) and math.isclose(float(snap.prediction.sum()), 1.0, rel_tol=1e-5)
    with torch.inference_mode():
        trained.model.eval()
        expected = trained.model(trained.x_test[index : index + 1]).softmax(1)[0].numpy()
        trained.model.train()
    np.testing.assert_allclose(snap.prediction, expected, rtol=1e-4, atol=1e-6)


DROPOUT_NET = (conv(8, 3), pool(2), FLATTEN, ImageLayer("dropout", rate=0.5), dense(32, "relu"), dense(10))


def _losses(spec: ImageSpec, steps: int, monkeypatch) -> tuple[list[float], dict]:
    monkeypatch.setattr(trainer_module, "LOG_EVERY", 1)  # one curve point (step, loss, accuracy) per batch
    trainer = ImageTrainer(spec, device="cpu")
    trainer.settle(10**6)  # the first evaluation of the test set, so every later unit is a batch update
    torch.manual_seed(12345)  # the global random state must not matter
    torch.rand(100)
    trainer.step(steps)
    return [point[1] for point in trainer._train_points], trainer.model.state_dict()


def test_same_spec_same_numbers_with_dropout(monkeypatch):
    spec = ImageSpec(DROPOUT_NET, ImageTrainSpec(batch_size=64))
    first, weights = _losses(spec, 30, monkeypatch)
    second, weights2 = _losses(spec, 30, monkeypatch)
    assert len(first) == 30 and all(math.isfinite(v) for v in first)
    assert first == second
    assert all(torch.equal(weights[k], weights2[k]) for k in weights)
    reseeded, _ = _losses(dataclasses.replace(spec, seed=1), 30, monkeypatch)
    assert reseeded != first
    no_dropout = ImageSpec(tuple(l if l.kind != "dropout" else dataclasses.replace(l, rate=0.0) for l in DROPOUT_NET),
                           spec.train)
    assert _losses(no_dropout, 30, monkeypatch)[0] != first  # the masks are really drawn


def test_a_huge_learning_rate_diverges_and_restores_finite_weights():
    spec = ImageSpec(train=ImageTrainSpec(optimizer="sgd", learning_rate=10.0))
    trainer = ImageTrainer(spec, device="cpu")
    initial = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.step(60)
    assert trainer.diverged is not None
    assert "learning rate" in trainer.diverged and "(now 10)" in trainer.diverged and "epoch 1" in trainer.diverged
    state = trainer.model.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values())
    assert all(torch.equal(state[k], initial[k]) for k in state)  # back to the last good point: the start
    assert trainer.step(10) == 0  # stopped until the person resumes
    snap = trainer.snapshot()
    assert snap.diverged == trainer.diverged
    trainer.apply(ImageTrainSpec(optimizer="sgd", learning_rate=0.01))
    assert trainer.diverged is None and trainer.step(3) == 3


def test_a_nan_after_an_epoch_goes_back_to_that_epoch():
    trainer = ImageTrainer(image_preset("logistic"), device="cpu")
    trainer.run_epochs(1)
    good = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with torch.no_grad():
        trainer.model[1].weight[0, 0] = float("nan")
    trainer.step(1)
    assert trainer.diverged and "NaN" in trainer.diverged and "epoch 2" in trainer.diverged
    assert all(torch.equal(v, good[k]) for k, v in trainer.model.state_dict().items())
    assert trainer.epoch == 1
    trainer.resume_after_divergence()
    trainer.run_epochs(1)
    assert trainer.epoch == 2 and trainer.diverged is None and trainer.test_accuracy > 0.8


# ---- the command line ---------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "playground", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)


def test_cli_trains_an_image_link():
    result = _cli("train", "?layers=flatten,dense10&epochs=1", "--epochs", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "epoch train_loss test_loss test_acc"
    assert len(lines) == 2, lines
    numbers = [float(v) for v in lines[1].split()]
    assert len(numbers) == 4 and numbers[0] == 1
    assert all(math.isfinite(v) for v in numbers) and 0.8 < numbers[3] <= 1.0
    assert "shipped subset" in result.stderr


def test_cli_refuses_an_impossible_link_naming_the_layer():
    result = _cli("train", "http://localhost:8501/images?layers=flatten,conv32k3-relu,dense10", "--epochs", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "layer 2: Conv2D needs an image" in result.stderr
