"""Issue 10's hostile links and faults, as a person sees them on the page (AppTest).

Each of these broke something on the main of 2026-12-01: a traceback, a worker process that
exited and took everybody's networks with it, or a network that froze the server.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace

import pytest

from playground.ui.session import job_manager
from tests.test_app import toggle, epoch, open_app, rerun_until
from tests.test_app_images import open_images, session

HEAVY = ",".join(["conv256k3p1-relu"] * 7) + ",maxpool4,flatten,dense10"


def step_of(at) -> int:
    snap = job_manager().latest(session(at).job_id) if session(at).job_id else None
    return -1 if snap is None else snap.step


def epoch_of(at) -> int:
    snap = job_manager().latest(session(at).job_id) if session(at).job_id else None
    return -1 if snap is None else snap.epoch


def messages(at, kind: str) -> list[str]:
    return [element.value for element in getattr(at, kind)]


def test_a_last_batch_of_one_image_with_batchnorm_is_said_in_the_summary_and_trains():
    at = open_images({"layers": "flatten,dense16-relu,batchnorm,dense10", "batchSize": "9"})
    captions = " ".join(c.value for c in at.get_by_key("layer-summary").caption)
    assert "last batch of one image" in captions and "leaves that one image out" in captions
    assert not at.error and not toggle(at).disabled
    at.button(key="step").click().run()
    rerun_until(at, lambda at: epoch_of(at) == 1, 240)
    assert job_manager().status(session(at).job_id).error is None


def test_batchnorm_with_batches_of_one_is_explained_on_its_layer_and_not_built():
    at = open_images({"layers": "flatten,dense16-relu,batchnorm,dense10", "batchSize": "1"})
    assert any("BatchNorm" in e and "batch size to 2 or more" in e for e in messages(at, "error"))
    assert toggle(at).disabled and not at.exception


def test_a_network_over_the_servers_limits_is_explained_and_never_built():
    at = open_images({"layers": HEAVY})
    errors = " ".join(messages(at, "error"))
    assert "this server allows" in errors and "MB per network" in errors
    assert toggle(at).disabled
    assert session(at).job_id is None  # nothing was built: no worker spent a second on it
    caption = " ".join(c.value for c in at.get_by_key("layer-summary").caption)
    assert "per epoch on this server's" in caption


@pytest.fixture
def one_heavy_slot():
    manager = job_manager()
    saved = manager.settings
    manager.settings = replace(saved, max_heavy_jobs=1)
    yield manager
    manager.settings = saved


def test_a_second_image_network_waits_in_line_and_the_page_says_so(one_heavy_slot):
    long_run = {"layers": "flatten,dense10", "epochs": "100"}
    first, second = open_images(long_run), open_images(long_run)
    toggle(first).click().run()
    rerun_until(first, lambda at: step_of(at) > 0, 120)
    toggle(second).click().run()
    rerun_until(second, lambda at: any("Waiting for a turn" in i for i in messages(at, "info")))
    assert any("yours is next" in i for i in messages(second, "info"))
    assert toggle(second).label == "Pause"
    toggle(first).click().run()  # pause: the slot goes to the second page
    rerun_until(second, lambda at: step_of(at) > 0, 120)
    rerun_until(second, lambda at: not any("Waiting for a turn" in i for i in messages(at, "info")))
    for at in (first, second):
        job_manager().close(session(at).job_id)


def test_a_killed_worker_gives_the_page_its_network_back_with_a_note():
    at = open_app({"networkShape": "4,2", "seed": "7"})
    manager = job_manager()
    toggle(at).click().run()
    job = at.session_state["playground_session"].job_id
    rerun_until(at, lambda at: (manager.checkpoint_epoch(job) or 0) >= 5)  # a checkpoint past the start
    for pid in manager.worker_pids():
        os.kill(pid, signal.SIGKILL)
    rerun_until(at, lambda at: any("checkpoint" in i and "press Play" in i for i in messages(at, "info")), 120)
    assert toggle(at).label == "Play"  # paused, as the note says
    assert epoch(at) >= 5  # from the checkpoint, not from scratch
    assert not at.error and not at.exception
    toggle(at).click().run()
    resumed = epoch(at)
    rerun_until(at, lambda at: epoch(at) > resumed)
    assert not any("checkpoint" in i for i in messages(at, "info"))
    toggle(at).click().run()
