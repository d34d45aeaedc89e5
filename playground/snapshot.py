"""What a training job reports: plain numbers and numpy arrays, never tensors or modules.

Snapshots cross process boundaries (and one day machine boundaries), so they are small, plain
dataclasses that pickle cheaply. The Streamlit side imports this module without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    node_pictures: list[list[str]] | None = None  # the diagram's thumbnails of `nodes` (PNG data URIs)
    # Set by the job that publishes it:
    job_id: str = ""
    seq: int = 0
    spec_version: int = 0
    acked: int = 0  # the last command (by its number) the job had handled when this was taken
    playing: bool = False
    notice: str | None = None  # what happened to the job that the page should say (e.g. it was restored)


@dataclass
class ImageSnapshot:
    """What an image-training job reports (numpy and numbers only)."""

    epoch: int  # completed epochs
    step: int  # updates so far
    steps_per_epoch: int
    epoch_progress: float  # 0..1 of the current epoch
    eta_s: float | None  # seconds left in the current epoch at the recent pace
    finished: bool  # all requested epochs done
    train_curve: np.ndarray  # (k, 3): step, loss, accuracy (averaged over a few batches)
    test_curve: np.ndarray  # (m, 4): step, epoch, loss, accuracy
    confusion: np.ndarray | None  # (10, 10) counts, rows = true digit, at the last test evaluation
    misclassified: np.ndarray | None  # (j, 3) int: test index, true, predicted
    misclassified_confidence: np.ndarray | None  # (j,) probability of the wrong prediction
    filters: np.ndarray | None  # first conv layer's kernels (F, k, k), or None without conv
    feature_maps: list[np.ndarray]  # per conv layer, (channels <= 16, h, w) for the probe image
    probe_index: int  # which test image the feature maps show
    prediction: np.ndarray | None  # (10,) probabilities for the drawn digit, if any
    drawing_id: int  # which drawing `prediction` belongs to
    device: str
    diverged: str | None = None
    tested: tuple[int, int] | None = None  # (images tested, test set size) while an evaluation runs
    job_id: str = ""
    seq: int = 0
    spec_version: int = 0
    acked: int = 0
    playing: bool = False
    notice: str | None = None
