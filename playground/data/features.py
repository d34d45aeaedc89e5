"""Input feature maps: the columns the network sees, computed from the raw (x, y) points."""

from __future__ import annotations

import numpy as np

FEATURE_FUNCTIONS = {
    "x": lambda x, y: x,
    "y": lambda x, y: y,
    "xSquared": lambda x, y: x * x,
    "ySquared": lambda x, y: y * y,
    "xTimesY": lambda x, y: x * y,
    "sinX": lambda x, y: np.sin(x),
    "sinY": lambda x, y: np.sin(y),
}

FEATURE_LABELS = {
    "x": "X₁",
    "y": "X₂",
    "xSquared": "X₁²",
    "ySquared": "X₂²",
    "xTimesY": "X₁X₂",
    "sinX": "sin(X₁)",
    "sinY": "sin(X₂)",
}


def feature_matrix(points: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """(N, 2) points -> (N, len(features)) float32 inputs, columns in the order given."""
    x, y = points[:, 0], points[:, 1]
    return np.stack([FEATURE_FUNCTIONS[f](x, y) for f in features], 1).astype(np.float32)
