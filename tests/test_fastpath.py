"""The hand-written backward pass equals autograd, and so do the trainers built on each."""

from __future__ import annotations

from dataclasses import replace

import zlib

import numpy as np
import pytest
import torch

from playground.fastpath import ACTIVATION_FUNCTIONS, activation_grad, loss_grad, loss_value, mlp_backward, mlp_forward
from playground.model import ACTIVATION_MODULES, build_model
from playground.sharelink import decode
from playground.spec import ACTIVATIONS, LayerSpec, RunSpec
from playground.trainer import Trainer

LOSSES = ("bce", "mse", "mae", "huber")


def random_mlp(activations, sizes, seed):
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(o, i, generator=gen, dtype=torch.float64) for i, o in zip(sizes, sizes[1:])]
    biases = [torch.randn(o, generator=gen, dtype=torch.float64) * 0.5 for o in sizes[1:]]
    return weights, biases


def targets(loss, n, gen):
    if loss == "bce":
        return torch.randint(0, 2, (n, 1), generator=gen).to(torch.float64)
    return torch.rand(n, 1, generator=gen, dtype=torch.float64) * 2 - 1


def test_every_activation_has_a_function_and_module():
    assert set(ACTIVATION_FUNCTIONS) == set(ACTIVATIONS) == set(ACTIVATION_MODULES)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_functions_match_the_model_modules(activation):
    z = torch.linspace(-4, 4, 101, dtype=torch.float64)
    torch.testing.assert_close(ACTIVATION_FUNCTIONS[activation](z), ACTIVATION_MODULES[activation]()(z))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_grad_matches_autograd(activation):
    z = torch.linspace(-4, 4, 101, dtype=torch.float64).requires_grad_()
    a = ACTIVATION_FUNCTIONS[activation](z)
    (expected,) = torch.autograd.grad(a.sum(), z)
    got = activation_grad(activation, z.detach(), a.detach())
    got = torch.ones_like(expected) if got is None else got
    # leakyrelu's gradient comes out as float32 (torch.where with Python scalars); values must agree
    torch.testing.assert_close(got.to(expected.dtype), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_grad_matches_autograd(loss):
    gen = torch.Generator().manual_seed(1)
    out = (torch.randn(17, 1, generator=gen, dtype=torch.float64) * 2).requires_grad_()
    y = targets(loss, 17, gen)
    (expected,) = torch.autograd.grad(loss_value(loss, out, y), out)
    torch.testing.assert_close(loss_grad(loss, out.detach().clone(), y), expected)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_mlp_gradients_match_autograd(activation, loss):
    # three hidden layers; the second always tanh so mixed stacks are covered too
    activations = [activation, "tanh", activation]
    sizes = [3, 5, 4, 6, 1]
    weights, biases = random_mlp(activations, sizes, seed=zlib.crc32(f"{activation}/{loss}".encode()))
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(23, 3, generator=gen, dtype=torch.float64) * 2
    y = targets(loss, 23, gen)

    params = [t.clone().requires_grad_() for pair in zip(weights, biases) for t in pair]
    out = mlp_forward(params[0::2], params[1::2], activations, x)
    grads = torch.autograd.grad(loss_value(loss, out, y), params)

    cache: list = []
    out_fast = mlp_forward(weights, biases, activations, x, cache)
    torch.testing.assert_close(out_fast, out.detach())
    assert len(cache) == len(weights)
    grad_w = [torch.full_like(w, float("nan")) for w in weights]  # every entry must be written
    grad_b = [torch.full_like(b, float("nan")) for b in biases]
    mlp_backward(weights, activations, cache, loss_grad(loss, out_fast, y), grad_w, grad_b)
    for i in range(len(weights)):
        torch.testing.assert_close(grad_w[i], grads[2 * i], msg=f"weights of layer {i}")
        torch.testing.assert_close(grad_b[i], grads[2 * i + 1], msg=f"biases of layer {i}")


def test_mlp_without_hidden_layers():
    weights, biases = random_mlp([], [4, 1], seed=3)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    y = targets("bce", 9, gen)
    params = [weights[0].clone().requires_grad_(), biases[0].clone().requires_grad_()]
    gw, gb = torch.autograd.grad(loss_value("bce", mlp_forward([params[0]], [params[1]], [], x), y), params)
    cache: list = []
    out = mlp_forward(weights, biases, [], x, cache)
    grad_w, grad_b = [torch.empty_like(weights[0])], [torch.empty_like(biases[0])]
    mlp_backward(weights, [], cache, loss_grad("bce", out, y), grad_w, grad_b)
    torch.testing.assert_close(grad_w[0], gw)
    torch.testing.assert_close(grad_b[0], gb)


def test_forward_equals_the_torch_model():
    spec, _ = decode({"networkShape": "5,3", "activation": "elu", "x": "true", "y": "true", "sinX": "true"})
    model = build_model(spec)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    x = torch.randn(11, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x)
        got = mlp_forward([m.weight for m in linears], [m.bias for m in linears], ["elu", "elu"], x)
    torch.testing.assert_close(got, expected)


# ---- the trainers -----------------------------------------------------------------------------------


def losses_after(spec: RunSpec, fast: bool, epochs: int = 5):
    trainer = Trainer(spec, fast=fast)
    trainer.run_epochs(epochs)
    assert trainer.diverged is None
    return trainer


def assert_same_training(spec: RunSpec, epochs: int = 5):
    fast = losses_after(spec, True, epochs)
    slow = losses_after(spec, False, epochs)
    assert fast.epoch == slow.epoch == epochs
    for key in ("train_loss", "test_loss"):
        np.testing.assert_allclose(fast.history[key], slow.history[key], rtol=1e-4, atol=1e-6, err_msg=key)
    torch.testing.assert_close(fast.flat.detach(), slow.flat.detach(), rtol=1e-4, atol=1e-5)
    # training happened: the loss moved
    assert fast.history["train_loss"][-1] != fast.history["train_loss"][0]


def test_fast_and_autograd_trainers_agree_on_circle():
    assert_same_training(decode({})[0])


@pytest.mark.parametrize("regularization", ["L1", "L2"])
def test_fast_and_autograd_trainers_agree_with_regularization(regularization):
    spec, notes = decode({"regularization": regularization, "regularizationRate": "0.01", "networkShape": "6,4",
                          "activation": "relu", "optimizer": "adam", "learningRate": "0.01"})
    assert notes == []
    assert_same_training(spec)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("regularization", ["L1", "L2"])
def test_regularized_gradient_is_that_of_the_penalized_loss(regularization, fast):
    """The gradient a trainer computes is d/dw of loss + rate * sum|w| (L1) or rate/2 * sum w^2 (L2), biases free."""
    rate = 0.05
    spec, _ = decode({"regularization": regularization, "regularizationRate": str(rate), "networkShape": "3,2"})
    trainer = Trainer(spec, fast=fast)
    xb, yb = trainer.x_train[:10], trainer.y_train[:10]
    trainer._compute_grad(xb, yb)
    got = trainer.flat.grad.clone()

    params = [t.detach().clone().requires_grad_() for pair in zip(trainer.weights, trainer.biases) for t in pair]
    weights, biases = params[0::2], params[1::2]
    total = loss_value("bce", mlp_forward(weights, biases, ["tanh", "tanh"], xb), yb)
    if regularization == "L1":
        total = total + rate * sum(w.abs().sum() for w in weights)
    else:
        total = total + rate / 2 * sum((w**2).sum() for w in weights)
    expected = torch.cat([g.reshape(-1) for g in torch.autograd.grad(total, params)])
    torch.testing.assert_close(got, expected)


def test_regularization_changes_the_result():
    plain = losses_after(decode({"networkShape": "6,4"})[0], True)
    l2 = losses_after(decode({"networkShape": "6,4", "regularization": "L2", "regularizationRate": "0.3"})[0], True)
    assert not torch.equal(plain.flat, l2.flat)
    # L2 shrinks the weights (not the biases)
    norm = lambda t: sum(float((w**2).sum()) for w in t.weights)  # noqa: E731
    assert norm(l2) < norm(plain)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_fast_and_autograd_trainers_agree_on_regression(loss):
    spec, notes = decode({"problem": "regression", "regDataset": "reg-gauss", "loss": loss, "networkShape": "5,5",
                          "activation": "silu", "regularization": "L2", "regularizationRate": "0.001"})
    assert notes == []
    assert_same_training(spec, epochs=2)


def test_fast_and_autograd_trainers_agree_with_mixed_activations():
    spec = replace(decode({"optimizer": "rmsprop", "learningRate": "0.003", "momentum": "0.5"})[0],
                   layers=(LayerSpec(4, "gelu"), LayerSpec(3, "leakyrelu"), LayerSpec(3, "sigmoid")))
    assert_same_training(spec, epochs=3)
