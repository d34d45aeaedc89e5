"""Faults stay inside their job, a dead worker loses no one's work, cost is bounded before it runs.

Real JobManagers with spawned workers; every wait polls with a deadline, nothing asserts a time.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest
import torch

from playground.capacity import limit_problems
from playground.images.spec import ImageSpec, ImageTrainSpec, summarize
from playground.images.trainer import ImageTrainer
from playground.jobs import JobManager, Pause, Play, Reset, ServerFull, Step
from playground.settings import Settings
from playground.sharelink import decode, decode_image
from playground.trainer import KEPT_HISTORY_POINTS, Trainer

DEADLINE_S = 90.0
CIRCLE, _ = decode({"networkShape": "4,3", "activation": "tanh", "seed": "3"})
SMALL_IMAGES, _ = decode_image({"layers": "flatten,dense10", "batchSize": "64", "epochs": "100"})
BATCHNORM_ONE, _ = decode_image({"layers": "flatten,dense16-relu,batchnorm,dense10", "batchSize": "9"})
HEAVY_LINK = {"layers": ",".join(["conv256k3p1-relu"] * 7) + ",maxpool4,flatten,dense10"}


def wait(condition, what: str, timeout: float = DEADLINE_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def snap_where(manager: JobManager, job_id: str, condition, what: str):
    return wait(lambda: (lambda s: s if s is not None and condition(s) else None)(manager.latest(job_id)), what)


@pytest.fixture(scope="module")
def manager():
    settings = Settings(workers=1, max_heavy_jobs=1, checkpoint_s=0.3)
    m = JobManager(ttl_s=600, reap_every_s=0.3, settings=settings)
    yield m
    m.shutdown()


# ---- faults stay inside their job ----------------------------------------------------------------


def test_a_failing_job_is_explained_on_its_page_and_the_others_train_on(manager):
    """BatchNorm after a Dense layer with batches of one raises inside torch; before this fix the
    exception ended the worker process and every job on it."""
    bystander = manager.open(CIRCLE, 1)
    manager.send(Play(bystander))
    spec = replace(BATCHNORM_ONE, train=replace(BATCHNORM_ONE.train, batch_size=1))
    assert not summarize(spec, 10_000).ok  # the page refuses it; the worker must survive it anyway
    [pid] = manager.worker_pids()
    failing = manager.open(spec, 1)
    manager.send(Play(failing))
    error = wait(lambda: manager.status(failing).error, "the failure to be reported")
    assert "BatchNorm" in error and "batch size" in error
    before = manager.latest(bystander).epoch
    snap_where(manager, bystander, lambda s: s.epoch > before + 5, "the bystander to keep training")
    assert manager.worker_pids() == [pid]
    # the failed job is paused, not gone: fixing the batch size lets it train
    manager.send(Pause(failing))
    manager.send(Reset(failing, BATCHNORM_ONE, 2))
    manager.send(Play(failing))
    snap_where(manager, failing, lambda s: s.spec_version == 2 and s.step > 3, "the fixed network to train")
    assert manager.status(failing).error is None
    for job in (bystander, failing):
        manager.close(job)


def test_a_last_batch_of_one_image_is_left_out_with_batchnorm_and_said_so():
    summary = summarize(BATCHNORM_ONE, 10_000)
    assert summary.ok and any("one image" in note and "BatchNorm" in note for note in summary.notes)
    trainer = ImageTrainer(BATCHNORM_ONE, device="cpu")
    assert trainer.steps_per_epoch == 1111  # 9,999 images in batches of 9; the 10,000th waits a turn
    trainer.run_epochs(1)
    assert trainer.epoch == 1 and trainer.diverged is None and trainer.test_accuracy > 0.5


# ---- cost is known and bounded ------------------------------------------------------------------


def test_a_network_over_the_limits_is_explained_and_never_built(manager):
    spec, _ = decode_image(HEAVY_LINK)
    summary = summarize(spec, 10_000)
    problems = limit_problems(summary, spec.train.batch_size, manager.settings)
    assert any("MB" in p for p in problems) and any("batch size of at most" in p or "Even one image" in p for p in problems)
    with pytest.raises(ServerFull):
        manager.open(spec, 1)
    assert manager.memory_in_use_mb() == 0


def test_the_server_refuses_networks_past_its_total_memory():
    settings = Settings(workers=1, max_total_mb=40)
    m = JobManager(ttl_s=600, settings=settings)
    try:
        jobs = [m.open(SMALL_IMAGES, 1)]
        cost = m.cost(SMALL_IMAGES).memory_mb
        while (len(jobs) + 1) * cost <= 40:
            jobs.append(m.open(SMALL_IMAGES, 1))
        with pytest.raises(ServerFull, match="The server is full"):
            m.open(SMALL_IMAGES, 1)
        m.close(jobs.pop())
        jobs.append(m.open(SMALL_IMAGES, 1))  # a closed page frees its share
    finally:
        m.shutdown()


def test_heavy_jobs_beyond_the_limit_wait_in_line_and_start_by_themselves(manager):
    first, second = manager.open(SMALL_IMAGES, 1), manager.open(SMALL_IMAGES, 1)
    manager.send(Play(first))
    snap_where(manager, first, lambda s: s.playing and s.step > 0, "the first heavy job to train")
    manager.send(Play(second))
    assert manager.status(second).queue_ahead == 0
    time.sleep(1.0)
    assert manager.latest(second).step == 0  # it waits: nothing trains it
    manager.send(Pause(first))
    snap_where(manager, second, lambda s: s.step > 0, "the queued job to start when the slot is free")
    assert manager.status(second).queue_ahead is None
    for job in (first, second):
        manager.close(job)


def test_jobs_are_placed_by_estimated_cost():
    m = JobManager(ttl_s=600, settings=Settings(workers=2))
    try:
        heavy = m.open(SMALL_IMAGES, 1)
        light = [m.open(CIRCLE, 1) for _ in range(4)]
        assert {m.worker_of(job) for job in light} == {1 - m.worker_of(heavy)}
    finally:
        m.shutdown()


# ---- bounded memory ----------------------------------------------------------------------------------


def test_a_long_full_batch_run_keeps_a_bounded_evenly_thinned_history():
    spec, _ = decode({"networkShape": "2", "batchSize": "250", "learningRate": "0.1"})
    trainer = Trainer(spec)
    trainer.step(5_000)
    epochs = trainer.history["epoch"]
    assert trainer.epoch == 5_000 and epochs[-1] == 5_000
    assert len(epochs) <= KEPT_HISTORY_POINTS + 1
    assert all(len(values) == len(epochs) for values in trainer.history.values())
    gaps = np.diff(epochs[:-1])
    assert len(set(gaps.tolist())) == 1  # evenly spaced, plus the newest
    assert trainer.snapshot().history.epoch.size <= 301


def test_image_curves_are_thinned_where_they_are_kept(monkeypatch):
    from playground.images import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "LOG_EVERY", 1)
    monkeypatch.setattr(trainer_module, "MAX_CURVE_POINTS", 20)
    trainer = ImageTrainer(SMALL_IMAGES, device="cpu")
    trainer.settle(10**6)
    trainer.step(200)
    steps = [point[0] for point in trainer._train_points]
    assert len(steps) <= 21 and steps[-1] == 200 and steps == sorted(steps)


# ---- checkpoints --------------------------------------------------------------------------------------


def test_a_restored_2d_trainer_continues_bit_for_bit():
    a = Trainer(CIRCLE)
    a.step(37)  # mid-epoch
    b = Trainer(CIRCLE)
    b.restore(a.checkpoint())
    a.step(300)
    b.step(300)
    assert a.history == b.history
    assert torch.equal(a.flat, b.flat)


def test_a_restored_image_trainer_continues_bit_for_bit():
    spec, _ = decode_image({"layers": "conv4k3-relu,maxpool2,flatten,dropout0.3,dense16-relu,dense10",
                            "batchSize": "32", "optimizer": "adam"})
    a = ImageTrainer(spec, device="cpu")
    a.settle(10**6)
    a.step(25)
    b = ImageTrainer(spec, device="cpu")
    b.restore(a.checkpoint())
    a.step(40)
    b.step(40)
    assert a._train_points == b._train_points
    assert all(torch.equal(v, b.model.state_dict()[k]) for k, v in a.model.state_dict().items())


def test_a_killed_worker_brings_four_training_sessions_back_from_their_checkpoints():
    settings = Settings(workers=1, checkpoint_s=0.3)
    m = JobManager(ttl_s=600, reap_every_s=0.3, settings=settings)
    try:
        specs = [replace(CIRCLE, data=replace(CIRCLE.data, seed=seed)) for seed in range(4)]
        jobs = [m.open(spec, 1) for spec in specs]
        for job in jobs:
            m.send(Play(job))
        for job in jobs:
            snap_where(m, job, lambda s: s.epoch >= 20, "training to get going")
            wait(lambda: (m.checkpoint_epoch(job) or 0) >= 5, "a checkpoint past the start")
        [old] = m.worker_pids()
        reached = {job: m.latest(job).epoch for job in jobs}
        os.kill(old, signal.SIGKILL)
        restored = {job: snap_where(m, job, lambda s: s.notice is not None, "the job to come back") for job in jobs}
        assert m.worker_pids() != [old]
        for job, spec in zip(jobs, specs):
            snap = restored[job]
            assert not snap.playing and "checkpoint" in snap.notice and "press Play" in snap.notice
            assert 0 < snap.epoch <= reached[job] + 200  # from a checkpoint, not from scratch
            # the restored network is exactly the one trained so far: a trainer run to the same
            # epoch in this process has the same losses, and so has the next epoch's Step
            reference = Trainer(spec)
            reference.run_epochs(snap.epoch)
            assert snap.history.train_loss[-1] == reference.history["train_loss"][-1]
            m.send(Step(job))
            stepped = snap_where(m, job, lambda s: s.epoch == snap.epoch + 1 and not s.playing, "a step")
            reference.run_epochs(1)
            assert stepped.train_loss == reference.history["train_loss"][-1]
            assert stepped.notice is None
        assert m.status(jobs[0]).error is None
    finally:
        m.shutdown()


