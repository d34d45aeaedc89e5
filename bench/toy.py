"""Playground trainer vs a plain PyTorch loop on the same network and data (steps per second).

Both sides train the same MLP on the same points with SGD (lr 0.03, batch 10), a fresh shuffle
each epoch, and evaluate train and test loss after every epoch (as the page does). The plain loop
is the canonical idiom (pytorch/examples mnist): zero_grad, forward, loss, backward, step.

    python bench/toy.py            # prints a table and `ratio toy-circle-steps ...` lines
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playground.model import ACTIVATION_MODULES  # noqa: E402
from playground.sharelink import decode  # noqa: E402
from playground.trainer import Trainer  # noqa: E402

ALL = "&x=true&y=true&xSquared=true&ySquared=true&xTimesY=true&sinX=true&sinY=true"
CASES = {
    "circle": "dataset=circle&networkShape=4,2&activation=tanh&batchSize=10&learningRate=0.03",
    "spiral": "dataset=spiral&networkShape=8,8,8,8,8,8&activation=tanh&batchSize=10&learningRate=0.03" + ALL,
}
SECONDS = 2.0
REPEATS = 3


def plain_loop_steps_per_s(spec, x_train, y_train, x_test, y_test) -> float:
    layers, width = [], x_train.shape[1]
    for layer in spec.layers:
        layers += [nn.Linear(width, layer.units), ACTIVATION_MODULES[layer.activation]()]
        width = layer.units
    model = nn.Sequential(*layers, nn.Linear(width, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=spec.train.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), spec.train.batch_size):
            batch = order[i : i + spec.train.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            steps += 1
        with torch.no_grad():
            loss_fn(model(x_train), y_train).item(), loss_fn(model(x_test), y_test).item()
    return steps / (time.perf_counter() - start)


def trainer_steps_per_s(spec) -> float:
    trainer = Trainer(spec)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS:
        steps += trainer.step(trainer.steps_per_epoch)
    return steps / (time.perf_counter() - start)


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for name, link in CASES.items():
        spec, notes = decode(dict(p.split("=", 1) for p in link.split("&")))
        assert not notes, notes
        reference = Trainer(spec)  # the same data and features the trainer sees
        data = (reference.x_train, reference.y_train, reference.x_test, reference.y_test)
        plain, ours = [], []
        for _ in range(REPEATS):  # interleaved, so both see the same machine load
            plain.append(plain_loop_steps_per_s(spec, *data))
            ours.append(trainer_steps_per_s(spec))
        rows.append((name, statistics.median(plain), statistics.median(ours), len(reference.x_train)))
    print(f"{'case':8} {'train pts':>9} {'plain steps/s':>14} {'trainer steps/s':>16} {'ratio':>6}")
    for name, plain, ours, n in rows:
        print(f"{name:8} {n:9d} {plain:14.0f} {ours:16.0f} {ours / plain:6.2f}")
    for name, plain, ours, _ in rows:
        print(f"ratio toy-{name}-steps {ours / plain:.2f}")


if __name__ == "__main__":
    main()
