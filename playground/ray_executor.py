"""Training jobs on a Ray cluster, one actor per job (`PLAYGROUND_EXECUTOR=ray`, `RAY_ADDRESS`).

The server's `JobManager` sees the cluster as one worker of its pool (`RayWorker`), with the same
two ends as a worker process: a `commands` queue it puts `(number, command)` into, and a `results`
queue of `(kind, job_id, payload)` it reads with its usual receiver thread. Behind them each job
is a Ray actor (`_JobActor`) that runs the worker loop of `jobs.py` unchanged, on a thread, with
local queues: a command is an actor call that enqueues it, and the server long-polls each actor
for its results (`take`), one thread per job. Snapshots travel pickled, as through a
multiprocessing queue, so the page gets the same plain, writable numpy arrays.

- A Reset (or a Restore) of a job that has no live actor starts one; Close kills it, which frees
  its process and memory on whatever node it ran.
- Commands reach the loop in the order the server sent them: actor calls of a threaded actor may
  run in any order, so each carries a per-actor delivery number and the actor holds back any
  that arrive early.
- An actor that dies (killed, out of memory, its node gone) is reported to the manager as a
  ("lost", job_id, why) result after all the results it had sent; the manager brings the job back
  on a new actor from its last checkpoint, paused, with the same note as for a dead worker process.
- An actor's process takes seconds to start (most of it importing torch), so the executor keeps
  `SPARE_ACTORS` started and idle: a new job takes one at once and another is started behind it.
  The first one measures the machine's speed, as a worker process does when the pool starts.
- Actors ask for a small share of a CPU (`ACTOR_CPUS`) and are spread over the nodes; what one
  network may cost is bounded by the manager's admission, as with the process pool.

This module imports ray, so `jobs.py` imports it only when the executor is ray; like `jobs.py`
it never imports torch (the actor's worker loop does, in the actor's process).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import queue
import threading
import time
from collections import deque

import ray

from .jobs import Close, Reset, Restore, _Census, _Shutdown, _worker_main

ACTOR_CPUS = 0.05  # the CPU share an actor reserves: about 20 jobs per core, as the process pool packs them
TAKE_S = 1.0  # how long one poll waits for a job's results
TAKE_MAX = 256  # results returned by one poll at most
BACKLOG = 256  # results taken from the actors and not yet read by the manager, past which polling waits
CENSUS_S = 30.0  # how long a census waits for each actor's answer
SPARE_ACTORS = 1  # actors kept started (torch imported) for the next jobs to open

_log = logging.getLogger(__name__)


class _JobActor:
    """One job's trainer: the worker loop of `jobs.py` on a thread, fed through local queues."""

    def __init__(self, image_threads: int, checkpoint_s: float, measure: bool):
        self._commands: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._order = threading.Lock()
        self._next = 1  # the delivery number the loop gets next
        self._held: dict[int, tuple] = {}  # deliveries that arrived before an earlier one
        self._loop = threading.Thread(target=_worker_main, name="playground-job",
                                      args=(self._commands, self._results, image_threads, checkpoint_s),
                                      kwargs={"measure": measure}, daemon=True)
        self._loop.start()

    def command(self, delivery: int, number: int, command) -> None:
        with self._order:
            self._held[delivery] = (number, command)
            while self._next in self._held:
                self._commands.put(self._held.pop(self._next))
                self._next += 1

    def take(self, timeout_s: float) -> bytes:
        """The results the loop has published since the last call (waiting up to `timeout_s` for
        the first), pickled as a list."""
        items = []
        try:
            items.append(self._results.get(timeout=timeout_s))
            while len(items) < TAKE_MAX:
                items.append(self._results.get_nowait())
        except queue.Empty:
            pass
        if not items and not self._loop.is_alive():
            raise RuntimeError("this job's worker loop ended")
        return pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL)

    def where(self) -> dict:
        """The node and process this actor runs in."""
        return {"node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


_JobActor.command = ray.method(num_returns=0)(_JobActor.command)  # fire and forget, in order by `delivery`
_RemoteJobActor = ray.remote(num_cpus=ACTOR_CPUS, max_concurrency=4, max_restarts=0, max_task_retries=0,
                             scheduling_strategy="SPREAD")(_JobActor)


class _Handle:
    """The server's end of one job's actor."""

    def __init__(self, job_id: str | None, actor):
        self.job_id = job_id  # None: a spare, no job yet
        self.actor = actor
        self.closed = False  # killed on purpose: its death is not a loss
        self.dead = False
        self._sending = threading.Lock()
        self._deliveries = 0
        self.census: deque[list] = deque()  # answers awaited, oldest first: [event, jobs]

    def send(self, number: int, command) -> None:
        with self._sending:
            self._deliveries += 1
            self.actor.command.remote(self._deliveries, number, command)

    def answer_census(self, jobs: list[str] | None) -> None:
        """Hand a census answer to the oldest waiter (None: to every waiter, the actor is gone)."""
        while True:
            try:
                waiter = self.census.popleft()
            except IndexError:
                return
            waiter[1] = jobs or []
            waiter[0].set()
            if jobs is not None:
                return


class _Commands:
    """The `commands` end of a RayWorker: `put((number, command))` as on a worker's queue."""

    def __init__(self, worker: RayWorker):
        self._worker = worker

    def put(self, item) -> None:
        self._worker._route(*item)


class _Cluster:
    """Stands for a worker's process in `JobManager`: alive until the manager shuts the executor
    down (so its reaper never "restarts" the executor; lost actors are reported one by one)."""

    pid = None
    exitcode = None

    def __init__(self, ended: threading.Event):
        self._ended = ended

    def is_alive(self) -> bool:
        return not self._ended.is_set()

    def join(self, timeout: float | None = None) -> None:
        self._ended.wait(timeout)

    def terminate(self) -> None:
        self._ended.set()


class RayWorker:
    """A Ray cluster as one worker of `JobManager`'s pool (see the module's docstring)."""

    def __init__(self, image_threads: int, checkpoint_s: float, address: str = ""):
        self._stopped = threading.Event()
        self._keeper: threading.Thread | None = None
        if not ray.is_initialized():
            self._keeper = self._connect(address)
        self._image_threads, self._checkpoint_s = image_threads, checkpoint_s
        self.commands = _Commands(self)
        self.results: queue.Queue = queue.Queue(maxsize=BACKLOG)
        self.retired = threading.Event()
        self.census: tuple[int, list[str]] = (0, [])
        self._ended = threading.Event()  # shut down by the manager (not only at exit)
        self.process = _Cluster(self._ended)
        self._lock = threading.Lock()
        self._handles: dict[str, _Handle] = {}
        self._measured = False
        self._census_lock = threading.Lock()
        self._spares: deque[_Handle] = deque()
        self._polls: list[threading.Thread] = []
        # Before Ray's own exit hook (registered earlier, so run later): no poll thread may call into
        # a Ray that is shut down, which ends the process with an error.
        atexit.register(self._shutdown)
        with self._lock:
            self._top_up()

    def _connect(self, address: str) -> threading.Thread:
        """Join the cluster at `address`, or start or join a local Ray, from a thread that lives
        until shutdown: Ray ties the processes of a local Ray it starts to the thread that started
        them (PR_SET_PDEATHSIG), and Streamlit builds the manager in a script run's thread, which
        ends with the run."""
        ready, failed = threading.Event(), []

        def keep() -> None:
            try:
                # The settings decide the address: Ray must not fall back on reading RAY_ADDRESS itself
                # (a value the settings refused, or settings given in code with no address).
                refused = not address and os.environ.get("RAY_ADDRESS", "").strip()
                ray.init(address=address or ("local" if refused else None), include_dashboard=False,
                         ignore_reinit_error=True)
            except BaseException as error:  # noqa: BLE001 - raised in the manager's thread below
                failed.append(error)
                return
            finally:
                ready.set()
            self._stopped.wait()
            ray.shutdown()

        keeper = threading.Thread(target=keep, daemon=True, name="playground-ray")
        keeper.start()
        ready.wait()
        if failed:
            raise failed[0]
        return keeper

    # commands, from the manager's threads (never blocking on `results`: the manager may hold its lock)

    def _route(self, number: int, command) -> None:
        if isinstance(command, _Shutdown):
            self._shutdown()
            self._ended.set()
            return
        if self._stopped.is_set():  # shut down (or the server is exiting): nothing more reaches Ray
            return
        if isinstance(command, _Census):
            threading.Thread(target=self._census, daemon=True, name="playground-ray-census").start()
            return
        with self._lock:
            handle = self._handles.get(command.job_id)
            if isinstance(command, Close):
                self._handles.pop(command.job_id, None)
            elif (handle is None or handle.dead) and isinstance(command, (Reset, Restore)):
                handle = self._start(command.job_id)
        if handle is None or handle.dead:
            return  # as on a dead worker: the job is restored with its latest spec
        if isinstance(command, Close):
            self._kill(handle)
            return
        try:
            handle.send(number, command)
        except Exception as error:  # noqa: BLE001 - the poll thread reports the actor's end
            _log.warning("could not send %s to job %s: %s", type(command).__name__, command.job_id[:8], error)

    def _start(self, job_id: str) -> _Handle | None:
        """An actor for a job: a spare if there is one, else a new one (lock held)."""
        handle = None
        while self._spares and handle is None:
            spare = self._spares.popleft()
            handle = None if spare.dead else spare
        if handle is None:
            try:
                handle = self._new_actor()
            except Exception as error:  # noqa: BLE001 - the job fails, the server carries on
                _log.warning("could not start an actor for job %s: %s", job_id[:8], error)
                message = f"The training cluster could not take this network ({type(error).__name__}). Try again later."
                threading.Thread(target=self._deliver, args=(("error", job_id, message),), daemon=True).start()
                return None
        handle.job_id = job_id
        self._handles[job_id] = handle
        self._top_up()
        return handle

    def _new_actor(self) -> _Handle:
        """Start an actor and its poll thread; it belongs to no job yet (lock held)."""
        actor = _RemoteJobActor.remote(self._image_threads, self._checkpoint_s, not self._measured)
        self._measured = True
        handle = _Handle(None, actor)
        poll = threading.Thread(target=self._poll, args=(handle,), daemon=True, name="playground-ray-poll")
        poll.start()
        self._polls = [thread for thread in self._polls if thread.is_alive()] + [poll]
        return handle

    def _top_up(self) -> None:
        """Start spares up to SPARE_ACTORS (lock held); a cluster that cannot start one has none."""
        self._spares = deque(h for h in self._spares if not h.dead)
        while len(self._spares) < SPARE_ACTORS and not self._stopped.is_set():
            try:
                self._spares.append(self._new_actor())
            except Exception as error:  # noqa: BLE001 - jobs then start their own actors
                _log.warning("could not start a spare actor: %s", error)
                return

    def _kill(self, handle: _Handle) -> None:
        handle.closed = True
        handle.answer_census(None)
        try:
            ray.kill(handle.actor, no_restart=True)
        except Exception as error:  # noqa: BLE001 - already gone
            _log.info("job %s: its actor was already gone (%s)", (handle.job_id or "(spare)")[:8], error)

    # results, on one poll thread per actor

    def _poll(self, handle: _Handle) -> None:
        while not handle.closed and not self._stopped.is_set():
            try:
                items = pickle.loads(ray.get(handle.actor.take.remote(TAKE_S)))
            except Exception as error:  # noqa: BLE001 - the actor died (or its loop ended): the job is lost
                if handle.closed or self._stopped.is_set():
                    return
                with self._lock:  # `_start` takes only spares that are not dead
                    handle.dead = True
                    spare = handle.job_id is None
                handle.answer_census(None)
                if spare:  # nobody lost anything
                    return
                _log.warning("the actor of job %s is gone: %s", handle.job_id[:8], (str(error).splitlines() or [""])[0][:300])
                try:
                    ray.kill(handle.actor, no_restart=True)  # its loop may have ended in a live process
                except Exception:  # noqa: BLE001 - it is dead already
                    pass
                self._deliver(("lost", handle.job_id, type(error).__name__))
                return
            for kind, job_id, payload in items:
                if kind == "census":
                    handle.answer_census(payload)
                elif not handle.closed:
                    self._deliver((kind, job_id, payload))

    def _deliver(self, item) -> None:
        """Hand a result to the manager; waits while it is behind (the actors then hold back)."""
        while not self._stopped.is_set():
            try:
                self.results.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _census(self) -> None:
        """Ask every live actor which jobs it holds and report them together, as one worker would."""
        with self._census_lock:
            with self._lock:
                handles = [h for h in self._handles.values() if not h.dead and not h.closed]
            waiters = []
            for handle in handles:
                waiter = [threading.Event(), []]
                handle.census.append(waiter)
                waiters.append(waiter)
                try:
                    handle.send(0, _Census())
                except Exception:  # noqa: BLE001 - a dead actor holds nothing
                    handle.answer_census(None)
            jobs: list[str] = []
            for waiter in waiters:
                waiter[0].wait(CENSUS_S)
                jobs.extend(waiter[1])
            self._deliver(("census", "", sorted(jobs)))

    # for tests and health checks

    def actor_of(self, job_id: str):
        """The actor handle of a job (None if it has none)."""
        with self._lock:
            handle = self._handles.get(job_id)
            return None if handle is None else handle.actor

    def where(self, job_id: str, timeout_s: float = 60.0) -> dict | None:
        """The node id and process id of a job's actor (None if it has none)."""
        actor = self.actor_of(job_id)
        return None if actor is None else ray.get(actor.where.remote(), timeout=timeout_s)

    def _shutdown(self) -> None:
        """Kill every actor, wait for the poll threads, and leave Ray if this executor joined it."""
        with self._lock:
            if self._stopped.is_set():
                return
            handles = list(self._handles.values()) + list(self._spares)
            self._handles.clear()
            self._spares.clear()
            self._stopped.set()
            polls = list(self._polls)
        for handle in handles:
            self._kill(handle)
        end = time.monotonic() + TAKE_S + 5
        for poll in polls:  # each returns once its actor is gone or its poll ends (TAKE_S)
            poll.join(timeout=max(0.0, end - time.monotonic()))
        if self._keeper is not None:  # it started or joined Ray: it leaves it
            self._keeper.join(timeout=30)
        atexit.unregister(self._shutdown)
