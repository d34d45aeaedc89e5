"""Ready-made setups for teachers: each is a share link's parameters (overrides of the defaults)."""

from __future__ import annotations

from .sharelink import decode
from .spec import RunSpec

ALL_FEATURES = {f: "true" for f in ("x", "y", "xSquared", "ySquared", "xTimesY", "sinX", "sinY")}

PRESETS: dict[str, tuple[str, dict[str, str]]] = {
    "circle": ("Circle, two small tanh layers (TF Playground's default)", {}),
    "linear-gauss": ("Two Gaussians with no hidden layer: logistic regression", {"dataset": "gauss", "networkShape": ""}),
    "xor-features": ("XOR solved by one feature, x1·x2, and no hidden layer",
                     {"dataset": "xor", "x": "false", "y": "false", "xTimesY": "true", "networkShape": ""}),
    "spiral-deep": ("Spiral: six tanh layers of 8 on all features, Adam",
                    {"dataset": "spiral", **ALL_FEATURES, "networkShape": "8,8,8,8,8,8", "optimizer": "adam",
                     "learningRate": "0.01"}),
    "moons-relu": ("Two moons with ReLU and noise", {"dataset": "moons", "noise": "20", "networkShape": "8,8",
                                                     "activation": "relu", "optimizer": "adam", "learningRate": "0.01"}),
    "zero-init": ("Zero initialisation: every neuron learns the same thing (symmetry)",
                  {"init": "zeros", "networkShape": "4,4"}),
    "too-fast": ("A learning rate of 3: watch training diverge, then lower it",
                 {"problem": "regression", "regDataset": "reg-gauss", "learningRate": "3", "activation": "relu",
                  "networkShape": "8,8"}),
    "regression-gauss": ("Regression on six Gaussian bumps", {"problem": "regression", "regDataset": "reg-gauss",
                                                              "networkShape": "8,8", "optimizer": "adam",
                                                              "learningRate": "0.01"}),
}


def preset_spec(name: str) -> RunSpec:
    spec, _ = decode(PRESETS[name][1])
    return spec
