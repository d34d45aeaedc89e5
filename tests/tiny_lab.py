"""A lab written the way a new page would be, used by `test_labs.py` to show that adding one
needs nothing outside its own code, its page and a `register` call.

It fits one number w to a target by gradient descent on (w - target)^2: no torch, so it builds
fast in a worker. Importing this module registers it (a worker imports it when it unpickles a
`TinySpec`); the test unregisters it when done.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from playground import labs
from playground.sharelink import _num, _start


@dataclass(frozen=True)
class TinyTrain:
    learning_rate: float = 0.1


@dataclass(frozen=True)
class TinySpec:
    target: float = 3.0
    start: float = 0.0
    train: TinyTrain = field(default_factory=TinyTrain)
    STRUCTURE_NAMES = ("target", "start")

    def structure(self) -> tuple:
        return (self.target, self.start)


def decode(params: Mapping) -> tuple[TinySpec, list[str]]:
    params, notes, read = _start(params, ("target", "start", "learningRate"))
    spec = TinySpec(read.number("target", 3.0), read.number("start", 0.0),
                    TinyTrain(read.number("learningRate", 0.1)))
    return spec, notes


def encode(spec: TinySpec) -> dict[str, str]:
    return {"target": _num(spec.target), "start": _num(spec.start), "learningRate": _num(spec.train.learning_rate)}


@dataclass
class TinySnapshot:
    epoch: int
    step: int
    w: float
    loss: float
    diverged: str | None = None
    job_id: str = ""
    seq: int = 0
    spec_version: int = 0
    acked: int = 0
    playing: bool = False
    notice: str | None = None


class TinyTrainer:
    """Ten gradient steps make an epoch."""

    parallel = False
    STEPS = 10

    def __init__(self, spec: TinySpec):
        self.spec, self.w, self.epoch, self.step_count, self.diverged = spec, float(spec.start), 0, 0, None

    finished = property(lambda self: False)
    pending = property(lambda self: False)
    steps_left_in_epoch = property(lambda self: self.STEPS - self.step_count % self.STEPS)

    def loss(self) -> float:
        return (self.w - self.spec.target) ** 2

    def step(self, n: int = 1) -> int:
        for done in range(n):
            if self.diverged:
                return done
            self.w -= self.spec.train.learning_rate * 2 * (self.w - self.spec.target)
            self.step_count += 1
            self.epoch = self.step_count // self.STEPS
            if not math.isfinite(self.loss()):
                self.diverged = "the loss blew up"
        return n

    def settle(self, n: int = 1) -> int:
        return 0

    def run_epochs(self, n: int = 1) -> None:
        target = self.epoch + n
        while self.epoch < target and not self.diverged:
            self.step(self.steps_left_in_epoch)

    def apply(self, train: TinyTrain) -> None:
        self.spec = replace(self.spec, train=train)

    def probe(self, **request) -> None:
        pass

    def snapshot(self, share: int = 1) -> TinySnapshot:
        return TinySnapshot(self.epoch, self.step_count, self.w, self.loss(), self.diverged)

    def resume_after_divergence(self) -> None:
        self.diverged = None

    def checkpoint(self) -> bytes:
        return json.dumps([self.w, self.step_count]).encode()

    def restore(self, blob: bytes) -> None:
        self.w, self.step_count = json.loads(blob)
        self.epoch = self.step_count // self.STEPS

    def metrics(self) -> dict[str, float]:
        return {"loss": self.loss()}

    def about(self) -> str | None:
        return None


LAB = labs.register(labs.Lab(
    name="tiny", title="Tiny", icon=":material/science:", url_path="tiny", page="tests/tiny.py",
    spec_type=TinySpec, decode=decode, encode=encode, trainer=TinyTrainer,
    presets=lambda: {"close": ("Start next to the target", TinySpec(start=2.9))},
))


def query(spec: TinySpec) -> str:
    return urlencode(encode(spec))
