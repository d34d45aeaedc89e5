"""Training an image model on MNIST: the canonical loop, with live bookkeeping for the page.

The loop is pytorch/examples' mnist idiom (zero_grad, forward, cross-entropy, backward, step).
Batch order, initial weights and dropout masks come from one generator seeded by the spec, so a
link reproduces its numbers. The data tensors are built once per process and shared, read-only,
by every job in it.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import array, from_bytes, tensor, to_bytes
from ..data.mnist import Mnist, load_mnist
from ..model import ACTIVATION_MODULES
from ..snapshot import ImageSnapshot
from ..trainer import make_optimizer
from .model import build_image_model
from .spec import CPU_FLOPS, ImageSpec, ImageTrainSpec, drops_single_image_batch, summarize

MEAN, STD = 0.1307, 0.3081  # MNIST pixel statistics, as in pytorch/examples
LOG_EVERY = 20  # batches per point of the live training curve
MAX_MISTAKES = 24
MAX_MAPS = 16  # feature maps shown per conv layer
EVAL_BATCH = 128  # larger batches run slower on CPU here (conv outputs outgrow the cache)
EVAL_SLICE_S = 0.05  # an evaluation batch is sized to take about this long (estimated)
MAX_CURVE_POINTS = 600  # each curve keeps at most about this many points, evenly thinned
_ACTIVATION_TYPES = tuple(ACTIVATION_MODULES.values())

DIVERGED_MESSAGE = (
    "Training stopped in epoch {epoch}: the loss became {what}. The network is back to where it "
    "was at the end of the last good epoch. Try a lower learning rate (now {lr:g}), then press play."
)


def normalize(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), standardised."""
    return ((torch.from_numpy(np.asarray(images, dtype=np.float32)) / 255.0 - MEAN) / STD).unsqueeze(1)


_TENSORS: dict[tuple[str, str], tuple[Mnist, tuple[torch.Tensor, ...]]] = {}


def _tensors(source: str, device: str) -> tuple[Mnist, tuple[torch.Tensor, ...]]:
    """The data set as tensors, built once per process and shared read-only by its jobs; built
    again when `load_mnist` finds new files (a download finished in another process)."""
    data = load_mnist(source)  # the same object until the cache files change
    held = _TENSORS.get((source, device))
    if held is None or held[0] is not data:
        held = _TENSORS[(source, device)] = (data, (
            normalize(data.train_images).to(device),
            torch.from_numpy(data.train_labels.astype(np.int64)).to(device),
            normalize(data.test_images).to(device),
            torch.from_numpy(data.test_labels.astype(np.int64)).to(device)))
    return held


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


class ImageTrainer:
    """Trains an (architecture-checked) ImageSpec on MNIST, one batch per step."""

    parallel = True  # convolutions use the worker's share of the cores

    def __init__(self, spec: ImageSpec, device: str | None = None):
        self.spec = spec
        self.device = device or default_device()
        data, (self.x_train, self.y_train, self.x_test, self.y_test) = _tensors(spec.data, self.device)
        self.source = data.source
        self.generator = torch.Generator().manual_seed(spec.seed)
        self.model = build_image_model(spec, self.generator).to(self.device)
        self.optimizer = self._make_optimizer(spec.train)
        self.epoch = 0
        self.step_count = 0
        self._order: torch.Tensor | None = None
        self._position = 0
        self.diverged: str | None = None
        self._train_points: list[tuple[float, float, float]] = []
        self._test_points: list[tuple[float, float, float, float]] = []
        self._curve_strides = [1, 1]  # curve indices between kept train / test points
        self._point_indices: tuple[list[int], list[int]] = ([], [])
        forward_flops = max(1, sum(layer.flops for layer in summarize(spec).layers))
        self.eval_batch = int(min(EVAL_BATCH, max(1, EVAL_SLICE_S * CPU_FLOPS // forward_flops)))
        self._eval: list | None = None  # an evaluation in progress: [next index, loss sum, predictions, confidences]
        self._running = [0.0, 0, 0]  # loss sum, correct, seen since the last curve point
        self._epoch_loss = [0.0, 0]  # loss sum, seen in the current epoch
        self.epoch_train_losses: list[float] = []  # mean training loss of each finished epoch
        self._step_seconds: float | None = None
        self._last_step_end = 0.0
        self.confusion: np.ndarray | None = None
        self.mistakes = np.zeros((0, 3), np.int64)
        self.mistake_confidence = np.zeros(0, np.float32)
        self.probe_index = 0
        self.drawing: np.ndarray | None = None
        self.drawing_id = 0
        self._good_state = self._state()
        self._start_evaluation()  # done in slices by `step`/`settle`, like training

    # ---- set-up -----------------------------------------------------------------------------

    def _make_optimizer(self, train: ImageTrainSpec) -> torch.optim.Optimizer:
        return make_optimizer(list(self.model.parameters()), train, l2=train.weight_decay)

    @property
    def _epoch_size(self) -> int:
        """Images per epoch. BatchNorm cannot normalise a batch of one image: such a last batch
        is left out (the summary says so), a different image each epoch as the order is shuffled."""
        return len(self.x_train) - (1 if drops_single_image_batch(self.spec, len(self.x_train)) else 0)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self._epoch_size / self.spec.train.batch_size)

    @property
    def steps_left_in_epoch(self) -> int:
        if self._order is None or self._position >= len(self._order):
            return self.steps_per_epoch
        return math.ceil((len(self._order) - self._position) / self.spec.train.batch_size)

    @property
    def pending(self) -> bool:
        """Work to finish even while paused (an evaluation of the test set)."""
        return self._eval is not None

    @property
    def finished(self) -> bool:
        return self.epoch >= self.spec.train.epochs and not self.pending

    def _lr_factor(self) -> float:
        train = self.spec.train
        if train.schedule == "step":  # x0.1 after each third of the run
            return 0.1 ** (self.epoch // max(1, math.ceil(train.epochs / 3)))
        if train.schedule == "cosine":
            total = train.epochs * self.steps_per_epoch
            return 0.5 * (1 + math.cos(math.pi * min(self.step_count, total) / total))
        return 1.0

    def _state(self) -> tuple[dict, dict]:
        return copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.optimizer.state_dict())

    # ---- training ---------------------------------------------------------------------------

    def settle(self, n: int = 1) -> int:
        """Up to n batches of pending evaluation, no training; returns how many were done."""
        done = 0
        while done < n and self._eval is not None:
            self._evaluate_batch()
            done += 1
        return done

    def step(self, n: int = 1) -> int:
        """Up to n units of work: evaluation batches first when one is pending (it runs on the
        weights of the epoch it evaluates), then batch updates (stopping at divergence or after
        the last epoch). Every unit is one batch, so a caller can bound how long it holds the CPU."""
        done = self.settle(n)
        self.model.train()
        batch = self.spec.train.batch_size
        while done < n and self.diverged is None and not self.finished:
            started = time.perf_counter()
            if self._order is None or self._position >= len(self._order):
                self._order = torch.randperm(len(self.x_train), generator=self.generator)[: self._epoch_size].to(self.device)
                self._position = 0
            index = self._order[self._position : self._position + batch]
            self._position += len(index)
            x, y = self.x_train[index], self.y_train[index]
            lr = self.spec.train.learning_rate * self._lr_factor()
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.optimizer.zero_grad(set_to_none=True)
            out = self.model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            self.optimizer.step()
            loss_value = loss.item()
            self.step_count += 1
            done += 1
            if not math.isfinite(loss_value):
                self._diverge("infinite" if math.isinf(loss_value) else "NaN (not a number)")
                break
            running = self._running
            running[0] += loss_value * len(index)
            running[1] += int((out.argmax(1) == y).sum())
            running[2] += len(index)
            self._epoch_loss[0] += loss_value * len(index)
            self._epoch_loss[1] += len(index)
            if self.step_count % LOG_EVERY == 0:
                self._add_point(0, (self.step_count, running[0] / running[2], running[1] / running[2]), self.step_count // LOG_EVERY)
                self._running = [0.0, 0, 0]
            if self._position >= len(self._order):
                self.epoch += 1
                self.epoch_train_losses.append(self._epoch_loss[0] / self._epoch_loss[1])
                del self.epoch_train_losses[:-MAX_CURVE_POINTS]
                self._epoch_loss = [0.0, 0]
                self._good_state = self._state()
                self._start_evaluation()
                self.model.train()
            ended = time.perf_counter()
            if ended - self._last_step_end < 1.0:  # ignore pauses: only back-to-back steps count
                took = ended - started
                self._step_seconds = took if self._step_seconds is None else 0.9 * self._step_seconds + 0.1 * took
            self._last_step_end = ended
        return done

    def _add_point(self, curve: int, point: tuple, index: int) -> None:
        """Add a point to the training (0) or test (1) curve, thinning it where it is kept: the
        points whose index is a multiple of the curve's stride, plus the newest. When a curve
        holds more than MAX_CURVE_POINTS its stride doubles, so any run keeps a bounded curve."""
        points, indices = (self._train_points, self._test_points)[curve], self._point_indices[curve]
        if len(points) > 1 and indices[-1] % self._curve_strides[curve]:
            points.pop()
            indices.pop()
        points.append(point)
        indices.append(index)
        if len(points) > MAX_CURVE_POINTS:
            self._curve_strides[curve] *= 2
            keep = [i for i, at in enumerate(indices) if at % self._curve_strides[curve] == 0 or i == len(indices) - 1]
            points[:] = [points[i] for i in keep]
            indices[:] = [indices[i] for i in keep]

    def run_epochs(self, n: int = 1) -> None:
        """Train n more epochs, each with its test-set evaluation done (or until divergence)."""
        target = self.epoch + n
        while self.diverged is None:
            if self.pending:
                self.settle(len(self.x_test))
            elif self.epoch < target and not self.finished:
                self.step(self.steps_left_in_epoch)
            else:
                break

    def _diverge(self, what: str) -> None:
        self.diverged = DIVERGED_MESSAGE.format(epoch=self.epoch + 1, what=what, lr=self.spec.train.learning_rate)
        model_state, optimizer_state = self._good_state
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optimizer_state)
        self._order, self._running, self._epoch_loss = None, [0.0, 0, 0], [0.0, 0]

    def resume_after_divergence(self) -> None:
        self.diverged = None

    def apply(self, train: ImageTrainSpec) -> None:
        """New live settings (learning rate, optimizer, batch size, epochs...) from the next batch on."""
        old = self.spec.train
        self.spec = ImageSpec(self.spec.layers, train, self.spec.data, self.spec.seed)
        if (train.optimizer, train.weight_decay) != (old.optimizer, old.weight_decay):
            self.optimizer = self._make_optimizer(train)
        else:
            for group in self.optimizer.param_groups:
                if "momentum" in group:
                    group["momentum"] = train.momentum
                if "nesterov" in group:
                    group["nesterov"] = train.nesterov
                if "betas" in group:
                    group["betas"] = (train.beta1, train.beta2)
        self.diverged = None

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """Everything needed to carry on exactly from here, as bytes (see `restore`). An
        evaluation in progress is not saved: it runs again from the start (it changes nothing)."""
        return to_bytes({
            "model": self.model.state_dict(),
            "optimizer_name": (self.spec.train.optimizer, self.spec.train.weight_decay),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "counters": [self.epoch, self.step_count, self._position],
            "order": None if self._order is None else self._order.cpu(),
            "curves": [tensor(np.asarray(self._train_points, np.float64).reshape(-1, 3)),
                       tensor(np.asarray(self._test_points, np.float64).reshape(-1, 4))],
            "curve_indices": [list(self._point_indices[0]), list(self._point_indices[1]), list(self._curve_strides)],
            "running": [float(self._running[0]), int(self._running[1]), int(self._running[2]),
                        float(self._epoch_loss[0]), int(self._epoch_loss[1])],
            "epoch_train_losses": list(self.epoch_train_losses),
            "evaluating": self._eval is not None,
            "confusion": tensor(self.confusion),
            "mistakes": [tensor(self.mistakes), tensor(self.mistake_confidence)],
            "probe": [self.probe_index, self.drawing_id, tensor(self.drawing)],
        })

    def restore(self, blob: bytes) -> None:
        """Continue from a checkpoint of a trainer built from the same spec structure; the live
        settings stay this trainer's (they may have changed since the checkpoint)."""
        state = from_bytes(blob)
        self.model.load_state_dict(state["model"])
        if tuple(state["optimizer_name"]) == (self.spec.train.optimizer, self.spec.train.weight_decay):
            self.optimizer.load_state_dict(state["optimizer"])
            self.apply(self.spec.train)
        self.generator.set_state(state["generator"])
        self.epoch, self.step_count, self._position = (int(v) for v in state["counters"])
        self._order = None if state["order"] is None else state["order"].to(self.device)
        self._train_points = [tuple(row) for row in array(state["curves"][0]).tolist()]
        self._test_points = [tuple(row) for row in array(state["curves"][1]).tolist()]
        train_indices, test_indices, strides = state["curve_indices"]
        self._point_indices, self._curve_strides = (list(train_indices), list(test_indices)), list(strides)
        r = state["running"]
        self._running, self._epoch_loss = [r[0], r[1], r[2]], [r[3], r[4]]
        self.epoch_train_losses = list(state["epoch_train_losses"])
        self.confusion = array(state["confusion"])
        self.mistakes, self.mistake_confidence = (array(t) for t in state["mistakes"])
        self.probe_index, self.drawing_id, self.drawing = state["probe"][0], state["probe"][1], array(state["probe"][2])
        self.diverged = None
        self._good_state = self._state()
        self._eval = None
        if state["evaluating"]:
            self._start_evaluation()

    # ---- evaluation and views --------------------------------------------------------------

    def _start_evaluation(self) -> None:
        self._eval = [0, 0.0, [], []]

    @torch.inference_mode()
    def _evaluate_batch(self) -> None:
        """One batch of the test-set evaluation; the last one records its results."""
        start, _, predictions, confidences = self._eval
        self.model.eval()
        end = start + self.eval_batch
        out = self.model(self.x_test[start:end])
        self._eval[1] += float(F.cross_entropy(out, self.y_test[start:end], reduction="sum"))
        confidence, predicted = out.softmax(1).max(1)
        predictions.append(predicted.cpu())
        confidences.append(confidence.cpu())
        self._eval[0] = end
        self.model.train()
        if end >= len(self.x_test):
            self._finish_evaluation()

    def _finish_evaluation(self) -> None:
        _, loss_sum, predictions, confidences = self._eval
        self._eval = None
        predicted = torch.cat(predictions).numpy()
        confidence = torch.cat(confidences).numpy()
        truth = self.y_test.cpu().numpy()
        self.confusion = np.bincount(truth * 10 + predicted, minlength=100).reshape(10, 10)
        wrong = np.flatnonzero(predicted != truth)
        worst = wrong[np.argsort(-confidence[wrong], kind="stable")][:MAX_MISTAKES]
        self.mistakes = np.stack([worst, truth[worst], predicted[worst]], 1).astype(np.int64)
        self.mistake_confidence = confidence[worst].astype(np.float32)
        accuracy = float((predicted == truth).mean())
        loss = loss_sum / len(self.x_test)
        self._add_point(1, (self.step_count, self.epoch, loss, accuracy), self.epoch)

    def metrics(self) -> dict[str, float]:
        """The last finished epoch's mean training loss and test loss and accuracy (NaN before)."""
        nan = float("nan")
        tested = bool(self._test_points)
        return {"train_loss": self.epoch_train_losses[-1] if self.epoch_train_losses else nan,
                "test_loss": self.test_loss if tested else nan, "test_acc": self.test_accuracy if tested else nan}

    def about(self) -> str | None:
        return f"data: {self.source}, device: {self.device}"

    @property
    def test_loss(self) -> float:
        return self._test_points[-1][2]

    @property
    def test_accuracy(self) -> float:
        return self._test_points[-1][3]

    @torch.inference_mode()
    def _feature_maps(self) -> list[np.ndarray]:
        self.model.eval()
        maps, x = [], self.x_test[self.probe_index : self.probe_index + 1]
        modules = list(self.model)
        for i, module in enumerate(modules):
            x = module(x)
            next_is_activation = i + 1 < len(modules) and isinstance(modules[i + 1], _ACTIVATION_TYPES)
            conv_block_ends = (isinstance(module, nn.Conv2d) and not next_is_activation) or (
                i > 0 and isinstance(modules[i - 1], nn.Conv2d) and isinstance(module, _ACTIVATION_TYPES)
            )
            if conv_block_ends:
                maps.append(x[0, :MAX_MAPS].float().cpu().numpy().copy())
        self.model.train()
        return maps

    @torch.inference_mode()
    def _predict_drawing(self) -> np.ndarray | None:
        if self.drawing is None:
            return None
        self.model.eval()
        x = normalize(self.drawing[None] * 255.0).to(self.device)
        probabilities = self.model(x).softmax(1)[0].float().cpu().numpy()
        self.model.train()
        return probabilities

    def probe(self, test_index: int | None = None, drawing: np.ndarray | None = None, drawing_id: int = 0) -> None:
        """Choose the test image whose feature maps are shown, and/or a drawn digit to classify."""
        if test_index is not None:
            self.probe_index = int(np.clip(test_index, 0, len(self.x_test) - 1))
        if drawing is not None:
            self.drawing = np.clip(np.asarray(drawing, np.float32).reshape(28, 28), 0, 1)
            self.drawing_id = drawing_id

    def snapshot(self, share: int = 1) -> ImageSnapshot:
        """The live state; `share` = jobs sharing this CPU, for the time estimate."""
        first_conv = next((m for m in self.model if isinstance(m, nn.Conv2d)), None)
        filters = first_conv.weight.detach()[:, 0].float().cpu().numpy().copy() if first_conv is not None else None
        eta = self.steps_left_in_epoch * self._step_seconds * share if self._step_seconds is not None and not self.finished else None
        return ImageSnapshot(
            epoch=self.epoch,
            step=self.step_count,
            steps_per_epoch=self.steps_per_epoch,
            epoch_progress=0.0 if self._order is None else self._position / len(self._order) % 1.0,
            eta_s=eta,
            finished=self.finished,
            train_curve=np.asarray(self._train_points, np.float64).reshape(-1, 3),
            test_curve=np.asarray(self._test_points, np.float64).reshape(-1, 4),
            confusion=self.confusion,
            misclassified=self.mistakes,
            misclassified_confidence=self.mistake_confidence,
            filters=filters,
            feature_maps=self._feature_maps(),
            probe_index=self.probe_index,
            prediction=self._predict_drawing(),
            drawing_id=self.drawing_id,
            device=self.device,
            tested=(min(self._eval[0], len(self.x_test)), len(self.x_test)) if self._eval is not None else None,
            diverged=self.diverged,
        )
