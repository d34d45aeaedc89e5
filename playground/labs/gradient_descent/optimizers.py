"""The seven optimizers as torch.optim builds them, and what may change on a live one.

Everything not in the spec is torch.optim's own default (RMSprop's alpha 0.99, Adagrad's eps
1e-10, ...), so what the lab shows is what `torch.optim` does, step for step.
"""

from __future__ import annotations

import torch

from .spec import OPTIMIZERS, TrainSpec

LABELS = {
    "sgd": "SGD",
    "momentum": "SGD + momentum",
    "nesterov": "Nesterov",
    "rmsprop": "RMSprop",
    "adagrad": "Adagrad",
    "adam": "Adam",
    "adamw": "AdamW",
}


def settings(name: str, train: TrainSpec) -> dict:
    """The param-group entries the spec sets for optimizer `name` (all of them may change live)."""
    if name == "sgd":
        return {"lr": train.learning_rate}
    if name in ("momentum", "nesterov"):
        # torch refuses nesterov without momentum; at momentum 0 both are plain SGD anyway
        return {"lr": train.learning_rate, "momentum": train.momentum,
                "nesterov": name == "nesterov" and train.momentum > 0}
    if name in ("rmsprop", "adagrad"):
        return {"lr": train.learning_rate}
    if name == "adam":
        return {"lr": train.learning_rate, "betas": (train.beta1, train.beta2)}
    return {"lr": train.learning_rate, "betas": (train.beta1, train.beta2), "weight_decay": train.weight_decay}


def make_optimizer(name: str, params: list[torch.Tensor], train: TrainSpec) -> torch.optim.Optimizer:
    """torch.optim's optimizer for one of OPTIMIZERS."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}")
    kind = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
            "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam,
            "adamw": torch.optim.AdamW}[name]
    return kind(params, **settings(name, train))


def update(optimizer: torch.optim.Optimizer, name: str, train: TrainSpec) -> None:
    """Change a live optimizer's settings, keeping its state (momentum buffers, running averages)."""
    for group in optimizer.param_groups:
        group.update(settings(name, train))


def stability_limit(name: str, train: TrainSpec, sharpness: float) -> float | None:
    """The largest stable learning rate of full-batch SGD-type steps on a quadratic of curvature L:
    2/L plain, 2(1+μ)/L with momentum μ, 2(1+μ)/((1+2μ)L) Nesterov. None for the adaptive ones,
    whose steps are scaled by the gradients' own history."""
    mu = train.momentum
    if name == "sgd" or (name in ("momentum", "nesterov") and mu == 0):
        return 2.0 / sharpness
    if name == "momentum":
        return 2.0 * (1 + mu) / sharpness
    if name == "nesterov":
        return 2.0 * (1 + mu) / ((1 + 2 * mu) * sharpness)
    return None
