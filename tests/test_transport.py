"""The play/step/reset click guard: echoes of a handled click are dropped, real clicks are not."""

from __future__ import annotations

import pytest

from playground.spec import RunSpec
from playground.ui import transport
from playground.ui.session import PageSession
from playground.ui.transport import DEBOUNCE_S, _first_click, live_run_completed


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(transport.time, "monotonic", lambda: now[0])
    return now


def test_a_repeat_within_the_debounce_counts_once(clock):
    session = PageSession(RunSpec())
    assert _first_click(session, "step")  # handled by the run that starts next
    live_run_completed(session)  # ...which the page showed completely
    clock[0] += DEBOUNCE_S / 2
    assert not _first_click(session, "step")  # too soon to be a person's second click
    clock[0] += DEBOUNCE_S
    assert _first_click(session, "step")


def test_a_repeat_while_the_run_that_handled_it_still_draws_is_an_echo(clock):
    session = PageSession(RunSpec())
    assert _first_click(session, "play")
    clock[0] += 2 * DEBOUNCE_S
    # A timer rerun queued behind the click's run (it never interrupts) carries the trigger again.
    assert not _first_click(session, "play")
    live_run_completed(session)
    clock[0] += 2 * DEBOUNCE_S
    assert _first_click(session, "play")


def test_buttons_are_guarded_separately(clock):
    session = PageSession(RunSpec())
    assert _first_click(session, "step")
    assert _first_click(session, "reset")
