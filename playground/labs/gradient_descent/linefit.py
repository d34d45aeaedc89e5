"""Fit a line (or a polynomial curve) by gradient descent, recording the path over (w, b).

All coefficients live in one float64 parameter θ = (w1, ..., wd, b), so torch.optim takes the
same steps the lab draws. Mini-batches are drawn from one torch generator seeded by the spec, so
a run is the same however often anybody looks, and a checkpoint continues it bit for bit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import numpy as np
import torch

from .data import least_squares, make_features, make_points, mse, sharpness
from .optimizers import LABELS, make_optimizer, stability_limit, update
from .snapshot import FitSnapshot, Track
from .spec import GradientSpec, TrainSpec
from .surfaces import LINE_START, line_surface

BLOW_UP = 1e6  # a loss this many times the start's (or 1, if more) counts as diverged
FIT_POINTS = 120  # where the current fit is drawn
FORMULAS = {"sgd": "2/L", "momentum": "2(1+μ)/L", "nesterov": "2(1+μ)/((1+2μ)L)"}


class LineFit:
    """Gradient descent on the MSE of a line or polynomial through the spec's points."""

    def __init__(self, spec: GradientSpec):
        self.spec = spec
        d = spec.data
        self.points = make_points(d)
        self.features = make_features(d, self.points.x)
        design, design_val = self.features(self.points.x), self.features(self.points.x_val)
        self.x, self.y = torch.from_numpy(design), torch.from_numpy(self.points.y)
        self.x_val, self.y_val = torch.from_numpy(design_val), torch.from_numpy(self.points.y_val)
        self.optimum = least_squares(design, self.points.y)
        self.optimum_loss = mse(design, self.points.y, self.optimum)
        self.sharpness = sharpness(design)  # L: full-batch GD needs learning rate < 2/L
        self.box = line_surface(d, spec.start).box if d.kind == "line" else None  # a curve has no (w, b) plane
        self._fit_x = np.linspace(-1.0, 1.0, FIT_POINTS)
        self._fit_design = torch.from_numpy(self.features(self._fit_x))
        self._begin()

    def _begin(self) -> None:
        """Back to the start point with a fresh optimizer and an empty path."""
        w, b = self.spec.start or LINE_START
        theta = torch.zeros(self.x.shape[1], dtype=torch.float64)
        theta[0], theta[-1] = w, b
        self.theta = torch.nn.Parameter(theta)
        self.optimizer = make_optimizer(self.spec.train.optimizer, [self.theta], self.spec.train)
        self.generator = torch.Generator().manual_seed(self.spec.data.seed)
        self.step_count = 0
        self.epoch = 0
        self._order: torch.Tensor | None = None  # this epoch's shuffled indices (mini-batch only)
        self._pos = 0
        self.diverged: str | None = None
        self.track = Track(5)
        self.start_loss, val = self._losses()
        self.track.add((0, w, b, self.start_loss, val))

    @torch.no_grad()
    def _losses(self) -> tuple[float, float]:
        train = torch.mean((self.x @ self.theta - self.y) ** 2)
        val = torch.mean((self.x_val @ self.theta - self.y_val) ** 2)
        return float(train), float(val)

    @property
    def finished(self) -> bool:
        return self.step_count >= self.spec.train.steps

    def _batch(self) -> torch.Tensor | None:
        """The next mini-batch's indices (None: full batch); an epoch ends when the shuffle is used up."""
        n, size = len(self.y), self.spec.train.batch_size
        if size == 0 or size >= n:
            self.epoch += 1
            return None
        if self._order is None:
            self._order, self._pos = torch.randperm(n, generator=self.generator), 0
        batch = self._order[self._pos : self._pos + size]
        self._pos += len(batch)
        if self._pos >= n:
            self._order, self.epoch = None, self.epoch + 1
        return batch

    def step(self, n: int = 1) -> None:
        """Up to n updates; stops early when finished or diverged."""
        for _ in range(n):
            if self.finished or self.diverged is not None:
                return
            batch = self._batch()
            x, y = (self.x, self.y) if batch is None else (self.x[batch], self.y[batch])
            self.optimizer.zero_grad()
            torch.mean((x @ self.theta - y) ** 2).backward()
            self.optimizer.step()
            self.step_count += 1
            loss, val = self._losses()
            finite = math.isfinite(loss) and bool(torch.isfinite(self.theta).all())
            if finite:
                theta = self.theta.detach()
                self.track.add((self.step_count, float(theta[0]), float(theta[-1]), loss, val))
            if not finite or loss > BLOW_UP * max(self.start_loss, 1.0):
                self.diverged = self.explain(loss)

    def explain(self, loss: float) -> str:
        """What happened, why, and what to change, in plain English."""
        t = self.spec.train
        lr, name = t.learning_rate, t.optimizer
        grew = (f"grew from {self.start_loss:.3g} to {loss:.3g}" if math.isfinite(loss)
                else "became infinite or NaN (not a number)")
        text = f"Diverged at step {self.step_count}: the training MSE {grew}. "
        limit = stability_limit(name, t, self.sharpness)
        full = t.batch_size == 0 or t.batch_size >= len(self.y)
        if limit is not None and lr > limit:
            text += (f"Learning rate {lr:g} is above {FORMULAS[name]} = {limit:.3g} for this data "
                     f"(L = {self.sharpness:.3g} is the MSE's steepest curvature): each step overshoots "
                     f"the bottom of the valley and lands farther up the other side. Lower the learning "
                     f"rate below {limit:.3g}")
            text += "." if full else ", and a little more for mini-batches, whose own curvature varies."
        elif limit is not None:
            points = f"{t.batch_size} point{'s' * (t.batch_size > 1)}"
            text += (f"Learning rate {lr:g} is below {FORMULAS[name]} = {limit:.3g} for all the data, but a "
                     f"mini-batch of {points} can be steeper: lower the learning rate or use larger batches.")
        else:
            text += f"Learning rate {lr:g} is too large for {LABELS[name]} here: lower it (try {lr / 10:g})."
        return text + " Change it and the run starts again from the start point."

    def apply(self, train: TrainSpec) -> None:
        """New live settings at this step boundary; the path is kept (a diverged run starts over)."""
        old = self.spec.train
        self.spec = replace(self.spec, train=train)
        if self.diverged is not None:
            self._begin()
        elif train.optimizer != old.optimizer:
            self.optimizer = make_optimizer(train.optimizer, [self.theta], train)
        else:
            update(self.optimizer, train.optimizer, train)

    @torch.no_grad()
    def snapshot(self) -> FitSnapshot:
        loss, val = self._losses()
        return FitSnapshot(
            step=self.step_count,
            epoch=self.epoch,
            loss=loss,
            val_loss=val,
            coef=tuple(float(v) for v in self.theta.detach()),
            track=self.track.array(),
            fit_x=self._fit_x.copy(),
            fit_y=(self._fit_design @ self.theta).numpy().copy(),
            optimum=tuple(float(v) for v in self.optimum),
            optimum_loss=self.optimum_loss,
            box=self.box,
            finished=self.finished,
            diverged=self.diverged,
        )

    def checkpoint(self) -> dict:
        """Everything needed to carry on exactly from here: tensors, numbers, lists (copies)."""
        return {
            "theta": self.theta.detach().clone(),
            "optimizer_name": self.spec.train.optimizer,
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "generator": self.generator.get_state(),
            "step_count": self.step_count,
            "epoch": self.epoch,
            "order": None if self._order is None else self._order.clone(),
            "pos": self._pos,
            "start_loss": self.start_loss,
            "track": self.track.state(),
            "diverged": self.diverged,
        }

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint of a fit with the same data; the live settings stay this one's."""
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        name = self.spec.train.optimizer
        self.optimizer = make_optimizer(name, [self.theta], self.spec.train)
        if state["optimizer_name"] == name:
            self.optimizer.load_state_dict(copy.deepcopy(state["optimizer"]))
            update(self.optimizer, name, self.spec.train)
        self.generator.set_state(state["generator"])
        self.step_count, self.epoch = int(state["step_count"]), int(state["epoch"])
        self._order = None if state["order"] is None else state["order"].clone()
        self._pos = int(state["pos"])
        self.start_loss = float(state["start_loss"])
        self.track.load(state["track"])
        self.diverged = state["diverged"]
