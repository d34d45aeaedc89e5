"""Spec -> torch model. The 2-D page's networks are plain MLPs: Linear + activation per layer."""

from __future__ import annotations

import math

import torch
from torch import nn

from .spec import RunSpec

ACTIVATION_MODULES = {
    "relu": nn.ReLU,
    "leakyrelu": nn.LeakyReLU,  # negative slope 0.01
    "elu": nn.ELU,  # alpha 1
    "gelu": nn.GELU,  # exact (erf) form
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,
}

# The gain nn.init uses for each activation when initialising with Xavier or He.
_GAIN_NAME = {"relu": "relu", "leakyrelu": "leaky_relu", "tanh": "tanh", "sigmoid": "sigmoid", "linear": "linear"}


def build_model(spec: RunSpec, generator: torch.Generator | None = None) -> nn.Sequential:
    """The MLP a spec describes, initialised from `generator` (seeded from the spec if None).

    The output is a single raw value: a logit for classification (the loss applies the sigmoid),
    the prediction itself for regression.
    """
    if generator is None:
        generator = torch.Generator().manual_seed(spec.data.seed)
    modules: list[nn.Module] = []
    width = len(spec.features)
    for layer in spec.layers:
        linear = nn.Linear(width, layer.units)
        init_linear(linear, spec.init, layer.activation, generator)
        modules += [linear, ACTIVATION_MODULES[layer.activation]()]
        width = layer.units
    output = nn.Linear(width, 1)
    init_linear(output, spec.init, "linear" if spec.loss != "bce" else "sigmoid", generator)
    modules.append(output)
    return nn.Sequential(*modules)


@torch.no_grad()
def init_linear(linear: nn.Linear, scheme: str, activation: str, generator: torch.Generator) -> None:
    """Initialise one layer from an explicit generator (never the global RNG)."""
    w, b = linear.weight, linear.bias
    fan_in = w.shape[1]
    if scheme == "zeros":
        w.zero_()
        b.zero_()
        return
    if scheme == "default":  # what nn.Linear.reset_parameters does
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(b, -bound, bound, generator=generator)
        return
    gain_name = _GAIN_NAME.get(activation, "relu")
    if scheme == "xavier":
        nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain(gain_name), generator=generator)
    else:  # he
        nonlinearity = gain_name if gain_name in ("relu", "leaky_relu") else "relu"
        nn.init.kaiming_uniform_(w, nonlinearity=nonlinearity, generator=generator)
    b.zero_()
