"""A digit drawn on the page -> a 28x28 image prepared the way MNIST's digits were.

MNIST digits were size-normalised to fit a 20x20 box and centred by their centre of mass in a
28x28 field. A raw downscale of a 280x280 drawing looks nothing like that (thin, off-centre), and
the network's guesses would be poor for reasons that have nothing to do with the network.
"""

from __future__ import annotations

import numpy as np


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-averaging resize (numpy only)."""
    h, w = image.shape
    rows = np.linspace(0, h, height + 1)
    cols = np.linspace(0, w, width + 1)
    row_sum = np.add.reduceat(image, np.floor(rows[:-1]).astype(int), axis=0)
    counts_r = np.diff(np.floor(rows).astype(int))
    row_sum = row_sum / np.maximum(counts_r, 1)[:, None]
    col_sum = np.add.reduceat(row_sum, np.floor(cols[:-1]).astype(int), axis=1)
    counts_c = np.diff(np.floor(cols).astype(int))
    return col_sum / np.maximum(counts_c, 1)[None, :]


def to_mnist(rgba: np.ndarray | None) -> np.ndarray | None:
    """(H, W, 3 or 4) drawing, dark strokes on white or transparent -> (28, 28) float32 in [0, 1].

    Returns None for an empty pad.
    """
    if rgba is None:
        return None
    image = np.asarray(rgba, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] < 3 or min(image.shape[:2]) < 8:
        return None
    alpha = image[..., 3:4] / 255.0 if image.shape[2] == 4 else 1.0
    on_white = image[..., :3] * alpha + 255.0 * (1 - alpha)  # a transparent pad counts as white
    ink = np.clip(1.0 - on_white.mean(2) / 255.0, 0, 1)
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    if rows.size == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = ink.shape
    scale = 20.0 / max(h, w)
    small = _resize(ink, max(1, round(h * scale)), max(1, round(w * scale)))
    field = np.zeros((28, 28), np.float32)
    top, left = (28 - small.shape[0]) // 2, (28 - small.shape[1]) // 2
    field[top : top + small.shape[0], left : left + small.shape[1]] = small
    total = field.sum()
    if total > 0:  # shift the centre of mass to the middle
        yy, xx = np.mgrid[0:28, 0:28]
        dy, dx = int(round(13.5 - (yy * field).sum() / total)), int(round(13.5 - (xx * field).sum() / total))
        field = np.roll(field, (dy, dx), axis=(0, 1))
    return np.clip(field / max(field.max(), 1e-6), 0, 1).astype(np.float32)
