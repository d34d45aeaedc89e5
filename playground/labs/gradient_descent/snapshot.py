"""What the lab's trainers report, and the bounded path they keep.

Snapshots are small frozen dataclasses of numbers and numpy arrays (no tensors), so they pickle
cheaply across processes and the page imports this module without torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HEAD = 250  # the first points of a path are kept exactly: that is where the zigzags are
TAIL = 500  # after those, at most about this many, evenly spaced (the stride doubles)


class Track:
    """Rows of floats (step first) that stay bounded however long the run: the first HEAD rows
    exactly, then every `stride`-th step, plus always the newest row."""

    def __init__(self, width: int):
        self.rows: list[tuple[float, ...]] = []
        self.width = width
        self.stride = 1

    def add(self, row: tuple[float, ...]) -> None:
        rows = self.rows
        if len(rows) > HEAD and int(rows[-1][0]) % self.stride:  # the newest was only kept for being newest
            rows.pop()
        rows.append(tuple(float(v) for v in row))
        if len(rows) > HEAD + TAIL:
            self.stride *= 2
            self.rows = rows[:HEAD] + [r for r in rows[HEAD:-1] if int(r[0]) % self.stride == 0] + [rows[-1]]

    def array(self) -> np.ndarray:
        return np.asarray(self.rows, dtype=np.float64).reshape(-1, self.width)

    def state(self) -> dict:
        return {"rows": [list(r) for r in self.rows], "stride": self.stride}

    def load(self, state: dict) -> None:
        self.rows = [tuple(float(v) for v in r) for r in state["rows"]]
        self.stride = int(state["stride"])


@dataclass(frozen=True, eq=False)
class FitSnapshot:
    """The line (or curve) fit: what both plots and the numbers beside them need."""

    step: int
    epoch: int
    loss: float  # training MSE now
    val_loss: float  # MSE on the held-out points
    coef: tuple[float, ...]  # (w1, ..., wd, b) in the features' units
    track: np.ndarray  # (k, 5): step, w, b, training MSE, validation MSE (w is the first coefficient)
    fit_x: np.ndarray  # (m,) where the current fit is drawn
    fit_y: np.ndarray
    optimum: tuple[float, ...]  # the least-squares coefficients
    optimum_loss: float
    box: tuple[float, float, float, float] | None  # the MSE contour's (w, b) box; None for a curve
    finished: bool
    diverged: str | None


@dataclass(frozen=True, eq=False)
class Runner:
    """One optimizer in the race."""

    name: str
    label: str
    steps: int
    loss: float
    point: tuple[float, float]
    distance: float | None  # to the nearest minimum; None on the saddle
    path: np.ndarray  # (k, 4): step, x, y, loss
    stopped: str | None  # why it stopped early (diverged, ran off the surface), in words


@dataclass(frozen=True, eq=False)
class RaceSnapshot:
    surface: str
    box: tuple[float, float, float, float]
    minima: tuple[tuple[float, float], ...]
    start: tuple[float, float]
    runners: tuple[Runner, ...]
    step: int  # the race's step counter (every runner still running has taken this many)
    finished: bool
    diverged: str | None  # set only when every runner has stopped early
