"""The optimizer race: all seven optimizers start from one point on one surface.

Each runner is a float64 2-vector with its own torch.optim optimizer; a step is torch's own (the
tests check them against the update formulas written out by hand). A runner stops early when its
loss blows up or it runs far off the plot; the others race on.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch

from .optimizers import LABELS, make_optimizer, update
from .snapshot import RaceSnapshot, Runner, Track
from .spec import OPTIMIZERS, GradientSpec, TrainSpec
from .surfaces import get_surface

BLOW_UP = 1e6  # a loss this many times the start's (or 1, if more) counts as diverged
OFF_PLOT = 10.0  # this many plot-widths from the plot's centre: diverged, or (on the saddle) gone downhill


class _Runner:
    def __init__(self, name: str, start: tuple[float, float], train: TrainSpec, surface):
        self.name = name
        self.point = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        self.optimizer = make_optimizer(name, [self.point], train)
        self.steps = 0
        self.stopped: str | None = None
        self.diverged = False  # stopped because the loss blew up (not for running off the plot)
        self.track = Track(4)
        with torch.no_grad():
            self.loss = float(surface(self.point))
        self.start_loss = self.loss
        self.track.add((0, *start, self.loss))


class Race:
    """Seven optimizers on one surface, stepped together."""

    def __init__(self, spec: GradientSpec):
        self.spec = spec
        self.surface = get_surface(spec.surface, spec.data, spec.start)
        x0, x1, y0, y1 = self.surface.box
        self._centre, self._reach = ((x0 + x1) / 2, (y0 + y1) / 2), OFF_PLOT * max(x1 - x0, y1 - y0)
        self.runners = [self._new(name) for name in OPTIMIZERS]

    def _new(self, name: str) -> _Runner:
        return _Runner(name, self.surface.start, self.spec.train, self.surface)

    @property
    def epoch(self) -> int:
        """The race's step counter: the most steps any runner has taken."""
        return max(r.steps for r in self.runners)

    @property
    def finished(self) -> bool:
        return all(r.stopped is not None or r.steps >= self.spec.train.steps for r in self.runners)

    @property
    def diverged(self) -> str | None:
        """Set only when every runner blew up: then the race as a whole cannot go on."""
        if all(r.diverged for r in self.runners):
            return (f"Every optimizer diverged: learning rate {self.spec.train.learning_rate:g} is too large "
                    f"for this surface. Lower it and the race starts again.")
        return None

    def step(self, n: int = 1) -> None:
        """Each runner still running takes up to n more steps."""
        for r in self.runners:
            for _ in range(n):
                if r.stopped is not None or r.steps >= self.spec.train.steps:
                    break
                self._step(r)

    def _step(self, r: _Runner) -> None:
        r.optimizer.zero_grad()
        self.surface(r.point).backward()
        r.optimizer.step()
        r.steps += 1
        with torch.no_grad():
            r.loss = float(self.surface(r.point))
        x, y = (float(v) for v in r.point.detach())
        finite = all(math.isfinite(v) for v in (x, y, r.loss))
        if finite:
            r.track.add((r.steps, x, y, r.loss))
        lr = self.spec.train.learning_rate
        off = math.hypot(x - self._centre[0], y - self._centre[1]) > self._reach if finite else False
        if not finite or r.loss > BLOW_UP * max(abs(r.start_loss), 1.0) or (off and self.surface.minima):
            r.stopped = (f"Diverged at step {r.steps}: each step overshoots by more than the last, so "
                         f"learning rate {lr:g} is too large for {LABELS[r.name]} on this surface.")
            r.diverged = True
        elif off:
            r.stopped = (f"Ran off the plot at step {r.steps}. The saddle has no minimum: "
                         f"the loss keeps falling along y.")

    def apply(self, train: TrainSpec) -> None:
        """New live settings for every runner, keeping their paths; runners that blew up start over."""
        self.spec = replace(self.spec, train=train)
        for i, r in enumerate(self.runners):
            if r.diverged:
                self.runners[i] = self._new(r.name)
            else:
                update(r.optimizer, r.name, train)

    def snapshot(self) -> RaceSnapshot:
        s = self.surface
        points = {r.name: tuple(float(v) for v in r.point.detach()) for r in self.runners}
        runners = tuple(
            Runner(
                name=r.name,
                label=LABELS[r.name],
                steps=r.steps,
                loss=r.loss,
                point=points[r.name],
                distance=s.distance(points[r.name]),
                path=r.track.array(),
                stopped=r.stopped,
            )
            for r in self.runners
        )
        return RaceSnapshot(s.name, s.box, s.minima, s.start, runners, self.epoch, self.finished, self.diverged)

    def checkpoint(self) -> dict:
        """Every runner's point, optimizer state and path (copies: training on does not change it)."""
        return {"runners": [
            {"name": r.name, "point": r.point.detach().clone(), "optimizer": copy.deepcopy(r.optimizer.state_dict()),
             "steps": r.steps, "loss": r.loss, "start_loss": r.start_loss, "stopped": r.stopped,
             "diverged": r.diverged, "track": r.track.state()}
            for r in self.runners
        ]}

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint of a race on the same surface and start."""
        for r, saved in zip(self.runners, state["runners"]):
            with torch.no_grad():
                r.point.copy_(saved["point"])
            r.optimizer = make_optimizer(r.name, [r.point], self.spec.train)
            r.optimizer.load_state_dict(copy.deepcopy(saved["optimizer"]))
            update(r.optimizer, r.name, self.spec.train)
            r.steps, r.loss, r.start_loss = int(saved["steps"]), float(saved["loss"]), float(saved["start_loss"])
            r.stopped, r.diverged = saved["stopped"], bool(saved["diverged"])
            r.track.load(saved["track"])
