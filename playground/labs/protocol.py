"""The trainer protocol: what the worker loop, the CLI and the tests use of any lab's trainer.

A lab's trainer is built from its spec (`Lab.trainer(spec)`) and is then driven only through
these members, so `jobs.py`, `ray_executor.py` and `python -m playground train` never ask which
lab they are running. It is a `typing.Protocol`: trainers do not inherit from it, they match it
(checked by `tests/test_labs.py`).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class LabTrainer(Protocol):
    """One network (or whatever a lab trains) being trained, one unit of work at a time."""

    spec: Any  # the (validated) spec it was built from; `apply` replaces its training part
    epoch: int  # completed epochs
    step_count: int  # units of work done so far (counted by checkpoints)
    diverged: str | None  # why training stopped by itself (the loss blew up), for the page
    parallel: bool  # trains on the worker's share of the cores (True) or on one thread

    @property
    def finished(self) -> bool:
        """Everything the spec asked for is done (a lab without an epoch limit: never)."""

    @property
    def pending(self) -> bool:
        """Work to finish even while paused (an evaluation the last epoch started)."""

    @property
    def steps_left_in_epoch(self) -> int:
        """Units of work until the current epoch ends (a Step stops exactly there)."""

    def step(self, n: int = 1) -> int:
        """Do up to n units of work (pending work first); return how many were done."""

    def settle(self, n: int = 1) -> int:
        """Do up to n units of pending work only, no training; return how many were done."""

    def run_epochs(self, n: int = 1) -> None:
        """Train n more epochs, each with its evaluation done (or until it diverges or finishes)."""

    def apply(self, train: Any) -> None:
        """New live training settings from the next unit of work on; the weights stay."""

    def probe(self, **request: Any) -> None:
        """Remember what the page asked to look at (a test image, a drawing, a point)."""

    def snapshot(self, share: int = 1) -> Any:
        """The state its page draws, as plain numbers and arrays; `share` = jobs sharing this
        CPU, for time estimates."""

    def resume_after_divergence(self) -> None:
        """Let a diverged run train again (after the person changed something)."""

    def checkpoint(self) -> bytes:
        """Everything needed to carry on exactly from here (read back by `restore`)."""

    def restore(self, blob: bytes) -> None:
        """Continue from a checkpoint of a trainer built from the same spec structure."""

    def metrics(self) -> dict[str, float]:
        """The last finished epoch's numbers the page shows, column name -> value, in the order
        the CLI prints them (NaN where there is none yet)."""

    def about(self) -> str | None:
        """A line on what it trains on (data, device) for the CLI and logs; None: nothing to say."""
