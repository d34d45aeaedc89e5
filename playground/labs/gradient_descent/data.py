"""The points the lab fits, their features, and the answer gradient descent should find.

Numpy only, so the page can draw the points without torch. The line's x lies in [-1, 1], where
raw x is already well scaled, so its (w, b) are the numbers the person typed. The curve's
polynomial features x, x², ..., x^d are standardised on the training points: raw powers of x are
nearly collinear and of very different sizes, and gradient descent would crawl.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import DataSpec

HOLDOUT = 50  # held-out validation points, drawn like the training points


@dataclass(frozen=True)
class Points:
    x: np.ndarray  # (n,)
    y: np.ndarray
    x_val: np.ndarray  # (HOLDOUT,)
    y_val: np.ndarray


def curve(x: np.ndarray) -> np.ndarray:
    """The curve's noiseless truth."""
    return np.sin(np.pi * x)


def make_points(data: DataSpec, kind: str | None = None) -> Points:
    """Seeded training and validation points; `kind` overrides data.kind (the race's line surface
    uses the line whatever the fit shows)."""
    kind = kind or data.kind

    def draw(stream: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([data.seed, stream])
        x = rng.uniform(-1.0, 1.0, n)
        clean = data.w * x + data.b if kind == "line" else curve(x)
        return x, clean + data.noise * rng.standard_normal(n)

    x, y = draw(0, data.points)
    x_val, y_val = draw(1, HOLDOUT)
    return Points(x, y, x_val, y_val)


@dataclass(frozen=True)
class Features:
    """Maps x to the design matrix [features..., 1]; the curve's powers standardised on training x."""

    degree: int
    mean: np.ndarray  # (degree,)
    std: np.ndarray

    def __call__(self, x: np.ndarray) -> np.ndarray:
        powers = np.stack([np.asarray(x, dtype=np.float64) ** k for k in range(1, self.degree + 1)], -1)
        return np.concatenate([(powers - self.mean) / self.std, np.ones((len(powers), 1))], 1)


def make_features(data: DataSpec, x_train: np.ndarray) -> Features:
    """The line's feature is x itself (so the fit's coefficients are w and b)."""
    if data.kind == "line":
        return Features(1, np.zeros(1), np.ones(1))
    powers = np.stack([x_train**k for k in range(1, data.degree + 1)], -1)
    std = powers.std(0)
    return Features(data.degree, powers.mean(0), np.where(std > 1e-12, std, 1.0))


def least_squares(design: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The closed-form optimum of the MSE (the smallest one, where many fit equally well)."""
    return np.linalg.lstsq(design, y, rcond=None)[0]


def mse(design: np.ndarray, y: np.ndarray, coef: np.ndarray) -> float:
    return float(np.mean((design @ coef - y) ** 2))


def sharpness(design: np.ndarray) -> float:
    """L, the MSE's largest curvature: full-batch gradient descent diverges for a learning rate
    above 2/L (the Hessian of mean((Xθ - y)²) is 2XᵀX/n)."""
    return float(np.linalg.eigvalsh(2.0 * design.T @ design / len(design))[-1])
