"""Small raster helpers: numpy arrays -> tiled pictures -> PNG bytes (no Pillow needed)."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

from .colors import to_rgb


def png_bytes(rgb: np.ndarray) -> bytes:
    """Encode an (H, W, 3) uint8 array as a PNG."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def grid_picture(values: np.ndarray) -> str:
    """A (g, g) grid in [-1, 1] over the input square (row 0 at the bottom, y up) as a PNG data
    URI in the playground's palette: the decision boundary and every neuron's thumbnail."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(to_rgb(values[::-1]))).decode()


def gray(images: np.ndarray) -> np.ndarray:
    """Values scaled to their own min..max -> RGB grey, high values dark (like ink)."""
    lo, hi = float(images.min()), float(images.max())
    scaled = (images - lo) / (hi - lo) if hi > lo else np.zeros_like(images, dtype=np.float32)
    level = (255 * (1 - scaled)).astype(np.uint8)
    return np.repeat(level[..., None], 3, axis=-1)


def diverging(images: np.ndarray) -> np.ndarray:
    """Values scaled by their largest magnitude -> orange (negative) / blue (positive) RGB."""
    peak = float(np.abs(images).max()) or 1.0
    return to_rgb(images / peak)


def tile(rgb: np.ndarray, columns: int, scale: int = 1, gap: int = 1) -> np.ndarray:
    """(N, h, w, 3) pictures -> one (H, W, 3) grid, each enlarged `scale` times, white gaps."""
    n, h, w, _ = rgb.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    big = rgb.repeat(scale, 1).repeat(scale, 2)
    sh, sw = h * scale, w * scale
    out = np.full((rows * (sh + gap) - gap, columns * (sw + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (sh + gap) : r * (sh + gap) + sh, c * (sw + gap) : c * (sw + gap) + sw] = big[i]
    return out
