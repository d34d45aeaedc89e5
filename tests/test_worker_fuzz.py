"""Every preset and a few hundred random valid specs of both pages train in the pool, and no
worker dies: whatever a valid link describes, the worker survives it.

Specs are drawn from a seeded generator (reproducible) across the whole space the pages allow:
any data set, features, depth, widths, activations, initialisation, loss, optimizer, learning
rates up to 10, batch sizes from 1 to the whole set; and image networks of convolutions, pooling,
BatchNorm and dropout in any order that `summarize` accepts and the server's limits allow.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace

import pytest

from playground.capacity import limit_problems
from playground.images.presets import IMAGE_PRESETS, image_preset
from playground.images.spec import summarize
from playground.jobs import JobManager, Play
from playground.presets import PRESETS, preset_spec
from playground.settings import Settings
from playground.sharelink import decode, decode_image
from playground.spec import ACTIVATIONS, CLASSIFY_DATASETS, FEATURES, INITS, OPTIMIZERS, REGRESS_DATASETS

RANDOM_2D, RANDOM_IMAGES, STEPS = 200, 60, 3
SETTINGS = Settings(workers=1, max_heavy_jobs=1000)


def random_2d_link(rng: random.Random) -> dict[str, str]:
    problem = rng.choice(["classification", "regression"])
    params = {
        "problem": problem,
        "dataset": rng.choice(CLASSIFY_DATASETS),
        "regDataset": rng.choice(REGRESS_DATASETS),
        "noise": str(rng.randint(0, 50)),
        "percTrainData": str(rng.randint(10, 90)),
        "seed": str(rng.randrange(2**31)),
        "networkShape": ",".join(str(rng.randint(1, 64)) for _ in range(rng.randint(0, 8))),
        "activation": rng.choice(ACTIVATIONS),
        "init": rng.choice(INITS),
        "loss": rng.choice(["bce"] if problem == "classification" else ["mse", "mae", "huber"]),
        "learningRate": f"{10 ** rng.uniform(-5, 1):.6g}",
        "batchSize": str(rng.choice([1, 2, 10, 30, 250, 1000])),
        "optimizer": rng.choice(OPTIMIZERS),
        "momentum": f"{rng.uniform(0, 0.99):.3f}",
        "nesterov": rng.choice(["true", "false"]),
        "regularization": rng.choice(["none", "L1", "L2"]),
        "regularizationRate": rng.choice(["0", "0.001", "0.1", "10"]),
    }
    for feature in FEATURES:
        params[feature] = rng.choice(["true", "false"])
    return params


def _image_layers(rng: random.Random) -> list[str]:
    act = lambda: rng.choice(["", "-relu", "-tanh", "-gelu", "-sigmoid", "-elu"])  # noqa: E731
    layers = []
    for _ in range(rng.randint(0, 4)):
        kind = rng.choice(["conv", "conv", "maxpool", "avgpool", "batchnorm", "dropout"])
        if kind == "conv":
            layers.append(f"conv{rng.choice([1, 4, 8, 16, 32])}k{rng.randint(1, 7)}s{rng.randint(1, 3)}p{rng.randint(0, 3)}{act()}")
        elif kind in ("maxpool", "avgpool"):
            layers.append(f"{kind}{rng.randint(1, 4)}")
        elif kind == "dropout":
            layers.append(f"dropout{rng.choice([0, 0.1, 0.5, 0.9])}")
        else:
            layers.append(kind)
    layers.append("flatten")
    for _ in range(rng.randint(0, 3)):
        kind = rng.choice(["dense", "dense", "batchnorm", "dropout"])
        layers.append(f"dense{rng.choice([1, 8, 64, 256])}{act()}" if kind == "dense" else
                      f"dropout{rng.choice([0.2, 0.5])}" if kind == "dropout" else "batchnorm")
    layers.append("dense10")
    return layers


def random_image_specs(rng: random.Random, count: int) -> list:
    specs = []
    while len(specs) < count:
        link = {"layers": ",".join(_image_layers(rng)), "batchSize": str(rng.choice([1, 2, 9, 32, 128, 512])),
                "optimizer": rng.choice(OPTIMIZERS), "learningRate": f"{10 ** rng.uniform(-4, 0):.4g}",
                "schedule": rng.choice(["none", "step", "cosine"]), "seed": str(rng.randrange(1000))}
        spec, _ = decode_image(link)
        summary = summarize(spec, 10_000)
        if summary.ok and not limit_problems(summary, spec.train.batch_size, SETTINGS):
            specs.append(spec)
    return specs


@pytest.fixture(scope="module")
def manager():
    m = JobManager(ttl_s=600, settings=SETTINGS)
    yield m
    m.shutdown()


def train_a_few_steps(manager: JobManager, specs: list, batch: int = 20, timeout_s: float = 120.0) -> None:
    [pid] = manager.worker_pids()
    for start in range(0, len(specs), batch):
        jobs = {manager.open(spec, 1): spec for spec in specs[start : start + batch]}
        for job in jobs:
            manager.send(Play(job))
        end = time.monotonic() + timeout_s
        waiting = set(jobs)
        while waiting and time.monotonic() < end:
            for job in list(waiting):
                snap, status = manager.latest(job), manager.status(job)
                assert status.error is None, (status.error, jobs[job])
                if snap is not None and (snap.step >= STEPS or snap.diverged or not snap.playing and snap.step):
                    waiting.discard(job)
            time.sleep(0.05)
        assert not waiting, [jobs[j] for j in waiting][:3]
        assert manager.worker_pids() == [pid], "a worker died"
        for job in jobs:
            manager.close(job)


def test_every_preset_trains_in_the_pool(manager):
    specs = [preset_spec(name) for name in PRESETS] + [replace(image_preset(name)) for name in IMAGE_PRESETS]
    train_a_few_steps(manager, specs)


def test_random_valid_2d_specs_train_without_killing_a_worker(manager):
    rng = random.Random(10)
    specs = [decode(random_2d_link(rng))[0] for _ in range(RANDOM_2D)]
    train_a_few_steps(manager, specs, batch=40)


def test_random_valid_image_networks_train_without_killing_a_worker(manager):
    specs = random_image_specs(random.Random(11), RANDOM_IMAGES)
    assert sum(any(layer.kind == "batchnorm" for layer in s.layers) for s in specs) >= 10  # the risky layer is reached
    train_a_few_steps(manager, specs, batch=10)
