"""The playground's diverging palette: orange for negative, blue for positive (as TF Playground)."""

from __future__ import annotations

import numpy as np

NEGATIVE = (245, 147, 34)  # #f59322
MIDDLE = (232, 234, 235)  # #e8eaeb
POSITIVE = (8, 119, 189)  # #0877bd

PLOTLY_SCALE = [[0.0, "#f59322"], [0.5, "#e8eaeb"], [1.0, "#0877bd"]]


def to_rgb(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (clipped) -> uint8 RGB of the same shape plus a trailing 3."""
    v = np.clip(np.nan_to_num(values, nan=0.0), -1, 1)[..., None]
    mid, neg, pos = (np.array(c, dtype=np.float32) for c in (MIDDLE, NEGATIVE, POSITIVE))
    rgb = np.where(v < 0, mid + (neg - mid) * -v, mid + (pos - mid) * v)
    return rgb.astype(np.uint8)


def weight_color(w: float) -> str:
    return "#0877bd" if w > 0 else "#f59322"
