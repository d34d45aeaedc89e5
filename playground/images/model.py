"""ImageSpec -> torch model (a plain nn.Sequential), initialised reproducibly."""

from __future__ import annotations

import torch
from torch import nn

from ..model import ACTIVATION_MODULES
from .spec import INPUT_SHAPE, ImageSpec


class SeededDropout(nn.Module):
    """Dropout that draws its masks from a given generator, so runs are reproducible."""

    def __init__(self, rate: float, generator: torch.Generator):
        super().__init__()
        self.rate = rate
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        keep = torch.empty(x.shape, device="cpu").bernoulli_(1 - self.rate, generator=self.generator).to(x.device)
        return x * keep / (1 - self.rate)

    def extra_repr(self) -> str:
        return f"p={self.rate}"


def build_image_model(spec: ImageSpec, generator: torch.Generator) -> nn.Sequential:
    """The network of a spec whose `summarize` reported no problem.

    Layers get PyTorch's default initialisation, drawn under a seed taken from `generator`; the
    global random state is restored afterwards.
    """
    modules: list[nn.Module] = []
    shape = INPUT_SHAPE
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for layer in spec.layers:
            if layer.kind == "conv":
                modules.append(nn.Conv2d(shape[0], layer.units, layer.kernel, layer.stride, layer.padding))
                h = (shape[1] + 2 * layer.padding - layer.kernel) // layer.stride + 1
                w = (shape[2] + 2 * layer.padding - layer.kernel) // layer.stride + 1
                shape = (layer.units, h, w)
            elif layer.kind in ("maxpool", "avgpool"):
                cls = nn.MaxPool2d if layer.kind == "maxpool" else nn.AvgPool2d
                modules.append(cls(layer.size))
                shape = (shape[0], shape[1] // layer.size, shape[2] // layer.size)
            elif layer.kind == "flatten":
                modules.append(nn.Flatten())
                shape = (shape[0] * shape[1] * shape[2],) if len(shape) == 3 else shape
            elif layer.kind == "dense":
                modules.append(nn.Linear(shape[0], layer.units))
                shape = (layer.units,)
            elif layer.kind == "dropout":
                modules.append(SeededDropout(layer.rate, generator))
            elif layer.kind == "batchnorm":
                modules.append(nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0]))
            if layer.kind in ("conv", "dense") and layer.activation != "linear":
                modules.append(ACTIVATION_MODULES[layer.activation]())
    return nn.Sequential(*modules)
