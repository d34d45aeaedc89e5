"""Checkpoints: a job's whole training state as bytes, so a job outlives the process that ran it.

A checkpoint is taken between steps by the worker and kept by the server as opaque bytes (the
server never imports torch). It is written with `torch.save` and read back with
`torch.load(weights_only=True)`: plain containers, numbers, strings and tensors only, so a
checkpoint can never run code when it is read.
"""

from __future__ import annotations

import io

import numpy as np
import torch


def to_bytes(state: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def from_bytes(blob: bytes) -> dict:
    return torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")


def tensor(array: np.ndarray | None) -> torch.Tensor | None:
    """A numpy array as a tensor a weights-only checkpoint can hold (numpy arrays it cannot)."""
    return None if array is None else torch.from_numpy(np.ascontiguousarray(array))


def array(value: torch.Tensor | None) -> np.ndarray | None:
    return None if value is None else value.numpy().copy()
