"""The synchronous trainer: the same object runs in a worker process, in tests and in the CLI.

All randomness comes from one torch generator seeded by the spec (initial weights, then each
epoch's batch order). Evaluation, snapshots and time slicing draw nothing from it, so the loss at
epoch k is the same however often anybody looks.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from .checkpoint import from_bytes, to_bytes
from .data.features import feature_matrix
from .data.toy import DOMAIN, make_data
from .fastpath import loss_grad, loss_value, mlp_backward, mlp_forward
from .model import build_model
from .netdiagram import node_pictures
from .snapshot import History, Snapshot
from .spec import RunSpec, TrainSpec

BOUNDARY_GRID = 100  # output heatmap resolution, as TensorFlow Playground's
NODE_GRID = 24  # resolution of each neuron's thumbnail
MAX_HISTORY_POINTS = 300  # snapshots thin long histories to about this many (a chart is ~500 px wide)
KEPT_HISTORY_POINTS = 2 * MAX_HISTORY_POINTS  # the trainer itself keeps at most about this many

DIVERGED_MESSAGE = (
    "Training stopped at epoch {epoch}: the loss became {what}, so the weights blew up. "
    "The network is back to where it was before that epoch. Try a lower learning rate "
    "(now {lr:g}), a smaller regularization rate, or a different optimizer, then press play."
)


HISTORY_KEYS = ("epoch", "train_loss", "test_loss", "train_acc", "test_acc")


def grid_points(n: int) -> np.ndarray:
    """(n*n, 2) points covering the input square, row by row from the bottom (y ascending)."""
    axis = np.linspace(-DOMAIN, DOMAIN, n, dtype=np.float32)
    xx, yy = np.meshgrid(axis, axis)
    return np.stack([xx.ravel(), yy.ravel()], 1)


def make_optimizer(params: list[torch.Tensor], train: TrainSpec, l2: float = 0.0) -> torch.optim.Optimizer:
    """The torch optimizer a training spec names, with its settings.

    `train` is any object with TrainSpec's optimizer fields (the image spec's too). AdamW decays
    weights by `train.weight_decay` (decoupled); the others add an `l2` penalty's gradient.
    """
    lr = train.learning_rate
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=train.momentum, nesterov=train.nesterov, weight_decay=l2)
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(train.beta1, train.beta2), weight_decay=l2)
    if train.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=(train.beta1, train.beta2), weight_decay=train.weight_decay)
    if train.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=train.momentum, weight_decay=l2)
    return torch.optim.Adagrad(params, lr=lr, weight_decay=l2)


def _optimizer_settings(train: TrainSpec) -> dict:
    """The param-group entries that can change on a live optimizer without losing its state."""
    settings: dict = {"lr": train.learning_rate}
    if train.optimizer in ("sgd", "rmsprop"):
        settings["momentum"] = train.momentum
    if train.optimizer == "sgd":
        settings["nesterov"] = train.nesterov
    if train.optimizer in ("adam", "adamw"):
        settings["betas"] = (train.beta1, train.beta2)
    if train.optimizer == "adamw":
        settings["weight_decay"] = train.weight_decay
    return settings


class Trainer:
    """Trains the MLP of a (validated) spec, one minibatch update at a time.

    All weights and biases live in one flat parameter (the model's tensors are views of it), so
    the optimizer updates a single tensor per step. `fast=True` computes gradients with the
    hand-written backward pass; `fast=False` with autograd, on the same tensors.
    """

    parallel = False  # tiny networks train fastest on one thread

    def __init__(self, spec: RunSpec, fast: bool = True):
        self.spec = spec
        self.fast = fast
        self.generator = torch.Generator().manual_seed(spec.data.seed)
        data = make_data(spec.data)
        self.x_train = torch.from_numpy(feature_matrix(data.x_train, spec.features))
        self.y_train = torch.from_numpy(data.y_train).unsqueeze(1)
        self.x_test = torch.from_numpy(feature_matrix(data.x_test, spec.features))
        self.y_test = torch.from_numpy(data.y_test).unsqueeze(1)
        self.model = build_model(spec, self.generator)
        self.activations = [layer.activation for layer in spec.layers]
        self._flatten_parameters()
        self.optimizer = make_optimizer([self.flat], spec.train)
        self._grid = torch.from_numpy(feature_matrix(grid_points(BOUNDARY_GRID), spec.features))
        self._node_grid_points = grid_points(NODE_GRID)
        self._node_grid = torch.from_numpy(feature_matrix(self._node_grid_points, spec.features))

        self.epoch = 0
        self.step_count = 0
        self._batches: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._remaining: torch.Tensor | None = None  # this epoch's order of not-yet-used indices
        self.diverged: str | None = None
        self.history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
        self._history_stride = 1  # epochs between kept history points (doubles as a run grows)
        self._record(self.evaluate())
        self._good_state = self.flat.detach().clone()

    # ---- parameters ---------------------------------------------------------------------

    def _flatten_parameters(self) -> None:
        linears = [m for m in self.model if isinstance(m, nn.Linear)]
        tensors = [t for m in linears for t in (m.weight, m.bias)]
        self.flat = nn.Parameter(torch.cat([t.detach().reshape(-1) for t in tensors]))
        self.flat.grad = torch.zeros_like(self.flat)
        self.weights, self.biases, self.grad_weights, self.grad_biases = [], [], [], []
        weight_mask = torch.zeros_like(self.flat)
        offset = 0
        for m in linears:
            for t, params, grads in ((m.weight, self.weights, self.grad_weights), (m.bias, self.biases, self.grad_biases)):
                n = t.numel()
                t.data = self.flat.data[offset : offset + n].view_as(t)  # the module shares the storage
                params.append(t.data)
                grads.append(self.flat.grad[offset : offset + n].view_as(t))
                if t is m.weight:
                    weight_mask[offset : offset + n] = 1
                offset += n
        self._weight_mask = weight_mask  # regularization applies to weights, not biases

    def _views(self, source: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        weights, biases, offset = [], [], 0
        for w, b in zip(self.weights, self.biases):
            weights.append(source[offset : offset + w.numel()].view_as(w))
            offset += w.numel()
            biases.append(source[offset : offset + b.numel()].view_as(b))
            offset += b.numel()
        return weights, biases

    # ---- training -------------------------------------------------------------------------

    def _new_epoch_order(self) -> None:
        self._remaining = torch.randperm(len(self.x_train), generator=self.generator)
        self._split_remaining()

    def _split_remaining(self) -> None:
        order = self._remaining
        xs = self.x_train[order].split(self.spec.train.batch_size)
        ys = self.y_train[order].split(self.spec.train.batch_size)
        self._batches = list(zip(xs, ys))
        self._batches.reverse()  # pop() from the end is cheap
        self._remaining = order

    def _compute_grad(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        loss = self.spec.loss
        if self.fast:
            cache: list = []
            with torch.no_grad():
                out = mlp_forward(self.weights, self.biases, self.activations, xb, cache)
                mlp_backward(self.weights, self.activations, cache, loss_grad(loss, out, yb), self.grad_weights, self.grad_biases)
        else:
            self.flat.grad = None
            weights, biases = self._views(self.flat)
            loss_value(loss, mlp_forward(weights, biases, self.activations, xb), yb).backward()
        self._add_regularization()

    @torch.no_grad()
    def _add_regularization(self) -> None:
        train = self.spec.train
        if train.regularization == "none" or train.regularization_rate == 0:
            return
        if train.regularization == "L2":  # d/dw of rate * w^2 / 2
            self.flat.grad.addcmul_(self.flat, self._weight_mask, value=train.regularization_rate)
        else:  # L1: d/dw of rate * |w|
            self.flat.grad.addcmul_(self.flat.sign(), self._weight_mask, value=train.regularization_rate)

    def step(self, n: int = 1) -> int:
        """Do up to n minibatch updates (crossing epochs as needed); return how many were done.

        At the end of each epoch the train and test losses are evaluated and recorded. Training
        stops (and `diverged` explains why) if they stop being finite.
        """
        done = 0
        while done < n and self.diverged is None:
            if not self._batches:
                self._new_epoch_order()
            xb, yb = self._batches.pop()
            self._compute_grad(xb, yb)
            self.optimizer.step()
            self.step_count += 1
            done += 1
            self._remaining = self._remaining[len(xb) :]
            if not self._batches:
                self.epoch += 1
                self._end_epoch()
        return done

    @property
    def steps_left_in_epoch(self) -> int:
        return len(self._batches) or self.steps_per_epoch

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.x_train) / self.spec.train.batch_size)

    @property
    def finished(self) -> bool:
        """A 2-D run has no epoch limit: it trains until paused."""
        return False

    @property
    def pending(self) -> bool:
        """Each epoch's evaluation is done within its last step: nothing is left while paused."""
        return False

    def settle(self, n: int = 1) -> int:
        """No pending work to do (see `pending`)."""
        return 0

    def probe(self, **request) -> None:
        """The 2-D page probes nothing: every neuron's output is in each snapshot."""

    def metrics(self) -> dict[str, float]:
        """The last epoch's losses (and test accuracy when classifying), as the page shows them."""
        h = self.history
        numbers = {"train_loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1]}
        if self.spec.loss == "bce":
            numbers["test_acc"] = h["test_acc"][-1]
        return numbers

    def about(self) -> str | None:
        return None

    def run_epochs(self, n: int = 1) -> None:
        """Train until n more epochs are complete (or training diverges)."""
        target = self.epoch + n
        while self.epoch < target and self.diverged is None:
            self.step(self.steps_left_in_epoch)

    def _end_epoch(self) -> None:
        metrics = self.evaluate()
        bad = [v for v in (metrics["train_loss"], metrics["test_loss"]) if not math.isfinite(v)]
        if bad or not torch.isfinite(self.flat).all():
            what = "infinite" if bad and math.isinf(bad[0]) else "NaN (not a number)"
            self.diverged = DIVERGED_MESSAGE.format(epoch=self.epoch, what=what, lr=self.spec.train.learning_rate)
            self.epoch -= 1  # the diverged epoch is forgotten: never recorded
            with torch.no_grad():
                self.flat.copy_(self._good_state)
            self.optimizer = make_optimizer([self.flat], self.spec.train)
            self._batches, self._remaining = [], None
        else:
            self._record(metrics)
            self._good_state.copy_(self.flat.detach())

    def resume_after_divergence(self) -> None:
        """Let a diverged run train again (after the person changed something)."""
        self.diverged = None

    def apply(self, train: TrainSpec) -> None:
        """Change the live hyper-parameters at this step boundary, keeping the weights."""
        old = self.spec.train
        self.spec = replace(self.spec, train=train)
        if train.optimizer != old.optimizer:
            self.optimizer = make_optimizer([self.flat], train)
        else:
            self.optimizer.param_groups[0].update(_optimizer_settings(train))
        if train.batch_size != old.batch_size and self._remaining is not None and self._batches:
            self._split_remaining()
        if self.diverged is not None:
            self.resume_after_divergence()

    # ---- checkpoints ----------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """Everything needed to carry on exactly from here, as bytes (see `restore`)."""
        return to_bytes({
            "flat": self.flat.detach().clone(),
            "optimizer_name": self.spec.train.optimizer,
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "epoch": self.epoch,
            "step_count": self.step_count,
            "remaining": None if self._remaining is None else self._remaining.clone(),
            "history": self.history,
            "history_stride": self._history_stride,
        })

    def restore(self, blob: bytes) -> None:
        """Continue from a checkpoint of a trainer built from the same spec structure. The live
        settings are this trainer's (the spec may have changed since the checkpoint)."""
        state = from_bytes(blob)
        with torch.no_grad():
            self.flat.copy_(state["flat"])
        if state["optimizer_name"] == self.spec.train.optimizer:
            self.optimizer.load_state_dict(state["optimizer"])
            self.optimizer.param_groups[0].update(_optimizer_settings(self.spec.train))
        self.generator.set_state(state["generator"])
        self.epoch, self.step_count = int(state["epoch"]), int(state["step_count"])
        self._remaining = state["remaining"]
        self._batches = []
        if self._remaining is not None and len(self._remaining):
            self._split_remaining()
        self.history = {key: list(values) for key, values in state["history"].items()}
        self._history_stride = int(state["history_stride"])
        self.diverged = None
        self._good_state = self.flat.detach().clone()

    # ---- evaluation -----------------------------------------------------------------------

    @torch.no_grad()
    def _output(self, x: torch.Tensor) -> torch.Tensor:
        return mlp_forward(self.weights, self.biases, self.activations, x)

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss (and accuracy, when classifying) on the whole training and test sets."""
        result = {}
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            out = self._output(x)
            result[f"{split}_loss"] = float(loss_value(self.spec.loss, out, y))
            if self.spec.loss == "bce":
                result[f"{split}_acc"] = float(((out > 0).float() == y).float().mean())
            else:
                result[f"{split}_acc"] = float("nan")
        return result

    def _record(self, metrics: dict[str, float]) -> None:
        """Append this epoch's metrics, keeping the history bounded where it is kept.

        Points are kept every `_history_stride` epochs, plus always the newest one (so
        `history[key][-1]` is the current epoch); when more than KEPT_HISTORY_POINTS are kept the
        stride doubles and every other point goes. A run of any length keeps at most about
        KEPT_HISTORY_POINTS points, evenly spaced.
        """
        h = self.history
        if len(h["epoch"]) > 1 and h["epoch"][-1] % self._history_stride:  # the newest was off the stride
            for values in h.values():
                values.pop()
        h["epoch"].append(self.epoch)
        for key, value in metrics.items():
            h[key].append(value)
        if len(h["epoch"]) > KEPT_HISTORY_POINTS:
            self._history_stride *= 2
            keep = [i for i, e in enumerate(h["epoch"]) if e % self._history_stride == 0 or i == len(h["epoch"]) - 1]
            for key, values in h.items():
                h[key] = [values[i] for i in keep]

    @torch.no_grad()
    def snapshot(self, share: int = 1) -> Snapshot:
        """The current state as plain numbers and numpy arrays (`share`: unused, no estimates)."""
        classify = self.spec.loss == "bce"
        out = self._output(self._grid)
        boundary = (torch.sigmoid(out) if classify else out).view(BOUNDARY_GRID, BOUNDARY_GRID).numpy().copy()

        cache: list = []
        node_out = mlp_forward(self.weights, self.biases, self.activations, self._node_grid, cache)
        g = NODE_GRID
        nodes = [self._node_grid.T.reshape(-1, g, g).numpy().copy()]
        nodes += [a.T.reshape(-1, g, g).numpy().copy() for (_, _, a) in cache[:-1]]
        nodes.append((torch.sigmoid(node_out) if classify else node_out).T.reshape(1, g, g).numpy().copy())

        h = self.history
        keep = _thin(len(h["epoch"]))
        last = {k: v[-1] for k, v in h.items()}
        history = History(
            epoch=np.asarray(h["epoch"], dtype=np.int64)[keep],
            train_loss=np.asarray(h["train_loss"], dtype=np.float64)[keep],
            test_loss=np.asarray(h["test_loss"], dtype=np.float64)[keep],
            train_acc=np.asarray(h["train_acc"], dtype=np.float64)[keep] if classify else None,
            test_acc=np.asarray(h["test_acc"], dtype=np.float64)[keep] if classify else None,
        )
        return Snapshot(
            epoch=self.epoch,
            step=self.step_count,
            train_loss=last["train_loss"],
            test_loss=last["test_loss"],
            train_acc=last["train_acc"] if classify else None,
            test_acc=last["test_acc"] if classify else None,
            history=history,
            boundary=boundary,
            nodes=nodes,
            weights=[w.numpy().copy() for w in self.weights],
            biases=[b.numpy().copy() for b in self.biases],
            diverged=self.diverged,
            node_pictures=node_pictures(nodes, classify),
        )


def _thin(n: int) -> np.ndarray:
    """Indices of at most about MAX_HISTORY_POINTS of n, always keeping the first and last."""
    if n <= MAX_HISTORY_POINTS:
        return np.arange(n)
    stride = math.ceil(n / MAX_HISTORY_POINTS)
    keep = np.arange(0, n, stride)
    return keep if keep[-1] == n - 1 else np.append(keep, n - 1)
