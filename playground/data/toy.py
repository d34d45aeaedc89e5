"""Seeded 2-D data sets, after TensorFlow Playground's `dataset.ts`.

Points live in the square [-6, 6]^2. Classification labels are 0 and 1 (TF Playground uses -1 and
1 with a tanh output; we train a sigmoid output with binary cross-entropy); regression labels lie
in [-1, 1]. Every generator takes a numpy `Generator`, so one seed always gives the same points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import DataSpec

DOMAIN = 6.0  # points and heatmaps cover [-DOMAIN, DOMAIN]^2


@dataclass(frozen=True)
class ToyData:
    """Train and test points (float32) with their labels, split as the spec says."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def circle(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 5.0
    half = n // 2
    r = np.concatenate([_uniform(rng, 0, radius * 0.5, half), _uniform(rng, radius * 0.7, radius, n - half)])
    angle = _uniform(rng, 0, 2 * np.pi, n)
    x, y = r * np.sin(angle), r * np.cos(angle)
    nx, ny = _uniform(rng, -radius, radius, n) * noise, _uniform(rng, -radius, radius, n) * noise
    label = (np.hypot(x + nx, y + ny) < radius * 0.5).astype(np.float32)
    return np.stack([x, y], 1), label


def xor(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    padding = 0.3
    x, y = _uniform(rng, -5, 5, n), _uniform(rng, -5, 5, n)
    x += np.where(x > 0, padding, -padding)
    y += np.where(y > 0, padding, -padding)
    nx, ny = _uniform(rng, -5, 5, n) * noise, _uniform(rng, -5, 5, n) * noise
    label = ((x + nx) * (y + ny) >= 0).astype(np.float32)
    return np.stack([x, y], 1), label


def gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    variance = 0.5 + (4.0 - 0.5) * (noise / 0.5)
    half = n // 2
    centers = np.concatenate([np.full((half, 2), 2.0), np.full((n - half, 2), -2.0)])
    points = centers + rng.normal(0, np.sqrt(variance), (n, 2))
    label = np.concatenate([np.ones(half), np.zeros(n - half)]).astype(np.float32)
    return points, label


def spiral(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    parts, labels = [], []
    for delta, label, count in ((0.0, 1.0, half), (np.pi, 0.0, n - half)):
        i = np.arange(count)
        r = i / count * 5
        t = 1.75 * i / count * 2 * np.pi + delta
        x = r * np.sin(t) + _uniform(rng, -1, 1, count) * noise
        y = r * np.cos(t) + _uniform(rng, -1, 1, count) * noise
        parts.append(np.stack([x, y], 1))
        labels.append(np.full(count, label))
    return np.concatenate(parts), np.concatenate(labels).astype(np.float32)


def moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    half = n // 2
    t_top, t_bottom = _uniform(rng, 0, np.pi, half), _uniform(rng, 0, np.pi, n - half)
    top = np.stack([np.cos(t_top), np.sin(t_top)], 1)
    bottom = np.stack([1 - np.cos(t_bottom), 0.5 - np.sin(t_bottom)], 1)
    points = (np.concatenate([top, bottom]) - [0.5, 0.25]) * 3.5
    points += rng.normal(0, 1, (n, 2)) * noise * 2.5
    label = np.concatenate([np.ones(half), np.zeros(n - half)]).astype(np.float32)
    return points, label


def checkerboard(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x, y = _uniform(rng, -5, 5, n), _uniform(rng, -5, 5, n)
    nx, ny = _uniform(rng, -5, 5, n) * noise, _uniform(rng, -5, 5, n) * noise
    cell = 2.5  # a 4 x 4 board over [-5, 5]
    label = ((np.floor((x + nx) / cell) + np.floor((y + ny) / cell)) % 2 == 0).astype(np.float32)
    return np.stack([x, y], 1), label


def reg_plane(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 6.0
    x, y = _uniform(rng, -radius, radius, n), _uniform(rng, -radius, radius, n)
    nx, ny = _uniform(rng, -radius, radius, n) * noise, _uniform(rng, -radius, radius, n) * noise
    label = np.clip((x + nx + y + ny) / 10.0, -1, 1).astype(np.float32)
    return np.stack([x, y], 1), label


_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def reg_gauss_label(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The strongest of six signed bumps at each point (TF Playground's 'multi-Gaussian')."""
    bumps = np.stack([sign * np.clip(1 - np.hypot(x - cx, y - cy) / 2, 0, 1) for cx, cy, sign in _GAUSSIANS])
    strongest = np.abs(bumps).argmax(0)
    return np.take_along_axis(bumps, strongest[None], 0)[0]


def reg_gauss(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    radius = 6.0
    x, y = _uniform(rng, -radius, radius, n), _uniform(rng, -radius, radius, n)
    nx, ny = _uniform(rng, -radius, radius, n) * noise, _uniform(rng, -radius, radius, n) * noise
    return np.stack([x, y], 1), reg_gauss_label(x + nx, y + ny).astype(np.float32)


GENERATORS = {
    "circle": circle,
    "xor": xor,
    "gauss": gauss,
    "spiral": spiral,
    "moons": moons,
    "checkerboard": checkerboard,
    "reg-plane": reg_plane,
    "reg-gauss": reg_gauss,
}


def make_data(spec: DataSpec) -> ToyData:
    """Generate, shuffle and split the points a (validated) data spec describes."""
    rng = np.random.default_rng(spec.seed)
    points, labels = GENERATORS[spec.name](spec.num_samples, spec.noise / 100.0, rng)
    order = rng.permutation(len(points))
    points, labels = points[order].astype(np.float32), labels[order].astype(np.float32)
    k = spec.num_train
    return ToyData(points[:k], labels[:k], points[k:], labels[k:])
