"""The job protocol on Ray (`PLAYGROUND_EXECUTOR=ray`): each job is a Ray actor holding its trainer.

One local Ray cluster of two nodes (`ray.cluster_utils.Cluster`, one CPU each) serves the whole
module: Ray is heavy to start on 2 cores. On it run the job-protocol tests of `test_jobs.py`
(imported below, with this module's Ray-backed `manager`), then what is Ray's own: jobs spread
over the nodes, a link gives the same losses step for step as in the process pool, a closed job
frees its actor, and a job whose actor (or node) dies comes back from its checkpoint, paused,
with a note. Every wait polls with a deadline; nothing asserts how long anything took.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest

try:
    import ray
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs requirements-ray.txt: these tests must run there
    pytest.skip("ray is not installed (pip install -r requirements-ray.txt)", allow_module_level=True)

from playground import ray_executor
from playground.images.presets import image_preset
from playground.jobs import JobManager, Play, Step, Update
from playground.settings import Settings, read_settings
from playground.sharelink import decode
from playground.trainer import Trainer

from . import test_jobs as protocol
from .test_jobs import SPEC, open_job, step, wait_for, wait_until

DEADLINE_S = 90.0  # generous: an actor's process imports torch before its first snapshot
LONG_TTL_S = 120.0
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes on this machine, for this module only (torn down before the next module),
    in a temporary directory of its own so another Ray on this machine is neither found nor
    disturbed."""
    from ray.cluster_utils import Cluster

    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must stay short
    saved = {name: os.environ.get(name) for name in ("RAY_TMPDIR", "RAY_USAGE_STATS_ENABLED", "RAY_ADDRESS")}
    os.environ.update(RAY_TMPDIR=temp, RAY_USAGE_STATS_ENABLED="0")
    os.environ.pop("RAY_ADDRESS", None)
    nodes = None
    try:
        node_args = {"num_cpus": 1, "object_store_memory": 100 * 1024**2, "include_dashboard": False}
        nodes = Cluster(initialize_head=True, head_node_args=node_args)
        nodes.add_node(**{k: v for k, v in node_args.items() if k != "include_dashboard"})
        nodes.wait_for_nodes()
        ray.init(address=nodes.address, log_to_driver=False)
        yield nodes
    finally:
        ray.shutdown()
        if nodes is not None:
            nodes.shutdown()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(temp, ignore_errors=True)


def ray_manager(**kwargs) -> JobManager:
    settings = Settings(executor="ray", checkpoint_s=kwargs.pop("checkpoint_s", 2.0))
    return JobManager(settings=settings, **kwargs)


@pytest.fixture(scope="module")
def manager(cluster):
    """As `test_jobs.manager`, on Ray: the protocol tests imported below use it. A job whose
    actor is not started yet waits seconds for it (importing torch), so two spares are kept,
    and the TTL is long: a test that opens three jobs in a row must not lose the first to the
    reaper meanwhile (the TTL test shortens it once its jobs are open)."""
    spares, ray_executor.SPARE_ACTORS = ray_executor.SPARE_ACTORS, 2
    m = ray_manager(ttl_s=LONG_TTL_S, reap_every_s=0.5, checkpoint_s=0.3)
    yield m
    m.shutdown()
    ray_executor.SPARE_ACTORS = spares


@pytest.fixture(scope="module")
def pool():
    m = JobManager(workers=1, ttl_s=600)
    yield m
    m.shutdown()


# ---- the protocol tests of the process pool, run on Ray ---------------------------------------

test_open_gives_a_first_snapshot = protocol.test_open_gives_a_first_snapshot
test_play_then_pause = protocol.test_play_then_pause
test_a_pause_that_waits_returns_with_the_stopped_network_in_hand = \
    protocol.test_a_pause_that_waits_returns_with_the_stopped_network_in_hand
test_wait_for_an_answer_times_out_without_one = protocol.test_wait_for_an_answer_times_out_without_one
test_a_step_is_answered_when_it_is_done = protocol.test_a_step_is_answered_when_it_is_done
test_step_advances_exactly_one_epoch = protocol.test_step_advances_exactly_one_epoch
test_losses_equal_an_in_process_trainer = protocol.test_losses_equal_an_in_process_trainer
test_update_keeps_the_epoch_while_playing = protocol.test_update_keeps_the_epoch_while_playing
test_reset_starts_afresh = protocol.test_reset_starts_afresh
test_workers_report_the_jobs_they_hold = protocol.test_workers_report_the_jobs_they_hold


def test_unread_job_is_closed_after_the_ttl_and_a_read_one_stays_open(manager):
    """test_jobs' TTL test, with the TTL shortened once both jobs are open (see `manager`)."""
    watched, _ = open_job(manager)
    job_id, _ = open_job(manager)
    assert manager.send(Play(job_id))
    wait_for(manager, job_id, lambda s: s.playing, "the job to play")
    actor = executor(manager).actor_of(job_id)
    manager.ttl_s = 2.0
    try:
        # from now on only `watched` is read
        wait_until(lambda: manager.latest(watched) is not None and not manager.is_open(job_id),
                   "the reaper to close the unread job", timeout=30)
        closed_at = time.monotonic()
        assert manager.latest(job_id) is None and not manager.send(Play(job_id))
        assert not protocol.on_a_worker(manager, job_id) and executor(manager).actor_of(job_id) is None
        while time.monotonic() < closed_at + 1.0:
            assert manager.latest(watched) is not None
            time.sleep(0.05)
        assert manager.is_open(watched)
    finally:
        manager.ttl_s = LONG_TTL_S
    manager.close(watched)
    wait_until(lambda: gone(actor), "the reaped job's actor to be gone", timeout=DEADLINE_S)


# ---- Ray's own ------------------------------------------------------------------------------------


def executor(manager: JobManager):
    [worker] = manager._workers  # the whole cluster is one worker of the manager's
    return worker


def gone(actor) -> bool:
    """Whether a call on the actor fails because it is dead."""
    try:
        ray.get(actor.where.remote(), timeout=DEADLINE_S)
    except ray.exceptions.RayActorError:
        return True
    return False


def test_the_executor_is_chosen_by_configuration():
    assert read_settings({}).executor == "process"
    settings = read_settings({"PLAYGROUND_EXECUTOR": " Ray ", "RAY_ADDRESS": "ray-head:6379"})
    assert (settings.executor, settings.ray_address, settings.problems) == ("ray", "ray-head:6379", ())
    typo = read_settings({"PLAYGROUND_EXECUTOR": "rays", "RAY_ADDRESS": "head 6379"})
    assert (typo.executor, typo.ray_address) == ("process", "") and len(typo.problems) == 2


def test_jobs_are_actors_spread_over_both_nodes(manager, cluster):
    jobs = [manager.open(SPEC, v) for v in range(1, 5)]  # their actors start side by side
    for job in jobs:
        wait_for(manager, job, lambda s: True, "the first snapshot", timeout=DEADLINE_S)
    places = [executor(manager).where(job) for job in jobs]
    assert len({place["pid"] for place in places}) == 4 and os.getpid() not in {p["pid"] for p in places}
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert {place["node"] for place in places} == nodes and len(nodes) == 2
    assert manager.worker_jobs() == [set(jobs)]  # the census asks every actor
    for job in jobs:
        manager.close(job)


def test_a_closed_job_frees_its_actor(manager):
    job_id, _ = open_job(manager)
    actor = executor(manager).actor_of(job_id)
    assert ray.get(actor.where.remote(), timeout=DEADLINE_S)["pid"] > 0
    manager.close(job_id)
    assert executor(manager).actor_of(job_id) is None
    wait_until(lambda: gone(actor), "the closed job's actor to be gone", timeout=DEADLINE_S)


def same_losses(a, b) -> None:
    np.testing.assert_array_equal(a.history.train_loss, b.history.train_loss)
    np.testing.assert_array_equal(a.history.test_loss, b.history.test_loss)
    for x, y in zip(a.weights, b.weights):
        np.testing.assert_array_equal(x, y)


def same_curves(a, b) -> None:
    assert a.train_curve.shape[0] > 1 and a.test_curve.shape[0] >= 1
    np.testing.assert_array_equal(a.train_curve, b.train_curve)
    np.testing.assert_array_equal(a.test_curve, b.test_curve)
    np.testing.assert_array_equal(a.confusion, b.confusion)


def run_link(manager: JobManager, spec, epochs: int, update=None):
    """Open a link, Step `epochs` epochs, optionally Update and Step again; the snapshots."""
    job_id = manager.open(spec, 1)
    wait_for(manager, job_id, lambda s: True, "the first snapshot", timeout=DEADLINE_S)
    first = step(manager, job_id, epochs)
    second = None
    if update is not None:
        manager.send(Update(job_id, update, version=2))
        wait_for(manager, job_id, lambda s: s.spec_version == 2, "the update", timeout=DEADLINE_S)
        second = step(manager, job_id, epochs)
    manager.close(job_id)
    return first, second


def test_a_link_gives_the_same_losses_step_for_step_on_ray_as_in_the_pool(manager, pool):
    spec, _ = decode({"dataset": "spiral", "networkShape": "8,8,8", "optimizer": "adam", "learningRate": "0.01",
                      "batchSize": "7", "seed": "11"})
    new_train = replace(spec.train, learning_rate=0.003, batch_size=16)
    on_ray = run_link(manager, spec, 3, update=new_train)
    in_pool = run_link(pool, spec, 3, update=new_train)
    for a, b in zip(on_ray, in_pool):
        assert a.epoch == b.epoch and a.step == b.step
        same_losses(a, b)

    images = image_preset("logistic")
    [ray_images, _] = run_link(manager, images, 1)
    [pool_images, _] = run_link(pool, images, 1)
    assert ray_images.epoch == pool_images.epoch == 1 and ray_images.step == pool_images.step
    same_curves(ray_images, pool_images)


def test_a_killed_actor_brings_its_job_back_from_its_checkpoint_and_the_others_train_on(manager):
    specs = [replace(SPEC, data=replace(SPEC.data, seed=seed)) for seed in (1, 2)]
    lost, bystander = [open_job(manager, spec)[0] for spec in specs]
    for job in (lost, bystander):
        manager.send(Play(job))
    wait_for(manager, lost, lambda s: s.epoch >= 20, "training to get going", timeout=DEADLINE_S)
    wait_until(lambda: (manager.checkpoint_epoch(lost) or 0) >= 5, "a checkpoint past the start")
    reached = manager.latest(lost).epoch
    old = executor(manager).where(lost)
    ray.kill(executor(manager).actor_of(lost))

    back = wait_for(manager, lost, lambda s: s.notice is not None, "the job to come back", timeout=DEADLINE_S)
    assert not back.playing and "checkpoint" in back.notice and "press Play" in back.notice
    assert 0 < back.epoch <= reached + 200  # from a checkpoint, not from scratch
    assert executor(manager).where(lost)["pid"] != old["pid"]
    reference = Trainer(specs[0])
    reference.run_epochs(back.epoch)
    assert back.history.train_loss[-1] == reference.history["train_loss"][-1]
    stepped = step(manager, lost)
    reference.run_epochs(1)
    assert stepped.train_loss == reference.history["train_loss"][-1] and stepped.notice is None
    assert manager.status(lost).error is None

    other = manager.latest(bystander)  # its actor was not touched
    assert other.playing and other.notice is None
    wait_for(manager, bystander, lambda s: s.epoch > other.epoch, "the bystander to train on")
    for job in (lost, bystander):
        manager.close(job)


SERVER = textwrap.dedent(f"""
    import sys, threading, time
    from playground.jobs import JobManager, Play
    from playground.settings import read_settings
    from playground.sharelink import decode
    assert "ray" not in sys.modules
    made = []  # built in a thread that then ends, as Streamlit builds it in a script run's thread
    builder = threading.Thread(target=lambda: made.append(JobManager(ttl_s=600, settings=read_settings())))
    builder.start()
    builder.join()
    manager = made[0]
    job = manager.open(decode({{"networkShape": "3"}})[0], 1)
    manager.send(Play(job))
    end = time.monotonic() + {DEADLINE_S}
    while time.monotonic() < end and (manager.latest(job) is None or manager.latest(job).epoch < 3):
        time.sleep(0.05)
    assert manager.latest(job) is not None and manager.latest(job).epoch >= 3, "no training"
    assert "ray" in sys.modules and "torch" not in sys.modules, sorted(m for m in sys.modules if "torch" in m)
    manager.shutdown()
    print("ok")
""")


@pytest.mark.parametrize("ray_address", ["the cluster's", "empty"])
def test_a_server_on_ray_trains_without_importing_torch(cluster, ray_address):
    """A server process with PLAYGROUND_EXECUTOR=ray joins the cluster at RAY_ADDRESS, or (empty)
    starts a local Ray of its own, which outlives the thread that built the manager; it trains a
    job and reads its snapshots without importing torch, and its own Ray is gone with it."""
    env = dict(os.environ, PLAYGROUND_EXECUTOR="ray", RAY_ADDRESS=cluster.address)
    own = None
    if ray_address == "empty":
        own = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
        env.update(RAY_ADDRESS="", RAY_TMPDIR=own)  # a Ray directory of its own: no cluster to find
    try:
        done = subprocess.run([sys.executable, "-c", SERVER], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=3 * DEADLINE_S)
        assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]
        if own is not None:
            wait_until(lambda: subprocess.run(["pgrep", "-f", own], capture_output=True).returncode == 1,
                       "the server's own Ray processes to end", timeout=DEADLINE_S)
    finally:
        if own is not None:
            shutil.rmtree(own, ignore_errors=True)


def test_a_job_on_a_node_that_goes_away_comes_back_on_the_other(manager, cluster):
    """Keep this last: it removes the second node."""
    [node] = cluster.worker_nodes
    jobs = [open_job(manager, version=v)[0] for v in (1, 2)]
    for job in jobs:
        manager.send(Step(job, 2))
    for job in jobs:
        wait_for(manager, job, lambda s: s.epoch == 2 and not s.playing, "the steps", timeout=DEADLINE_S)
        wait_until(lambda: manager.checkpoint_epoch(job) == 2, "the checkpoint of the stopped job")
    on_node = [job for job in jobs if executor(manager).where(job)["node"] == node.node_id]
    assert on_node  # spread over the nodes
    cluster.remove_node(node)
    for moved in on_node:
        back = wait_for(manager, moved, lambda s: s.notice is not None, "the job to come back", timeout=DEADLINE_S)
        assert back.epoch == 2 and not back.playing and "checkpoint" in back.notice
        assert executor(manager).where(moved)["node"] != node.node_id
    for stayed in set(jobs) - set(on_node):
        assert manager.latest(stayed).notice is None
    for job in jobs:
        manager.close(job)
