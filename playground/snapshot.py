"""What a training job reports: plain numbers and numpy arrays, never tensors or modules.

Snapshots cross process boundaries (and one day machine boundaries), so they are small, plain
dataclasses that pickle cheaply. The Streamlit side imports this module without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class History:
    """Per-epoch metrics, possibly thinned out for long runs (epochs says which)."""

    epoch: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray | None = None
    test_acc: np.ndarray | None = None


@dataclass
class Snapshot:
    epoch: int
    step: int
    train_loss: float
    test_loss: float
    train_acc: float | None
    test_acc: float | None
    history: History
    boundary: np.ndarray  # (G, G) network output over the input square; probability if classifying
    nodes: list[np.ndarray]  # per layer (inputs, hidden..., output): (units, g, g) node outputs
    weights: list[np.ndarray]  # per Linear: (out, in)
    biases: list[np.ndarray]
    diverged: str | None = None  # the explanation shown to the person, when training blew up
    # Set by the job that publishes it:
    job_id: str = ""
    seq: int = 0
    spec_version: int = 0
    playing: bool = False
    notes: list[str] = field(default_factory=list)
