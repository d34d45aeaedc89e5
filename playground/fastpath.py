"""Forward and backward passes of a plain MLP, written out by hand.

Tiny networks (a few hundred weights, batches of ten) spend most of their time in autograd's
bookkeeping, not in arithmetic. For the 2-D playground's Linear + activation stacks we write the
chain rule out directly on the same parameter tensors; `tests/test_fastpath.py` checks that the
gradients equal autograd's for every activation and loss. `mlp_forward` doubles as the autograd
path: called on tensors that require grad, torch records it as usual.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

ACTIVATION_FUNCTIONS = {
    "relu": torch.relu,
    "leakyrelu": lambda z: F.leaky_relu(z, 0.01),
    "elu": F.elu,
    "gelu": F.gelu,
    "silu": F.silu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "linear": lambda z: z,
}


def activation_grad(name: str, z: torch.Tensor, a: torch.Tensor) -> torch.Tensor | None:
    """d activation / d z at pre-activation z (with output a); None means 'all ones'."""
    if name == "tanh":
        return 1 - a * a
    if name == "sigmoid":
        return a * (1 - a)
    if name == "relu":
        return (z > 0).to(z.dtype)
    if name == "leakyrelu":
        return torch.where(z > 0, 1.0, 0.01).to(z.dtype)
    if name == "elu":
        return torch.where(z > 0, torch.ones_like(z), a + 1)
    if name == "gelu":
        return 0.5 * (1 + torch.erf(z * _SQRT_HALF)) + z * torch.exp(-0.5 * z * z) * _INV_SQRT_2PI
    if name == "silu":
        s = torch.sigmoid(z)
        return s * (1 + z * (1 - s))
    return None  # linear


def mlp_forward(
    weights: list[torch.Tensor],
    biases: list[torch.Tensor],
    activations: list[str],
    x: torch.Tensor,
    cache: list | None = None,
) -> torch.Tensor:
    """Output of the MLP; with `cache`, also records each layer's (input, pre-activation, output)."""
    h = x
    last = len(weights) - 1
    for i, (w, b) in enumerate(zip(weights, biases)):
        z = torch.addmm(b, h, w.t())
        a = ACTIVATION_FUNCTIONS[activations[i]](z) if i < last else z
        if cache is not None:
            cache.append((h, z, a))
        h = a
    return h


def loss_value(loss: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean loss of raw outputs `out` against targets `y` (both (N, 1))."""
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(out, y)
    if loss == "mse":
        return F.mse_loss(out, y)
    if loss == "mae":
        return F.l1_loss(out, y)
    return F.huber_loss(out, y, delta=1.0)


def loss_grad(loss: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """d mean-loss / d out."""
    n = out.shape[0]
    if loss == "bce":
        return (torch.sigmoid(out) - y).div_(n)
    diff = out - y
    if loss == "mse":
        return diff.mul_(2.0 / n)
    if loss == "mae":
        return diff.sign_().div_(n)
    return diff.clamp_(-1.0, 1.0).div_(n)  # huber, delta 1


@torch.no_grad()
def mlp_backward(
    weights: list[torch.Tensor],
    activations: list[str],
    cache: list,
    dout: torch.Tensor,
    grad_weights: list[torch.Tensor],
    grad_biases: list[torch.Tensor],
) -> None:
    """Write the gradients of the loss (given d loss / d out) into the grad tensors in place."""
    d = dout
    for i in range(len(weights) - 1, -1, -1):
        h, z, a = cache[i]
        torch.mm(d.t(), h, out=grad_weights[i])
        torch.sum(d, 0, out=grad_biases[i])
        if i > 0:
            d = d.mm(weights[i])
            g = activation_grad(activations[i - 1], cache[i - 1][1], cache[i - 1][2])
            if g is not None:
                d.mul_(g)
