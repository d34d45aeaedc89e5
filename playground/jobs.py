"""Background training: per-session jobs in a small shared pool of worker processes.

The boundary is message-shaped: a page sends small command objects (`Reset`, `Play`, `Pause`,
`Step`, `Update`, `Close`) and reads the latest `Snapshot` of its job. Nothing else crosses it, so
the pool can be swapped for a cluster executor without touching a page.

Each worker keeps a dict of its jobs and loops: drain commands, give each playing job a short
time slice, publish a snapshot when the last one is older than the refresh interval. A worker with
nothing playing blocks on its queue. The server keeps only the latest snapshot per job; a reaper
closes jobs whose page has not asked for a snapshot within the TTL and whose page session is no
longer connected (a closed tab), and restarts a worker that died. This module does not import
torch: the Streamlit server never needs it.
"""

from __future__ import annotations

import atexit
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .images.spec import ImageSpec, ImageTrainSpec
from .snapshot import ImageSnapshot, Snapshot
from .spec import RunSpec, TrainSpec

SLICE_S = 0.02  # a playing job trains this long before the worker looks at its queue again
CHUNK_S = 0.002  # steps are run in chunks of about this long
DEFAULT_TTL_S = 20.0  # a job nobody looked at for this long is closed, unless its page is connected
WORKER_NICENESS = 10


# ---- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reset:
    """Create the job, or replace its network: build everything afresh from the spec."""

    job_id: str
    spec: RunSpec | ImageSpec
    version: int


@dataclass(frozen=True)
class Play:
    job_id: str


@dataclass(frozen=True)
class Pause:
    job_id: str


@dataclass(frozen=True)
class Step:
    """Train exactly `epochs` epochs, then stay paused."""

    job_id: str
    epochs: int = 1


@dataclass(frozen=True)
class Update:
    """Change live hyper-parameters; the network keeps its weights."""

    job_id: str
    train: TrainSpec | ImageTrainSpec
    version: int


@dataclass(frozen=True)
class Probe:
    """Images: show the feature maps of a test image and/or classify a drawn digit (28x28, 0..1)."""

    job_id: str
    test_index: int | None = None
    drawing: np.ndarray | None = None
    drawing_id: int = 0


@dataclass(frozen=True)
class Close:
    job_id: str


@dataclass(frozen=True)
class _Shutdown:
    job_id: str = ""


@dataclass(frozen=True)
class _Census:
    """Ask a worker which jobs it holds (answered with a "census" result)."""

    job_id: str = ""


Command = Reset | Play | Pause | Step | Update | Probe | Close


def publish_interval(playing_jobs: int) -> float:
    """Seconds between a job's snapshots: 10 a second alone, slower when many jobs share a CPU."""
    return min(1.0, max(0.1, 0.03 * playing_jobs))


def page_refresh_interval(playing_jobs: int) -> float:
    """Seconds between a training page's redraws: fast for one person, 1 s for a full classroom."""
    return min(1.0, max(0.15, 0.07 * playing_jobs))


# ---- the worker process -----------------------------------------------------------------------


@dataclass
class _Job:
    trainer: object
    version: int
    playing: bool = False
    step_target: int | None = None  # for Step: train until this epoch, then stop
    step_number: int = 0  # the Step command being carried out: answered when it is done
    seq: int = 0
    acked: int = 0  # the number of the last command handled for this job
    published: float = 0.0
    dirty: bool = True
    chunk: int = 1

    @property
    def busy(self) -> bool:
        return self.playing or self.step_target is not None


def _worker_main(commands: mp.Queue, results: mp.Queue, image_threads: int = 1) -> None:
    """A worker's loop. Tiny 2-D nets run fastest on one thread; convolutions on MNIST use
    `image_threads` (this worker's share of the cores) while such a job has the CPU."""
    import torch

    # Training is background work: the server (and, on a teacher's laptop, the browsers) must
    # stay responsive, so a worker yields the CPU to them whenever they need it.
    os.nice(WORKER_NICENESS)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    from .images.trainer import ImageTrainer
    from .trainer import Trainer

    jobs: dict[str, _Job] = {}

    def make_trainer(spec):
        return ImageTrainer(spec) if isinstance(spec, ImageSpec) else Trainer(spec)

    def handle(number: int, cmd) -> bool:
        job = jobs.get(cmd.job_id)
        if isinstance(cmd, _Shutdown):
            return False
        if isinstance(cmd, _Census):
            results.put(("census", "", sorted(jobs)))
            return True
        if isinstance(cmd, Reset):
            try:
                trainer = make_trainer(cmd.spec)
            except Exception as error:  # a checked spec should always build; say so if not
                results.put(("error", cmd.job_id, f"Could not build this network: {error}"))
                return True
            jobs[cmd.job_id] = _Job(trainer, cmd.version)
        elif job is None:
            return True
        elif isinstance(cmd, Play):
            job.trainer.resume_after_divergence()
            job.playing, job.step_target = True, None
        elif isinstance(cmd, Pause):
            job.playing, job.step_target = False, None
        elif isinstance(cmd, Step):
            job.trainer.resume_after_divergence()
            job.playing, job.step_target = False, job.trainer.epoch + max(1, cmd.epochs)
            job.step_number, job.dirty = number, True
            return True  # answered once the step is done (`step_done`)
        elif isinstance(cmd, Update):
            job.trainer.apply(cmd.train)
            job.version = cmd.version
        elif isinstance(cmd, Probe):
            job.trainer.probe(cmd.test_index, cmd.drawing, cmd.drawing_id)
        elif isinstance(cmd, Close):
            del jobs[cmd.job_id]
            results.put(("closed", cmd.job_id, None))
            return True
        if cmd.job_id in jobs:
            jobs[cmd.job_id].dirty = True
            jobs[cmd.job_id].acked = number
        return True

    def publish(job_id: str, job: _Job, share: int) -> None:
        trainer = job.trainer
        snap: Snapshot | ImageSnapshot = trainer.snapshot(share) if isinstance(trainer, ImageTrainer) else trainer.snapshot()
        job.seq += 1
        snap.job_id, snap.seq, snap.spec_version, snap.acked = job_id, job.seq, job.version, job.acked
        snap.playing = job.busy
        results.put(("snapshot", job_id, snap))
        job.published, job.dirty = time.monotonic(), False

    def step_done(job: _Job) -> None:
        job.step_target, job.dirty = None, True
        job.acked = max(job.acked, job.step_number)

    def train_slice(job: _Job) -> None:
        trainer = job.trainer
        threads = image_threads if isinstance(trainer, ImageTrainer) else 1
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        end = time.monotonic() + SLICE_S
        while time.monotonic() < end:
            chunk = job.chunk
            if job.step_target is not None:  # a Step stops exactly at its epoch's end
                if trainer.epoch >= job.step_target:
                    step_done(job)
                    return
                chunk = min(chunk, trainer.steps_left_in_epoch)
            t0 = time.perf_counter()
            trainer.step(chunk)
            took = time.perf_counter() - t0
            job.chunk = max(1, min(10_000, int(job.chunk * (CHUNK_S / took if took > 0 else 2))))
            if trainer.diverged is not None or getattr(trainer, "finished", False):
                step_done(job)
                job.playing = False
                return

    def drain(block: bool) -> bool:
        """Handle every queued command (waiting for one if `block`); False on shutdown."""
        try:
            number, cmd = commands.get(block=block)
            while True:
                if not handle(number, cmd):
                    return False
                number, cmd = commands.get_nowait()
        except queue.Empty:
            return True

    def publish_due(share: int, all_due: bool) -> None:
        """Publish changed jobs now (a command's answer); with `all_due`, playing jobs on schedule."""
        interval = publish_interval(share)
        now = time.monotonic()
        for job_id, job in list(jobs.items()):
            if job.dirty or (all_due and job.busy and now - job.published >= interval):
                publish(job_id, job, max(1, share))

    # Commands are looked at between every job's slice, and answered at once: a Pause reaches
    # its job after at most one slice of another job, and its snapshot is on its way right then.
    while drain(block=not any(j.busy for j in jobs.values())):
        active = [(k, j) for k, j in jobs.items() if j.busy]
        shutdown = False
        for job_id, job in active:
            if jobs.get(job_id) is job and job.busy:
                train_slice(job)
            if not drain(block=False):
                shutdown = True
                break
            publish_due(len(active), all_due=False)
        if shutdown:
            break
        publish_due(len(active), all_due=True)


# ---- the server side ----------------------------------------------------------------------------


_start_lock = threading.Lock()


class _Worker:
    """One worker process with its own command and result queues.

    Each worker has its own result queue (and receiver thread on the server): a worker killed
    while writing can leave its queue's lock held, which must not stall the other workers.
    """

    def __init__(self, ctx, image_threads: int):
        self.commands = ctx.Queue()
        self.results = ctx.Queue()
        self.retired = threading.Event()
        self.census: tuple[int, list[str]] = (0, [])  # how many _Census it answered, and the last answer
        self.process = ctx.Process(target=_worker_main, args=(self.commands, self.results, image_threads), daemon=True)
        # A spawned child re-imports the parent's __main__. Under Streamlit that is the page
        # script being run, which must not run again inside a worker; hide it while starting.
        with _start_lock:
            main = sys.modules.get("__main__")
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                self.process.start()
            finally:
                if main is not None:
                    sys.modules["__main__"] = main


class JobManager:
    """The server's view of all jobs: assigns them to workers, keeps their latest snapshots."""

    def __init__(self, workers: int | None = None, ttl_s: float | None = None, reap_every_s: float = 2.0,
                 owner_connected: Callable[[str], bool] | None = None):
        """`owner_connected(owner)` says whether the page session that owns a job (see `touch`) is
        still connected. A job unread for the TTL is closed only when it is not: a background tab,
        whose browser slows its timers to once a minute, keeps its network."""
        if workers is None:
            workers = int(os.environ.get("PLAYGROUND_WORKERS", 0)) or max(1, (os.cpu_count() or 2) - 1)
        self.ttl_s = ttl_s or float(os.environ.get("PLAYGROUND_JOB_TTL_S", 0)) or DEFAULT_TTL_S
        self._ctx = mp.get_context("spawn")
        self._image_threads = max(1, (os.cpu_count() or 1) // workers)
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)  # notified on every new snapshot
        self._numbers: dict[str, int] = {}  # job id -> number of the last command sent
        self._where: dict[str, int] = {}  # job id -> worker index
        self._latest: dict[str, Snapshot] = {}
        self._errors: dict[str, str] = {}
        self._seen: dict[str, float] = {}
        self._owners: dict[str, str] = {}  # job id -> the page session that reads it
        self._owner_connected = owner_connected
        self._closed = threading.Event()
        # At interpreter exit multiprocessing terminates the workers; the reaper must not
        # mistake that for a crash and start new ones (atexit runs this before that cleanup).
        atexit.register(self._closed.set)
        self._workers = [self._start_worker() for _ in range(workers)]
        threading.Thread(target=self._reap, args=(reap_every_s,), daemon=True, name="playground-reaper").start()

    # commands

    def open(self, spec: RunSpec, version: int) -> str:
        """Start a new job for a spec; returns its id."""
        job_id = uuid.uuid4().hex
        with self._lock:
            loads = [0] * len(self._workers)
            for index in self._where.values():
                loads[index] += 1
            index = loads.index(min(loads))
            self._where[job_id] = index
            self._seen[job_id] = time.monotonic()
        self.send(Reset(job_id, spec, version))
        return job_id

    def send(self, command: Command, wait_s: float = 0.0) -> bool:
        """Deliver a command; False if the job is unknown (closed, or its worker died).

        With `wait_s`, also wait up to that long for the job's answer: a snapshot taken after the
        command was handled (so a page that redraws right after a Pause shows where it stopped).
        """
        with self._lock:
            index = self._where.get(command.job_id)
            if index is None:
                return False
            worker = self._workers[index]
            number = self._numbers.get(command.job_id, 0) + 1
            if isinstance(command, Close):
                self._forget(command.job_id)
            else:
                self._numbers[command.job_id] = number
                self._seen[command.job_id] = time.monotonic()
                if isinstance(command, Reset):
                    self._errors.pop(command.job_id, None)
        worker.commands.put((number, command))
        if wait_s > 0 and not isinstance(command, Close):
            self.wait_answered(command.job_id, number, wait_s)
        return True

    def wait_answered(self, job_id: str, number: int, timeout_s: float) -> bool:
        """Wait until the job's latest snapshot answers command `number`; False on timeout."""
        def answered() -> bool:
            snap = self._latest.get(job_id)
            return job_id not in self._where or (snap is not None and snap.acked >= number)

        with self._answered:
            return self._answered.wait_for(answered, timeout_s) and job_id in self._where

    def close(self, job_id: str) -> None:
        self.send(Close(job_id))

    # reads

    def is_open(self, job_id: str | None) -> bool:
        return job_id is not None and job_id in self._where

    def latest(self, job_id: str) -> Snapshot | None:
        """The newest snapshot of a job (None before its first); counts as the page looking."""
        with self._lock:
            if job_id in self._where:
                self._seen[job_id] = time.monotonic()
            return self._latest.get(job_id)

    def touch(self, job_ids, owner: str | None = None) -> None:
        """Mark jobs as looked at (a page that shows one job keeps its session's others alive),
        and remember the page session that owns them."""
        now = time.monotonic()
        with self._lock:
            for job_id in job_ids:
                if job_id in self._where:
                    self._seen[job_id] = now
                    if owner is not None:
                        self._owners[job_id] = owner

    def worker_jobs(self, timeout_s: float = 30.0) -> list[set[str]]:
        """The ids of the jobs each worker process holds, as the worker itself reports them (a
        closed job is gone from its worker, not only from this manager). For health checks."""
        with self._lock:
            workers = list(self._workers)
            asked = [worker.census[0] for worker in workers]
        for worker in workers:
            worker.commands.put((0, _Census()))
        with self._answered:
            if not self._answered.wait_for(lambda: all(w.census[0] > n for w, n in zip(workers, asked)), timeout_s):
                raise TimeoutError(f"a worker did not answer within {timeout_s} s")
            return [set(worker.census[1]) for worker in workers]

    def worker_pids(self) -> list[int | None]:
        """The process ids of the workers, in pool order."""
        with self._lock:
            return [worker.process.pid for worker in self._workers]

    def error(self, job_id: str) -> str | None:
        return self._errors.get(job_id)

    def playing_jobs(self) -> int:
        """Jobs training now, as their latest snapshots say."""
        with self._lock:
            return sum(1 for snap in self._latest.values() if snap.playing)

    def refresh_interval(self) -> float:
        """How often a training page redraws. Only training pages count: a paused one redraws
        once a second (`ui.refresh`), a small fixed cost, and must not slow the others down."""
        return page_refresh_interval(self.playing_jobs())

    # threads

    def _start_worker(self) -> _Worker:
        worker = _Worker(self._ctx, self._image_threads)
        threading.Thread(target=self._receive, args=(worker,), daemon=True, name="playground-receiver").start()
        return worker

    def _receive(self, worker: _Worker) -> None:
        while not self._closed.is_set() and not worker.retired.is_set():
            try:
                kind, job_id, payload = worker.results.get(timeout=0.5)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            with self._lock:
                if kind == "census":
                    worker.census = (worker.census[0] + 1, payload)
                    self._answered.notify_all()
                    continue
                if job_id not in self._where:
                    continue
                if kind == "snapshot":
                    old = self._latest.get(job_id)
                    if old is None or payload.seq > old.seq or payload.spec_version != old.spec_version:
                        self._latest[job_id] = payload
                        self._answered.notify_all()
                elif kind == "error":
                    self._errors[job_id] = payload

    def _reap(self, every_s: float) -> None:
        while not self._closed.wait(every_s):
            now = time.monotonic()
            with self._lock:
                stale = [(j, self._owners.get(j)) for j, seen in self._seen.items() if now - seen > self.ttl_s]
            for job_id, owner in stale:
                if not self._still_connected(owner):
                    self.close(job_id)
            for index, worker in enumerate(self._workers):
                if not worker.process.is_alive() and not self._closed.is_set():
                    self._restart(index)

    def _still_connected(self, owner: str | None) -> bool:
        if owner is None or self._owner_connected is None:
            return False
        try:
            return bool(self._owner_connected(owner))
        except Exception:  # noqa: BLE001 - unknown means gone: the TTL alone decides
            return False

    def _restart(self, index: int) -> None:
        """A worker died (out of memory, killed): forget its jobs, start a fresh one."""
        with self._lock:
            lost = [j for j, i in self._where.items() if i == index]
            for job_id in lost:
                self._forget(job_id)
            self._workers[index].retired.set()
            self._workers[index] = self._start_worker()

    def _forget(self, job_id: str) -> None:
        """Drop every trace of a job on the server side (call with the lock held)."""
        for table in (self._where, self._seen, self._latest, self._errors, self._numbers, self._owners):
            table.pop(job_id, None)
        self._answered.notify_all()  # nobody waits for a closed job's answer

    def shutdown(self) -> None:
        self._closed.set()
        for worker in self._workers:
            worker.commands.put((0, _Shutdown()))
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()

