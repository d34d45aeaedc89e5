"""Background training: per-session jobs in a small shared pool of worker processes.

The boundary is message-shaped: a page sends small command objects (`Reset`, `Play`, `Pause`,
`Step`, `Update`, `Probe`, `Close`) and reads the latest snapshot of its job. Nothing else crosses it, so
the pool can be swapped for a cluster executor without touching a page.

Each worker keeps a dict of its jobs and loops: drain commands, give each playing job a short
time slice, publish a snapshot when the last one is older than the refresh interval. A worker with
nothing to do blocks on its queue. A failure belongs to its job: an exception while building,
training, evaluating or probing one network marks that job failed, with a message for its page,
and the worker carries on with the others. Every few seconds a training job sends a checkpoint
(opaque bytes) that the server keeps, so when a worker process dies anyway (killed, out of
memory) its jobs come back on a fresh worker from where they were, paused, with a note.

The server side (`JobManager`) estimates each job's cost from its spec before anything runs
(`capacity.py`): it refuses what is over the server's limits, places jobs on the least loaded
worker, and lets only a few heavy (image) jobs train at once, queueing the others in order. A
reaper closes jobs whose page has not asked for a snapshot within the TTL and whose page session
is no longer connected (a closed tab), and restarts a worker that died. This module does not
import torch: the Streamlit server never needs it.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing as mp
import os
import queue
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import labs
from .capacity import JobCost
from .images.spec import CPU_FLOPS
from .labs.protocol import LabTrainer
from .memory import prefer_mmap_for_large_blocks, release_freed_memory
from .settings import Settings, read_settings

Spec = Any  # any registered lab's spec; `labs.for_spec` says which lab trains it

SLICE_S = 0.02  # a playing job trains this long before the worker looks at its queue again
CHUNK_S = 0.002  # steps are run in chunks of about this long
DEFAULT_TTL_S = 20.0  # a job nobody looked at for this long is closed, unless its page is connected
WORKER_NICENESS = 10
MAX_RESTORES = 3  # a job whose worker died this often is not brought back again (it may be the cause)
TRIM_EVERY_S = 60.0  # the server hands freed memory back to the system at least this often
STALLED_S = 4.0  # a training job with no news for this long is reported as stalled
BACKLOG_CHECKPOINTS, BACKLOG_SNAPSHOTS = 8, 64  # results the server has not read yet, past which a worker waits

_log = logging.getLogger(__name__)


class ServerFull(Exception):
    """The server cannot take this network now; the message says why, for the page."""


# ---- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reset:
    """Create the job, or replace its network: build everything afresh from the spec."""

    job_id: str
    spec: Spec
    version: int


@dataclass(frozen=True)
class Restore:
    """Bring a job back on another worker: build it from the spec, then continue from the
    checkpoint (None: from the start), paused, showing `note` until the person acts."""

    job_id: str
    spec: Spec
    version: int
    built: int  # the version of the Reset that built the network the checkpoint belongs to
    checkpoint: bytes | None
    note: str


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
    train: Any  # the spec's `train` part
    version: int


@dataclass(frozen=True)
class Probe:
    """Ask the job's trainer to look at something (`trainer.probe(**request)`): on the Images
    page a test image's feature maps (`test_index`) or a drawn digit (`drawing`, `drawing_id`)."""

    job_id: str
    request: Mapping[str, Any] = field(default_factory=dict)


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


Command = Reset | Restore | Play | Pause | Step | Update | Probe | Close


def publish_interval(playing_jobs: int) -> float:
    """Seconds between a job's snapshots: 10 a second alone, slower when many jobs share a CPU."""
    return min(1.0, max(0.1, 0.03 * playing_jobs))


def page_refresh_interval(playing_jobs: int) -> float:
    """Seconds between a training page's redraws: fast for one person, 1 s for a full classroom."""
    return min(1.0, max(0.15, 0.07 * playing_jobs))


def explain_failure(error: BaseException) -> str:
    """A job's exception in words its page can show: what happened and what to change."""
    text = str(error)
    if "Expected more than 1 value per channel" in text:
        return ("Training stopped: a BatchNorm layer got a batch with a single value per channel, which it cannot "
                "normalise. Raise the batch size to 2 or more, or remove that BatchNorm layer, then press Play.")
    if isinstance(error, MemoryError) or "out of memory" in text.lower() or "can't allocate memory" in text.lower():
        return ("Training stopped: the server ran out of memory for this network. Make it smaller (fewer filters "
                "or units, earlier pooling) or lower the batch size, then press Reset.")
    first_line = text.strip().splitlines()[0][:300] if text.strip() else ""
    return (f"Training this network failed ({type(error).__name__}{': ' + first_line if first_line else ''}). "
            "It is paused; change a setting and press Play or Reset. Other networks are not affected.")


# ---- the worker process -----------------------------------------------------------------------


@dataclass
class _Job:
    trainer: LabTrainer
    version: int
    built: int  # the version of the Reset (or Restore) that built this network
    playing: bool = False
    step_target: int | None = None  # for Step: train until this epoch, then stop
    step_number: int = 0  # the Step command being carried out: answered when it is done
    seq: int = 0
    acked: int = 0  # the number of the last command handled for this job
    published: float = 0.0
    dirty: bool = True
    chunk: int = 1
    failed: str | None = None  # why training stopped with an error
    notice: str | None = None  # shown on the page until the person acts (a restored job's note)
    saved_step: int = -1  # trainer.step_count at the last checkpoint
    saved_at: float = 0.0

    @property
    def busy(self) -> bool:
        return (self.playing or self.step_target is not None) and self.failed is None

    @property
    def has_work(self) -> bool:
        return self.busy or (self.failed is None and self.trainer.pending)


def _measure_machine(image_threads: int) -> dict:
    """How fast this worker trains an image network, so estimates are for this machine: the
    seed CNN's forward and backward on a batch of 64, best of three (about 0.1 s in all)."""
    import torch

    from .images.model import build_image_model
    from .images.spec import ImageSpec, summarize

    cuda = torch.cuda.is_available()
    info = {"device": "cuda" if cuda else "cpu", "threads": image_threads, "flops": CPU_FLOPS, "measured": False,
            "name": torch.cuda.get_device_name(0) if cuda else f"{image_threads} CPU core{'s' if image_threads != 1 else ''}"}
    if cuda:
        return info
    try:
        torch.set_num_threads(image_threads)
        spec = ImageSpec()
        model = build_image_model(spec, torch.Generator().manual_seed(0))
        x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
        flops = sum(layer.flops for layer in summarize(spec).layers) * 3 * 64
        best = float("inf")
        for attempt in range(4):
            start = time.perf_counter()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            if attempt:  # the first run warms up
                best = min(best, time.perf_counter() - start)
        info.update(flops=flops / best, measured=True)
    except Exception as error:  # noqa: BLE001 - an estimate falls back to the built-in speed
        _log.warning("could not measure this machine's speed: %s", error)
    finally:
        torch.set_num_threads(1)
    return info


def _worker_main(commands: mp.Queue, results: mp.Queue, image_threads: int = 1, checkpoint_s: float = 2.0,
                 measure: bool = True) -> None:
    """A worker's loop. Tiny 2-D nets run fastest on one thread; convolutions on MNIST use
    `image_threads` (this worker's share of the cores) while such a job has the CPU. It also runs
    inside a Ray actor (`ray_executor.py`), on a thread, with local queues; `measure=False` skips
    the speed measurement there (the executor's first actor measures)."""
    # OpenMP threads that spin while they wait collapse when the cores are shared (a class
    # server always shares them: the web server, other workers). Measured on 2 busy cores: the
    # seed CNN's step took 589 ms with spinning threads, 57 ms with passive ones (131 ms on one
    # thread); a tiny MLP's 250 ms against 1.3 ms. Set before torch (and its OpenMP) is loaded.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    prefer_mmap_for_large_blocks()  # a closed job's tensors go back to the system (memory.py)
    import torch

    # Training is background work: the server (and, on a teacher's laptop, the browsers) must
    # stay responsive, so a worker yields the CPU to them whenever they need it.
    os.nice(WORKER_NICENESS)
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    if measure:
        results.put(("machine", "", _measure_machine(image_threads)))
    jobs: dict[str, _Job] = {}

    def fail(job_id: str, error: BaseException) -> None:
        """The job's own failure: it stops, its page is told, nobody else notices."""
        message = explain_failure(error)
        _log.warning("job %s failed: %s: %s", job_id[:8], type(error).__name__, error)
        job = jobs.get(job_id)
        if job is not None:
            job.failed, job.playing, job.step_target, job.dirty = message, False, None, True
            job.acked = max(job.acked, job.step_number)
        results.put(("error", job_id, message))

    def handle(number: int, cmd) -> bool:
        try:
            return _handle(number, cmd)
        except Exception as error:  # noqa: BLE001 - see `fail`
            if isinstance(cmd, (Reset, Restore)):
                jobs.pop(cmd.job_id, None)  # the old network belongs to a spec the page no longer has
            fail(cmd.job_id, error)
            if cmd.job_id in jobs:
                jobs[cmd.job_id].acked = number
            return True

    def _handle(number: int, cmd) -> bool:
        job = jobs.get(cmd.job_id)
        if isinstance(cmd, _Shutdown):
            return False
        if isinstance(cmd, _Census):
            results.put(("census", "", sorted(jobs)))
            return True
        if isinstance(cmd, Reset):
            jobs.pop(cmd.job_id, None)  # free the old network before building the new one
            jobs[cmd.job_id] = _Job(labs.build_trainer(cmd.spec), cmd.version, built=cmd.version)
        elif isinstance(cmd, Restore):
            jobs.pop(cmd.job_id, None)
            trainer = labs.build_trainer(cmd.spec)
            if cmd.checkpoint is not None:
                trainer.restore(cmd.checkpoint)
            jobs[cmd.job_id] = _Job(trainer, cmd.version, built=cmd.built, notice=cmd.note)
            jobs[cmd.job_id].saved_step = trainer.step_count
        elif job is None:
            return True
        elif isinstance(cmd, Play):
            job.trainer.resume_after_divergence()
            job.playing, job.step_target, job.failed, job.notice = True, None, None, None
        elif isinstance(cmd, Pause):
            job.playing, job.step_target = False, None
        elif isinstance(cmd, Step):
            job.trainer.resume_after_divergence()
            job.playing, job.step_target = False, job.trainer.epoch + max(1, cmd.epochs)
            job.failed, job.notice = None, None
            job.step_number, job.dirty = number, True
            return True  # answered once the step is done (`step_done`)
        elif isinstance(cmd, Update):
            job.failed = None
            job.trainer.apply(cmd.train)
            job.version = cmd.version
        elif isinstance(cmd, Probe):
            job.trainer.probe(**cmd.request)
        elif isinstance(cmd, Close):
            del jobs[cmd.job_id]
            release_freed_memory()
            results.put(("closed", cmd.job_id, None))
            return True
        if cmd.job_id in jobs:
            jobs[cmd.job_id].dirty = True
            jobs[cmd.job_id].acked = number
        return True

    def publish(job_id: str, job: _Job, share: int) -> None:
        trainer = job.trainer
        try:
            snap = trainer.snapshot(share)
        except Exception as error:  # noqa: BLE001 - a probe or view that fails is the job's failure
            job.dirty = False
            if job.failed is None:
                fail(job_id, error)
            return
        job.seq += 1
        snap.job_id, snap.seq, snap.spec_version, snap.acked = job_id, job.seq, job.version, job.acked
        snap.playing, snap.notice = job.busy, job.notice
        results.put(("snapshot", job_id, snap))
        job.published, job.dirty = time.monotonic(), False

    def backed_up(limit: int) -> bool:
        """Whether the server is behind reading this worker's results: a multiprocessing queue
        buffers what its reader has not taken inside the writer, so a slow server would make
        this process grow without bound. Checkpoints and routine snapshots wait then."""
        try:
            return results.qsize() > limit
        except NotImplementedError:  # macOS has no sem_getvalue: no back-pressure there
            return False

    def checkpoint(job_id: str, job: _Job, force: bool) -> None:
        """Send the job's state to the server when it changed and the last one is old enough
        (`force`: as soon as it changed, e.g. when the job stops training)."""
        trainer = job.trainer
        if job.failed is not None or trainer.step_count == job.saved_step or trainer.diverged is not None:
            return
        if backed_up(BACKLOG_CHECKPOINTS):
            return
        now = time.monotonic()
        if not force and now - job.saved_at < checkpoint_s:
            return
        try:
            blob = trainer.checkpoint()
        except Exception as error:  # noqa: BLE001 - no checkpoint: the job keeps training, the last one stands
            _log.warning("checkpoint of job %s failed: %s", job_id[:8], error)
            return
        job.saved_step, job.saved_at = trainer.step_count, now
        results.put(("checkpoint", job_id, (job.built, trainer.epoch, blob)))

    def step_done(job: _Job) -> None:
        job.step_target, job.dirty = None, True
        job.acked = max(job.acked, job.step_number)

    def train_slice(job_id: str, job: _Job) -> None:
        try:
            _train_slice(job)
        except Exception as error:  # noqa: BLE001 - see `fail`
            fail(job_id, error)

    def _train_slice(job: _Job) -> None:
        trainer = job.trainer
        threads = image_threads if trainer.parallel else 1
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
        if not job.busy:  # only pending work (an evaluation) while paused
            trainer.settle(max(1, job.chunk))
            job.dirty = job.dirty or not trainer.pending
            return
        end = time.monotonic() + SLICE_S
        while time.monotonic() < end:
            chunk = job.chunk
            work = trainer.step
            if job.step_target is not None:  # a Step stops exactly at its epoch's end
                if trainer.epoch >= job.step_target:
                    if not trainer.pending:
                        step_done(job)
                        return
                    work = trainer.settle  # the stepped epoch's evaluation, and no further training
                else:
                    chunk = min(chunk, max(1, trainer.steps_left_in_epoch))
            t0 = time.perf_counter()
            work(chunk)
            took = time.perf_counter() - t0
            job.chunk = max(1, min(10_000, int(job.chunk * (CHUNK_S / took if took > 0 else 2))))
            if trainer.diverged is not None or trainer.finished:
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
        all_due = all_due and not backed_up(BACKLOG_SNAPSHOTS)  # a command's answer still goes
        for job_id, job in list(jobs.items()):
            if job.dirty or (all_due and job.busy and now - job.published >= interval):
                publish(job_id, job, max(1, share))
                checkpoint(job_id, job, force=not job.busy)

    # Commands are looked at between every job's slice, and answered at once: a Pause reaches
    # its job after at most one slice of another job, and its snapshot is on its way right then.
    while drain(block=not any(j.has_work for j in jobs.values())):
        active = [(k, j) for k, j in jobs.items() if j.has_work]
        shutdown = False
        for job_id, job in active:
            if jobs.get(job_id) is job and job.has_work:
                train_slice(job_id, job)
                checkpoint(job_id, job, force=False)
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

    What the manager uses of a worker: `commands.put((number, command))`, `results.get(timeout)`,
    `retired`, `census` and `process` (`is_alive`, `pid`, `exitcode`, `join`, `terminate`). A
    `ray_executor.RayWorker` offers the same for a whole Ray cluster, one actor per job.

    Each worker has its own result queue (and receiver thread on the server): a worker killed
    while writing can leave its queue's lock held, which must not stall the other workers.
    """

    def __init__(self, ctx, image_threads: int, checkpoint_s: float):
        self.commands = ctx.Queue()
        self.results = ctx.Queue()
        self.retired = threading.Event()
        self.census: tuple[int, list[str]] = (0, [])  # how many _Census it answered, and the last answer
        self.process = ctx.Process(target=_worker_main, args=(self.commands, self.results, image_threads, checkpoint_s),
                                   daemon=True)
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


@dataclass
class JobStatus:
    """Why a job may not be moving, for its page."""

    error: str | None = None  # it failed; the message says what to change
    queue_ahead: int | None = None  # waiting for a heavy-job slot behind this many networks
    restoring: str | None = None  # its worker died; it is being brought back (the note says how)
    stalled_s: float | None = None  # training, but no news for this long
    settled: bool = True  # its latest snapshot answers the last command the page sent
    heavy_slots: int = 0  # how many heavy networks the server trains at once


@dataclass
class _Record:
    """What the server knows of one job."""

    worker: int
    spec: object
    version: int  # the page's version of the spec, from the last Reset or Update
    built: int  # the version of the last Reset: a checkpoint must belong to it
    cost: JobCost
    number: int = 0  # the last command sent
    seen: float = field(default_factory=time.monotonic)
    owner: str | None = None
    latest: object = None
    arrived: float = 0.0
    error: str | None = None
    checkpoint: tuple[float, int, bytes] | None = None  # when, epoch, bytes
    restoring: str | None = None
    restores: int = 0


class JobManager:
    """The server's view of all jobs: admits them, assigns them to workers, keeps their latest
    snapshots and checkpoints, and queues heavy jobs beyond the server's limit."""

    def __init__(self, workers: int | None = None, ttl_s: float | None = None, reap_every_s: float = 2.0,
                 owner_connected: Callable[[str], bool] | None = None, settings: Settings | None = None):
        """`owner_connected(owner)` says whether the page session that owns a job (see `touch`) is
        still connected. A job unread for the TTL is closed only when it is not: a background tab,
        whose browser slows its timers to once a minute, keeps its network."""
        self.settings = settings or read_settings()
        workers = 1 if self.settings.executor == "ray" else workers or self.settings.workers  # ray: one actor per job
        self.ttl_s = ttl_s or self.settings.job_ttl_s or DEFAULT_TTL_S
        self._ctx = mp.get_context("spawn")
        self._image_threads = max(1, (os.cpu_count() or 1) // workers)
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)  # notified on every new snapshot
        self._jobs: dict[str, _Record] = {}
        self._queue: list[tuple[str, int, Command]] = []  # heavy jobs waiting to train, in order
        self._running_heavy: dict[str, int] = {}  # heavy job -> number of the Play/Step it runs
        self.machine: dict = {"device": "cpu", "threads": self._image_threads, "flops": CPU_FLOPS, "measured": False,
                              "name": f"{self._image_threads} CPU core{'s' if self._image_threads != 1 else ''}"}
        self._owner_connected = owner_connected
        self._closed = threading.Event()
        # At interpreter exit multiprocessing terminates the workers; the reaper must not
        # mistake that for a crash and start new ones (atexit runs this before that cleanup).
        atexit.register(self._closed.set)
        self._workers = [self._start_worker() for _ in range(workers)]
        threading.Thread(target=self._reap, args=(reap_every_s,), daemon=True, name="playground-reaper").start()

    # costs

    @property
    def gate_flops(self) -> float:
        """The speed limits are judged at: the workers' measured speed, but never below the
        reference 2-core machine's, so a measurement taken while the machine was busy does not
        turn away a network that the server can afford."""
        return max(float(self.machine["flops"]), CPU_FLOPS)

    def cost(self, spec) -> JobCost:
        """What a spec's job would cost on this server."""
        return labs.for_spec(spec).cost(spec, self.gate_flops)

    def memory_in_use_mb(self, excluding: str | None = None) -> float:
        with self._lock:
            return sum(r.cost.memory_mb for j, r in self._jobs.items() if j != excluding)

    def _admit(self, job_id: str | None, cost: JobCost) -> None:
        """Raise ServerFull when this job would take the server over its memory (lock held)."""
        settings = self.settings
        if cost.memory_mb > settings.max_job_mb or cost.step_s > settings.max_step_s:  # the page explains it first
            raise ServerFull(
                f"This network is over this server's limits for one network (about {cost.memory_mb:,.0f} MB and "
                f"{cost.step_s:.2f} s per training batch; it allows {settings.max_job_mb:,.0f} MB and "
                f"{settings.max_step_s:g} s). Make it smaller or lower the batch size.")
        used = sum(r.cost.memory_mb for j, r in self._jobs.items() if j != job_id)
        limit = settings.max_total_mb
        if used + cost.memory_mb > limit:
            raise ServerFull(
                f"The server is full right now: the networks open on it need about {used:,.0f} MB of the "
                f"{limit:,.0f} MB it allows, and this one needs {cost.memory_mb:,.0f} MB. Try again in a minute "
                "(networks of closed pages are freed), or make this network smaller.")

    def _least_loaded(self) -> int:
        loads = [0.0] * len(self._workers)
        for record in self._jobs.values():
            loads[record.worker] += record.cost.weight
        return loads.index(min(loads))

    # commands

    def open(self, spec: Spec, version: int) -> str:
        """Start a new job for a spec; returns its id. Raises ServerFull when the server cannot
        take it; jobs go to the worker with the least estimated load."""
        job_id = uuid.uuid4().hex
        cost = self.cost(spec)
        with self._lock:
            self._admit(None, cost)
            self._jobs[job_id] = _Record(self._least_loaded(), spec, version, version, cost)
        _log.info("job %s opened: %s, about %.0f MB", job_id[:8], type(spec).__name__, cost.memory_mb)
        self.send(Reset(job_id, spec, version))
        return job_id

    def send(self, command: Command, wait_s: float = 0.0) -> bool:
        """Deliver a command; False if the job is unknown (closed).

        With `wait_s`, also wait up to that long for the job's answer: a snapshot taken after the
        command was handled (so a page that redraws right after a Pause shows where it stopped).
        A Reset to a network over the server's memory raises ServerFull (the job keeps its old one).
        A heavy job's Play or Step waits in the queue while the heavy slots are taken.
        """
        with self._lock:
            record = self._jobs.get(command.job_id)
            if record is None:
                return False
            worker = self._workers[record.worker]
            number = record.number + 1
            forward = True
            if isinstance(command, Close):
                _log.info("job %s of session %s closed", command.job_id[:8], record.owner or "-")
                self._forget(command.job_id)
            else:
                if isinstance(command, Reset):
                    cost = self.cost(command.spec)
                    self._admit(command.job_id, cost)
                    record.spec, record.built, record.cost, record.checkpoint = command.spec, command.version, cost, None
                    record.version, record.error, record.restoring = command.version, None, None
                    self._release(command.job_id)
                elif isinstance(command, Update):
                    record.spec = replace(record.spec, train=command.train)
                    record.version, record.error = command.version, None
                    record.cost = self.cost(record.spec)
                elif isinstance(command, (Play, Step)):
                    record.error = None
                    if record.cost.heavy and command.job_id not in self._running_heavy:
                        self._dequeue(command.job_id)
                        if len(self._running_heavy) >= self.settings.max_heavy_jobs:
                            self._queue.append((command.job_id, number, command))
                            forward = False
                        else:
                            self._running_heavy[command.job_id] = number
                elif isinstance(command, Pause):
                    self._release(command.job_id)
                record.number = number
                record.seen = time.monotonic()
        if forward:
            worker.commands.put((number, command))
        if wait_s > 0 and forward and not isinstance(command, Close):
            self.wait_answered(command.job_id, number, wait_s)
        return True

    def _dequeue(self, job_id: str) -> None:
        self._queue = [entry for entry in self._queue if entry[0] != job_id]

    def _release(self, job_id: str) -> None:
        """The job no longer holds or waits for a heavy slot; the next in line gets it (lock held)."""
        self._dequeue(job_id)
        if self._running_heavy.pop(job_id, None) is not None:
            self._promote()

    def _promote(self) -> None:
        """Start queued heavy jobs while slots are free (lock held)."""
        while self._queue and len(self._running_heavy) < self.settings.max_heavy_jobs:
            waiting, number, command = self._queue.pop(0)
            record = self._jobs.get(waiting)
            if record is None:
                continue
            self._running_heavy[waiting] = number
            self._workers[record.worker].commands.put((number, command))

    def wait_answered(self, job_id: str, number: int, timeout_s: float) -> bool:
        """Wait until the job's latest snapshot answers command `number`; False on timeout."""
        def answered() -> bool:
            record = self._jobs.get(job_id)
            return record is None or (record.latest is not None and record.latest.acked >= number)

        with self._answered:
            return self._answered.wait_for(answered, timeout_s) and job_id in self._jobs

    def close(self, job_id: str) -> None:
        self.send(Close(job_id))

    # reads

    def is_open(self, job_id: str | None) -> bool:
        return job_id is not None and job_id in self._jobs

    def latest(self, job_id: str) -> Any:
        """The newest snapshot of a job (None before its first); counts as the page looking."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None:
                return None
            record.seen = time.monotonic()
            return record.latest

    def touch(self, job_ids, owner: str | None = None) -> None:
        """Mark jobs as looked at (a page that shows one job keeps its session's others alive),
        and remember the page session that owns them."""
        now = time.monotonic()
        with self._lock:
            for job_id in job_ids:
                record = self._jobs.get(job_id)
                if record is not None:
                    record.seen = now
                    if owner is not None:
                        record.owner = owner

    def status(self, job_id: str | None) -> JobStatus:
        """Why the job may not be moving (all None: it is fine)."""
        with self._lock:
            record = self._jobs.get(job_id) if job_id else None
            if record is None:
                return JobStatus()
            ahead = next((i for i, entry in enumerate(self._queue) if entry[0] == job_id), None)
            stalled = None
            snap = record.latest
            if snap is not None and snap.playing and record.restoring is None:
                quiet = time.monotonic() - record.arrived
                stalled = quiet if quiet > STALLED_S else None
            settled = snap is not None and snap.acked >= record.number
            return JobStatus(record.error, ahead, record.restoring, stalled, settled, self.settings.max_heavy_jobs)

    def checkpoint_age(self, job_id: str) -> float | None:
        """Seconds since the job's last checkpoint (None: it has none yet)."""
        with self._lock:
            record = self._jobs.get(job_id)
            if record is None or record.checkpoint is None:
                return None
            return time.monotonic() - record.checkpoint[0]

    def checkpoint_epoch(self, job_id: str) -> int | None:
        """The epoch the job's last checkpoint was taken in (None: it has none yet)."""
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None or record.checkpoint is None else record.checkpoint[1]

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

    def worker_of(self, job_id: str) -> int | None:
        with self._lock:
            record = self._jobs.get(job_id)
            return None if record is None else record.worker

    def error(self, job_id: str) -> str | None:
        record = self._jobs.get(job_id)
        return None if record is None else record.error

    def playing_jobs(self) -> int:
        """Jobs training now, as their latest snapshots say."""
        with self._lock:
            return sum(1 for r in self._jobs.values() if r.latest is not None and r.latest.playing)

    def refresh_interval(self) -> float:
        """How often a training page redraws. Only training pages count: a paused one redraws
        once a second (`ui.refresh`), a small fixed cost, and must not slow the others down."""
        return page_refresh_interval(self.playing_jobs())

    # threads

    def _start_worker(self) -> _Worker:
        if self.settings.executor == "ray":  # ray is imported only here, only when chosen
            from .ray_executor import RayWorker

            worker = RayWorker(self._image_threads, self.settings.checkpoint_s, self.settings.ray_address)
        else:
            worker = _Worker(self._ctx, self._image_threads, self.settings.checkpoint_s)
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
            except Exception as error:  # noqa: BLE001 - a garbled message must not end the receiver
                _log.warning("unreadable message from a worker: %s", error)
                continue
            with self._lock:
                if worker.retired.is_set():
                    return
                if kind == "census":
                    worker.census = (worker.census[0] + 1, payload)
                    self._answered.notify_all()
                    continue
                if kind == "machine":
                    self.machine = payload
                    continue
                record = self._jobs.get(job_id)
                if record is None or self._workers[record.worker] is not worker:
                    continue
                if kind == "snapshot":
                    old = record.latest
                    fresh_worker = record.restoring is not None  # its worker numbers snapshots from 1 again
                    if old is None or fresh_worker or payload.seq > old.seq or payload.spec_version != old.spec_version:
                        record.latest, record.arrived = payload, time.monotonic()
                        record.restoring = None
                        running = self._running_heavy.get(job_id)
                        if running is not None and payload.acked >= running and not payload.playing:
                            self._release(job_id)  # finished, diverged or stepped: the slot is free
                        self._answered.notify_all()
                elif kind == "error":
                    record.error = payload
                    self._release(job_id)
                    self._answered.notify_all()
                elif kind == "checkpoint":
                    built, epoch, blob = payload
                    if built == record.built:
                        record.checkpoint = (time.monotonic(), epoch, blob)
                elif kind == "lost":  # its Ray actor died (ray_executor.py): brought back as from a dead worker
                    _log.warning("the actor of job %s died (%s); restoring it", job_id[:8], payload)
                    self._bring_back([(job_id, record)])

    def _reap(self, every_s: float) -> None:
        trimmed = time.monotonic()
        while not self._closed.wait(every_s):
            now = time.monotonic()
            with self._lock:
                stale = [(j, r.owner) for j, r in self._jobs.items() if now - r.seen > self.ttl_s]
            for job_id, owner in stale:
                if not self._still_connected(owner):
                    self.close(job_id)
            if stale or now - trimmed > TRIM_EVERY_S:  # pages closed, drawings dropped: give it back
                release_freed_memory()
                trimmed = now
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
        """A worker died (killed, out of memory): start a fresh one, and bring its jobs back on
        the least loaded workers from their last checkpoints, paused, each with a note."""
        exit_code = self._workers[index].process.exitcode
        _log.warning("worker %d died (exit code %s); restoring its jobs", index, exit_code)
        with self._lock:
            self._workers[index].retired.set()
            self._workers[index] = self._start_worker()
            self._bring_back([(j, r) for j, r in self._jobs.items() if r.worker == index])

    def _bring_back(self, lost: list[tuple[str, _Record]]) -> None:
        """Restore jobs whose worker died on the least loaded workers (lock held)."""
        now = time.monotonic()
        for job_id, record in lost:
            self._dequeue(job_id)
            self._running_heavy.pop(job_id, None)
            record.restores += 1
            if record.restores > MAX_RESTORES:
                record.error = (f"The server process training this network stopped {record.restores} times "
                                "(out of memory?), so it was not brought back again. Make the network smaller, "
                                "then press Reset.")
                record.worker = self._least_loaded_except(job_id)
                continue
            record.worker = self._least_loaded_except(job_id)
            stopped = "The server process that trained this network stopped (killed or out of memory)."
            if record.checkpoint is not None:
                when, epoch, blob = record.checkpoint
                saved = f"its checkpoint of {now - when:.0f} s before, at epoch {epoch}"
                note = f"{stopped} It is back from {saved}, paused: press Play to go on."
                record.restoring = f"{stopped} Bringing it back from {saved}…"
            else:
                blob = None
                note = f"{stopped} It had not been saved yet, so it was rebuilt from its settings, paused."
                record.restoring = f"{stopped} Rebuilding it from its settings…"
            record.number += 1
            self._workers[record.worker].commands.put(
                (record.number, Restore(job_id, record.spec, record.version, record.built, blob, note)))
        self._promote()
        self._answered.notify_all()

    def _least_loaded_except(self, job_id: str) -> int:
        loads = [0.0] * len(self._workers)
        for other, record in self._jobs.items():
            if other != job_id:
                loads[record.worker] += record.cost.weight
        return loads.index(min(loads))

    def _forget(self, job_id: str) -> None:
        """Drop every trace of a job on the server side (call with the lock held)."""
        self._release(job_id)
        self._jobs.pop(job_id, None)
        self._answered.notify_all()  # nobody waits for a closed job's answer

    def shutdown(self) -> None:
        self._closed.set()
        for worker in self._workers:
            worker.commands.put((0, _Shutdown()))
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
