"""Loss surfaces: torch functions of a point (x, y), with a box to plot and their known minima.

Every function takes a tensor of shape (..., 2) and returns shape (...), so the same code gives the
optimizers their loss (autograd supplies the gradient) and the contour plot its grid at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch

from .data import least_squares, make_points
from .spec import BOXES, DataSpec

LINE_START = (-2.0, 2.0)  # the line fit's default start (w, b)


@dataclass(frozen=True)
class Surface:
    name: str
    label: str
    f: Callable[[torch.Tensor], torch.Tensor]  # (..., 2) -> (...)
    box: tuple[float, float, float, float]  # x0, x1, y0, y1
    minima: tuple[tuple[float, float], ...]  # empty: there is none
    start: tuple[float, float]  # where a race starts unless the person picks a point
    note: str

    def __call__(self, p: torch.Tensor) -> torch.Tensor:
        return self.f(p)

    def distance(self, p: tuple[float, float]) -> float | None:
        """Distance to the nearest minimum; None where the surface has none (the saddle)."""
        if not self.minima:
            return None
        return min(float(np.hypot(p[0] - m[0], p[1] - m[1])) for m in self.minima)


def ravine(p: torch.Tensor) -> torch.Tensor:
    """An elongated bowl: 20 times steeper across than along, so plain SGD zigzags and crawls."""
    return 0.1 * p[..., 0] ** 2 + 2.0 * p[..., 1] ** 2


def rosenbrock(p: torch.Tensor) -> torch.Tensor:
    """A curved, nearly flat valley: easy to fall into, slow to follow to (1, 1)."""
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def beale(p: torch.Tensor) -> torch.Tensor:
    """Flat plateaus and steep walls, minimum at (3, 0.5)."""
    x, y = p[..., 0], p[..., 1]
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def saddle(p: torch.Tensor) -> torch.Tensor:
    """x² - y²: a minimum along x, a maximum along y, and no lowest point at all."""
    return p[..., 0] ** 2 - p[..., 1] ** 2


def line_mse(moments: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """The line fit's MSE at (w, b), from the data's moments (mean x², x, xy, y, y²): exact and cheap on a grid."""
    sxx, sx, sxy, sy, syy = moments
    w, b = p[..., 0], p[..., 1]
    return w * w * sxx + 2 * w * b * sx + b * b - 2 * w * sxy - 2 * b * sy + syy


FIXED = {
    "ravine": (ravine, "Ravine (elongated quadratic)", ((0.0, 0.0),), (-4.5, 1.5),
               "A long narrow valley: the gradient points across it, not along it."),
    "rosenbrock": (rosenbrock, "Rosenbrock", ((1.0, 1.0),), (-1.2, 1.0),
                   "Finding the valley is easy; following its curve to (1, 1) is not."),
    "beale": (beale, "Beale", ((3.0, 0.5),), (1.0, 1.0),
              "Plateaus where gradients vanish next to walls where they explode."),
    "saddle": (saddle, "Saddle (x² − y²)", (), (-1.8, 0.05),
               "No minimum: the loss falls forever along y. Distance to the optimum does not apply."),
}


def line_surface(data: DataSpec, start: tuple[float, float] | None = None) -> Surface:
    """The MSE over (w, b) of the line through `data`'s points; its box holds the optimum and the start."""
    pts = make_points(data, "line")
    x, y = pts.x, pts.y
    moments = torch.tensor([np.mean(x * x), np.mean(x), np.mean(x * y), np.mean(y), np.mean(y * y)], dtype=torch.float64)
    w, b = least_squares(np.stack([x, np.ones_like(x)], 1), y)
    start = start or LINE_START
    half = max(3.0, 1.3 * max(abs(start[0] - w), abs(start[1] - b)))
    box = (float(w - half), float(w + half), float(b - half), float(b + half))
    return Surface("line", "Line fit MSE over (w, b)", partial(line_mse, moments), box, ((float(w), float(b)),),
                   start, "A round bowl when x is spread evenly around 0; its bottom is the least-squares line.")


def get_surface(name: str, data: DataSpec | None = None, start: tuple[float, float] | None = None) -> Surface:
    """A surface by name (the line fit's needs the data); `start` overrides its default start."""
    if name == "line":
        return line_surface(data or DataSpec(), start)
    f, label, minima, default_start, note = FIXED[name]
    return Surface(name, label, f, BOXES[name], minima, start or default_start, note)


def grid(surface: Surface, n: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xs (n,), ys (n,) and z (n, n) with z[i, j] = f(xs[j], ys[i]), as Plotly's contour takes them."""
    x0, x1, y0, y1 = surface.box
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    xx, yy = np.meshgrid(xs, ys)
    with torch.no_grad():
        z = surface(torch.from_numpy(np.stack([xx, yy], -1))).numpy()
    return xs, ys, z
