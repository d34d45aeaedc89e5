"""The worker pool, end to end: a real JobManager with one spawned worker process.

Every wait polls with a deadline; nothing here asserts how long anything took.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace

import numpy as np
import pytest

from playground.jobs import JobManager, Pause, Play, Reset, Step, Update
from playground.sharelink import decode
from playground.snapshot import Snapshot
from playground.trainer import Trainer

DEADLINE_S = 60.0  # generous: the first snapshot waits for the worker to import torch
SPEC, _ = decode({"networkShape": "4,3", "activation": "relu", "optimizer": "adam", "seed": "5"})


@pytest.fixture(scope="module")
def manager():
    m = JobManager(workers=1, ttl_s=2.0, reap_every_s=0.5)
    yield m
    m.shutdown()


def wait_for(manager: JobManager, job_id: str, condition, what: str, timeout: float = DEADLINE_S) -> Snapshot:
    """Poll the job's latest snapshot (which also keeps the job alive) until `condition` holds."""
    end = time.monotonic() + timeout
    snap = None
    while time.monotonic() < end:
        snap = manager.latest(job_id)
        if snap is not None and condition(snap):
            return snap
        time.sleep(0.02)
    last = None if snap is None else (snap.epoch, snap.step, snap.playing, snap.spec_version, snap.seq)
    raise AssertionError(f"timed out waiting for {what}; last (epoch, step, playing, version, seq) = {last}")


def wait_until(condition, what: str, timeout: float = DEADLINE_S) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_job(manager: JobManager, spec=SPEC, version: int = 1) -> tuple[str, Snapshot]:
    job_id = manager.open(spec, version)
    first = wait_for(manager, job_id, lambda s: True, "the first snapshot")
    return job_id, first


def pause(manager: JobManager, job_id: str) -> Snapshot:
    assert manager.send(Pause(job_id))
    return wait_for(manager, job_id, lambda s: not s.playing, "the job to pause")


def step(manager: JobManager, job_id: str, epochs: int = 1) -> Snapshot:
    """Send Step and wait for the snapshot published when it is done."""
    before = manager.latest(job_id)
    assert manager.send(Step(job_id, epochs))
    return wait_for(manager, job_id, lambda s: s.seq > before.seq and not s.playing and s.epoch > before.epoch,
                    "a step to finish")


def test_open_gives_a_first_snapshot(manager):
    job_id, snap = open_job(manager)
    assert manager.is_open(job_id)
    assert isinstance(snap, Snapshot)
    assert snap.job_id == job_id and snap.spec_version == 1
    assert snap.epoch == 0 and snap.step == 0 and not snap.playing
    assert snap.boundary.shape == (100, 100)
    assert [w.shape for w in snap.weights] == [(4, 2), (3, 4), (1, 3)]
    reference = Trainer(SPEC)
    assert snap.test_loss == reference.history["test_loss"][0]
    np.testing.assert_array_equal(snap.weights[0], reference.weights[0].numpy())
    manager.close(job_id)
    assert not manager.is_open(job_id)
    assert manager.latest(job_id) is None
    assert not manager.send(Play(job_id))  # a closed job takes no commands


def test_play_then_pause(manager):
    job_id, _ = open_job(manager)
    others = manager.playing_jobs()
    assert manager.send(Play(job_id))
    playing = wait_for(manager, job_id, lambda s: s.playing and s.epoch >= 3, "the epoch to rise")
    assert playing.train_loss < playing.history.train_loss[0]
    assert manager.playing_jobs() == others + 1  # pages redraw at the pace of the training ones

    paused = pause(manager, job_id)
    assert manager.playing_jobs() == others
    time.sleep(0.5)
    later = wait_for(manager, job_id, lambda s: True, "a snapshot")
    assert (later.epoch, later.step, later.seq) == (paused.epoch, paused.step, paused.seq)
    assert not later.playing

    # Play again: it continues from there
    assert manager.send(Play(job_id))
    wait_for(manager, job_id, lambda s: s.playing and s.epoch > paused.epoch, "the epoch to rise again")
    pause(manager, job_id)
    manager.close(job_id)


def test_a_pause_that_waits_returns_with_the_stopped_network_in_hand(manager):
    """Among other playing jobs, `send(..., wait_s)` returns once the job's answer has arrived:
    the latest snapshot is then the paused one, and no later snapshot moves the epoch."""
    others = [open_job(manager, version=v)[0] for v in (2, 3)]
    job_id, _ = open_job(manager)
    for other in others:
        manager.send(Play(other))
    manager.send(Play(job_id))
    wait_for(manager, job_id, lambda s: s.playing and s.epoch > 2, "training")
    assert manager.send(Pause(job_id), wait_s=DEADLINE_S)
    answer = manager.latest(job_id)
    assert not answer.playing and answer.acked == 3  # Reset (open), Play, Pause
    time.sleep(0.5)
    assert manager.latest(job_id).epoch == answer.epoch
    assert manager.latest(others[0]).playing  # the others train on
    for job in others + [job_id]:
        manager.close(job)


def test_wait_for_an_answer_times_out_without_one(manager):
    job_id, first = open_job(manager)
    assert not manager.wait_answered(job_id, first.acked + 5, timeout_s=0.2)  # never sent
    manager.close(job_id)
    assert not manager.wait_answered(job_id, 1, timeout_s=0.2)  # closed


def test_a_step_is_answered_when_it_is_done(manager):
    job_id, first = open_job(manager)
    assert manager.send(Step(job_id), wait_s=DEADLINE_S)
    answer = manager.latest(job_id)
    assert (answer.epoch, answer.playing, answer.acked) == (1, False, 2)
    manager.close(job_id)


def test_step_advances_exactly_one_epoch(manager):
    job_id, first = open_job(manager)
    steps_per_epoch = Trainer(SPEC).steps_per_epoch
    one = step(manager, job_id)
    assert one.epoch == 1 and one.step == steps_per_epoch
    assert len(one.history.epoch) == 2

    # from the middle of an epoch (after Play/Pause), Step finishes that epoch and stops
    assert manager.send(Play(job_id))
    wait_for(manager, job_id, lambda s: s.epoch >= 2, "some training")
    paused = pause(manager, job_id)
    stepped = step(manager, job_id)
    assert stepped.epoch == paused.epoch + 1
    assert stepped.step == stepped.epoch * steps_per_epoch  # stopped at the epoch's end
    stepped_twice = step(manager, job_id, epochs=2)
    assert stepped_twice.epoch == stepped.epoch + 2
    manager.close(job_id)


def test_losses_equal_an_in_process_trainer(manager):
    """Determinism through the pool, Update included: the worker computes what a local trainer does."""
    job_id, _ = open_job(manager)
    snap = step(manager, job_id, epochs=3)
    assert snap.epoch == 3

    new_train = replace(SPEC.train, learning_rate=0.2, batch_size=25)
    assert manager.send(Update(job_id, new_train, version=2))
    updated = wait_for(manager, job_id, lambda s: s.spec_version == 2, "the update")
    assert updated.epoch == 3 and updated.step == snap.step  # not reset
    np.testing.assert_array_equal(updated.weights[0], snap.weights[0])
    after = step(manager, job_id, epochs=2)
    assert after.epoch == 5
    manager.close(job_id)

    reference = Trainer(SPEC)
    reference.run_epochs(3)
    np.testing.assert_array_equal(snap.history.train_loss, reference.history["train_loss"])
    np.testing.assert_array_equal(snap.history.test_loss, reference.history["test_loss"])
    np.testing.assert_array_equal(snap.weights[1], reference.weights[1].numpy())
    reference.apply(new_train)
    reference.run_epochs(2)
    np.testing.assert_array_equal(after.history.train_loss, reference.history["train_loss"])
    np.testing.assert_array_equal(after.history.test_loss, reference.history["test_loss"])
    assert after.step == 3 * 25 + 2 * 10  # 250 points: 25 batches of 10, then 10 of 25

    # and the update mattered: without it epoch 5 differs
    unchanged = Trainer(SPEC)
    unchanged.run_epochs(5)
    assert unchanged.history["train_loss"][-1] != after.history.train_loss[-1]


def test_update_keeps_the_epoch_while_playing(manager):
    job_id, _ = open_job(manager)
    assert manager.send(Play(job_id))
    before = wait_for(manager, job_id, lambda s: s.epoch >= 2, "some training")
    assert manager.send(Update(job_id, replace(SPEC.train, learning_rate=0.001), version=7))
    updated = wait_for(manager, job_id, lambda s: s.spec_version == 7, "the update")
    assert updated.epoch >= before.epoch and updated.playing
    pause(manager, job_id)
    manager.close(job_id)


def test_reset_starts_afresh(manager):
    job_id, _ = open_job(manager)
    trained = step(manager, job_id, epochs=2)
    assert trained.epoch == 2
    other, _ = decode({"networkShape": "6", "dataset": "xor"})
    assert manager.send(Reset(job_id, other, version=3))
    fresh = wait_for(manager, job_id, lambda s: s.spec_version == 3, "the reset")
    assert fresh.epoch == 0 and fresh.step == 0 and not fresh.playing
    assert [w.shape for w in fresh.weights] == [(6, 2), (1, 6)]
    assert fresh.test_loss == Trainer(other).history["test_loss"][0]
    # and the same spec again resets to the very same start
    assert manager.send(Reset(job_id, SPEC, version=4))
    again = wait_for(manager, job_id, lambda s: s.spec_version == 4, "the second reset")
    assert again.epoch == 0
    np.testing.assert_array_equal(again.weights[0], Trainer(SPEC).weights[0].numpy())
    manager.close(job_id)


def on_a_worker(manager: JobManager, job_id: str) -> bool:
    """Whether a worker process still holds the job (so a closed job no longer trains)."""
    return any(job_id in jobs for jobs in manager.worker_jobs())


def test_workers_report_the_jobs_they_hold(manager):
    job_id, _ = open_job(manager)
    assert on_a_worker(manager, job_id)
    manager.close(job_id)
    assert not on_a_worker(manager, job_id)


def test_unread_job_is_closed_after_the_ttl_and_a_read_one_stays_open(manager):
    watched, _ = open_job(manager)
    job_id, _ = open_job(manager)
    assert manager.send(Play(job_id))
    wait_for(manager, job_id, lambda s: s.playing, "the job to play")
    # from now on only `watched` is read
    wait_until(lambda: manager.latest(watched) is not None and not manager.is_open(job_id),
               "the reaper to close the unread job", timeout=30)
    closed_at = time.monotonic()
    assert manager.latest(job_id) is None
    assert not manager.send(Play(job_id))
    assert not on_a_worker(manager, job_id)  # the worker dropped it, so it trains no more
    # the job that was read all along outlives the TTL by a few reaper rounds
    while time.monotonic() < closed_at + 1.0:
        assert manager.latest(watched) is not None
        time.sleep(0.05)
    assert manager.is_open(watched)
    manager.close(watched)


def test_an_unread_job_stays_open_while_its_page_is_connected():
    """A background tab reads its job about once a minute (browsers slow hidden tabs' timers), yet
    keeps its network; once the tab is gone, the job is closed after the TTL like any other."""
    connected = {"background tab"}
    m = JobManager(workers=1, ttl_s=1.0, reap_every_s=0.2, owner_connected=lambda owner: owner in connected)
    try:
        kept, _ = open_job(m)
        gone, _ = open_job(m)
        m.touch([kept], owner="background tab")
        m.touch([gone], owner="closed tab")
        wait_until(lambda: not m.is_open(gone), "the closed tab's job to be closed", timeout=30)
        end = time.monotonic() + 3 * m.ttl_s  # unread all along, like the one just closed
        while time.monotonic() < end:
            assert m.is_open(kept)
            time.sleep(0.1)
        connected.clear()
        wait_until(lambda: not m.is_open(kept), "the job to be closed once its tab is gone", timeout=30)
    finally:
        m.shutdown()


def test_killed_worker_is_restarted_and_its_jobs_come_back(manager):
    """Keep this last: it kills the module's worker. (tests/test_faults.py checks the numbers.)"""
    job_id, _ = open_job(manager)
    [old] = manager.worker_pids()
    os.kill(old, signal.SIGKILL)
    back = wait_for(manager, job_id, lambda s: s.notice is not None, "the job to come back on a fresh worker")
    assert not back.playing and manager.is_open(job_id)
    [new] = manager.worker_pids()
    assert new != old
    assert manager.worker_jobs() == [{job_id}]  # the fresh worker holds the job it took over
    # the fresh worker takes new jobs
    fresh, snap = open_job(manager)
    assert snap.epoch == 0
    assert step(manager, fresh).epoch == 1
    manager.close(fresh)
    manager.close(job_id)
