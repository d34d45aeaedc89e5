"""`python -m playground train|presets`: headless runs print what the page would show."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from playground.__main__ import main
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import ImageLayer, ImageSpec, ImageTrainSpec
from playground.presets import PRESETS, preset_spec
from playground.sharelink import decode, decode_image, parse_link
from playground.spec import DataSpec, LayerSpec, RunSpec, TrainSpec, ViewSpec
from playground.tfp_import import import_link
from playground.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
LINK = "http://localhost:8501/?dataset=xor&networkShape=3,2&activation=relu&optimizer=adam&seed=4&noise=10"
TFP_LINK = (
    "https://playground.tensorflow.org/#activation=tanh&batchSize=10&dataset=gauss&regDataset=reg-plane"
    "&learningRate=0.03&regularizationRate=0&noise=0&networkShape=3&seed=0.12345&showTestData=false"
    "&discretize=false&percTrainData=50&x=true&y=true&xTimesY=false&xSquared=false&ySquared=false&cosX=false"
    "&sinX=false&cosY=false&sinY=false&collectStats=false&problem=classification&initZero=false&hideText=false"
)


GARBAGE = "this is not a link&learningRate=fast"
RUNS = {
    "link": ("train", LINK, "--epochs", "3"),
    "tfp": ("train", TFP_LINK, "--epochs", "2"),
    "garbage": ("train", GARBAGE, "--epochs", "2"),
    "presets": ("presets", "--base", "http://example.org/app/"),
}


@pytest.fixture(scope="module")
def cli():
    """Run every command line once, side by side (each start pays for importing torch)."""
    procs = {
        key: subprocess.Popen([sys.executable, "-m", "playground", *args], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for key, args in RUNS.items()
    }
    results = {}
    try:
        for key, proc in procs.items():
            out, err = proc.communicate(timeout=180)
            results[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def expected_lines(spec, epochs: int) -> list[str]:
    trainer = Trainer(spec)
    lines = []
    for _ in range(epochs):
        trainer.run_epochs(1)
        h = trainer.history
        line = f"{trainer.epoch} {h['train_loss'][-1]:.6f} {h['test_loss'][-1]:.6f}"
        if spec.loss == "bce":
            line += f" {h['test_acc'][-1]:.6f}"
        lines.append(line)
    return lines


def test_train_prints_the_same_numbers_as_an_in_process_trainer(cli):
    result = cli["link"]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "epoch train_loss test_loss test_acc"
    assert len(lines) == 4
    spec, notes = decode(parse_link(LINK))
    assert notes == [] and result.stderr == ""
    assert lines[1:] == expected_lines(spec, 3)
    assert [line.split()[0] for line in lines[1:]] == ["1", "2", "3"]


def test_train_accepts_a_tf_playground_link(cli):
    result = cli["tfp"]
    assert result.returncode == 0, result.stderr
    spec, notes = import_link(TFP_LINK)
    assert spec.data.dataset == "gauss" and spec.layers[0].units == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "epoch train_loss test_loss test_acc"
    assert lines[1:] == expected_lines(spec, 2)
    for note in notes:  # the conversion notes go to stderr
        assert f"note: {note}" in result.stderr


def test_garbage_link_prints_notes_and_trains_the_defaults(cli):
    result = cli["garbage"]
    assert result.returncode == 0, result.stderr
    assert "note: Unknown parameter 'this is not a link' ignored." in result.stderr
    assert "learningRate" in result.stderr and "'fast'" in result.stderr
    spec, notes = decode({})
    assert result.stdout.splitlines()[1:] == expected_lines(spec, 2)


def test_regression_link_has_no_accuracy_column(capsys):
    assert main(["train", "?problem=regression&regDataset=reg-gauss&networkShape=5", "--epochs", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "epoch train_loss test_loss"
    spec, _ = decode({"problem": "regression", "regDataset": "reg-gauss", "networkShape": "5"})
    assert out[1:] == expected_lines(spec, 2)


def test_diverging_run_stops_with_the_explanation(capsys):
    code = main(["train", "?problem=regression&learningRate=10&networkShape=8,8", "--epochs", "5"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out.splitlines() == ["epoch train_loss test_loss"]
    assert "learning rate" in captured.err


@pytest.mark.parametrize("epochs", ["0", "-1", "1000001"])
def test_epochs_out_of_range_is_refused(epochs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "?", "--epochs", epochs])
    assert exit_info.value.code == 2
    assert "--epochs" in capsys.readouterr().err


# What each preset is meant to be, written out by hand (not computed by the code under test). The
# first is spelled out in full, pinning TF Playground's defaults; the others rely on those defaults.
ALL_FEATURES_SPEC = ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")
EXPECTED_PRESETS = {
    "circle": RunSpec(
        data=DataSpec(problem="classification", dataset="circle", reg_dataset="reg-plane", noise=0,
                      train_percent=50, seed=0),
        features=("x", "y"),
        layers=(LayerSpec(4, "tanh"), LayerSpec(2, "tanh")),
        init="default",
        loss="bce",
        train=TrainSpec(learning_rate=0.03, batch_size=10, optimizer="sgd", momentum=0.0, nesterov=False,
                        beta1=0.9, beta2=0.999, weight_decay=0.01, regularization="none", regularization_rate=0.0),
        view=ViewSpec(show_test_data=False, discretize=False),
    ),
    "linear-gauss": RunSpec(data=DataSpec(dataset="gauss"), layers=()),
    "xor-features": RunSpec(data=DataSpec(dataset="xor"), features=("xTimesY",), layers=()),
    "spiral-deep": RunSpec(data=DataSpec(dataset="spiral"), features=ALL_FEATURES_SPEC,
                           layers=(LayerSpec(8, "tanh"),) * 6, train=TrainSpec(learning_rate=0.01, optimizer="adam")),
    "moons-relu": RunSpec(data=DataSpec(dataset="moons", noise=20), layers=(LayerSpec(8, "relu"),) * 2,
                          train=TrainSpec(learning_rate=0.01, optimizer="adam")),
    "zero-init": RunSpec(layers=(LayerSpec(4, "tanh"),) * 2, init="zeros"),
    "too-fast": RunSpec(data=DataSpec(problem="regression", reg_dataset="reg-gauss"),
                        layers=(LayerSpec(8, "relu"),) * 2, loss="mse", train=TrainSpec(learning_rate=3.0)),
    "regression-gauss": RunSpec(data=DataSpec(problem="regression", reg_dataset="reg-gauss"),
                                layers=(LayerSpec(8, "tanh"),) * 2, loss="mse",
                                train=TrainSpec(learning_rate=0.01, optimizer="adam")),
}
_IMAGE_TRAIN = ImageTrainSpec(optimizer="adam", learning_rate=0.001, batch_size=128, epochs=3)
EXPECTED_IMAGE_PRESETS = {
    name: ImageSpec(layers=layers, train=_IMAGE_TRAIN, data="subset", seed=0)
    for name, layers in {
        "seed-cnn": (ImageLayer("conv", units=32, kernel=3, activation="relu"), ImageLayer("maxpool", size=2),
                     ImageLayer("flatten"), ImageLayer("dense", units=128, activation="relu"),
                     ImageLayer("dense", units=10)),
        "mlp": (ImageLayer("flatten"), ImageLayer("dense", units=128, activation="relu"),
                ImageLayer("dense", units=10)),
        "lenet5": (ImageLayer("conv", units=6, kernel=5, padding=2, activation="tanh"), ImageLayer("avgpool", size=2),
                   ImageLayer("conv", units=16, kernel=5, activation="tanh"), ImageLayer("avgpool", size=2),
                   ImageLayer("flatten"), ImageLayer("dense", units=120, activation="tanh"),
                   ImageLayer("dense", units=84, activation="tanh"), ImageLayer("dense", units=10)),
        "logistic": (ImageLayer("flatten"), ImageLayer("dense", units=10)),
    }.items()
}
# A few links' parameters as a person would type them.
EXPECTED_LINK_PARAMS = {
    "too-fast": {"problem": "regression", "regDataset": "reg-gauss", "learningRate": "3", "networkShape": "8,8",
                 "activation": "relu"},
    "xor-features": {"dataset": "xor", "x": "false", "y": "false", "xTimesY": "true", "networkShape": ""},
    "lenet5": {"layers": "conv6k5p2-tanh,avgpool2,conv16k5-tanh,avgpool2,flatten,dense120-tanh,dense84-tanh,dense10",
               "epochs": "3"},
}


def test_presets_lists_every_preset_with_a_link_that_decodes_to_it(cli):
    result = cli["presets"]
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    links = {}
    for name_line, link_line in zip(lines, lines[1:]):
        name = name_line.split(":", 1)[0]
        if link_line.startswith("  http://example.org/app/"):
            links[name] = link_line.strip()
    assert set(links) == set(PRESETS) | set(IMAGE_PRESETS) == set(EXPECTED_PRESETS) | set(EXPECTED_IMAGE_PRESETS)
    for name, (description, _) in PRESETS.items():
        assert f"{name}: {description}" in lines
        assert links[name].startswith("http://example.org/app/?")
        assert decode(parse_link(links[name])) == (EXPECTED_PRESETS[name], []), name
    for name in IMAGE_PRESETS:
        assert links[name].startswith("http://example.org/app/images?")
        assert decode_image(parse_link(links[name])) == (EXPECTED_IMAGE_PRESETS[name], []), name
        assert image_preset(name) == EXPECTED_IMAGE_PRESETS[name]
    for name, params in EXPECTED_LINK_PARAMS.items():
        query = parse_link(links[name])
        assert {key: query.get(key) for key in params} == params, name


def test_presets_decode_without_notes():
    for name, (_, params) in PRESETS.items():
        spec, notes = decode(params)
        assert notes == [], (name, notes)
        assert spec == preset_spec(name)


# ---- links of any size and spelling: notes and a run, or exit 2 with a plain message ------------------


def test_a_link_with_huge_numbers_and_repeats_prints_notes_and_trains(capsys):
    link = "?networkShape=" + "9" * 400 + ",2&noise=" + "1" * 450 + "&seed=1&seed=4&learningRate=1e999&momentum=١٢"
    assert main(["train", link, "--epochs", "1"]) == 0
    captured = capsys.readouterr()
    spec, notes = decode(parse_link(link))
    assert [layer.units for layer in spec.layers] == [64, 2] and spec.data.noise == 50 and spec.data.seed == 4
    assert len(notes) == 5 and captured.err.splitlines() == [f"note: {note}" for note in notes]
    assert captured.out.splitlines()[1:] == expected_lines(spec, 1)


def test_an_images_link_that_cannot_be_built_exits_2_with_its_reasons(capsys):
    link = "?layers=flatten,conv" + "9" * 400 + "k3-relu,dense10,dropout1e999&epochs=" + "9" * 300
    assert main(["train", link, "--epochs", "1"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "note: Layer 2 (conv) size: a 400-digit number is outside 1–256; using 256." in captured.err
    assert "note: layers: 'dropout1e999' is not a layer" in captured.err
    assert "layer 2: Conv2D needs an image" in captured.err and "Traceback" not in captured.err


@pytest.mark.parametrize("epochs", ["١٢", "1_0", "1e3", "2.5", "9" * 5000, ""])
def test_epochs_that_are_not_plain_whole_numbers_are_refused(epochs, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "?", "--epochs", epochs])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--epochs: must be a whole number between 1 and 1000000" in err and "Traceback" not in err
