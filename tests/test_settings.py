"""Server settings come from untrusted environment text: they never raise, and say what they ignored."""

from __future__ import annotations

import pytest

from playground.settings import Settings, read_settings


def test_defaults_suit_a_small_class_server():
    settings = read_settings({})
    assert settings == Settings(workers=settings.workers)
    assert not settings.hosted and settings.problems == ()


@pytest.mark.parametrize("text", ["1", "true", "YES", " on "])
def test_hosted_mode_is_switched_on(text):
    assert read_settings({"PLAYGROUND_HOSTED": text}).hosted


def test_a_mistyped_hosted_flag_fails_closed():
    settings = read_settings({"PLAYGROUND_HOSTED": "Y"})
    assert settings.hosted and "using on" in settings.problems[0]


@pytest.mark.parametrize("text", ["nan", "inf", "-5", "1" * 400, "abc", "１２", "1e999", "0x10"])
def test_numbers_of_any_kind_fall_back_or_are_clamped(text):
    env = {name: text for name in ("PLAYGROUND_WORKERS", "PLAYGROUND_JOB_TTL_S", "PLAYGROUND_MAX_JOB_MB",
                                   "PLAYGROUND_MAX_TOTAL_MB", "PLAYGROUND_MAX_STEP_S", "PLAYGROUND_MAX_HEAVY_JOBS",
                                   "PLAYGROUND_CHECKPOINT_S")}
    settings = read_settings(env)
    assert 1 <= settings.workers <= 64 and 1 <= settings.max_heavy_jobs <= 1000
    assert 0.01 <= settings.max_step_s <= 60 and settings.max_job_mb >= 16 and settings.checkpoint_s >= 0.1
    assert len(settings.problems) == 7


def test_a_setting_in_range_is_used():
    settings = read_settings({"PLAYGROUND_MAX_STEP_S": "0.5", "PLAYGROUND_MAX_HEAVY_JOBS": "3"})
    assert settings.max_step_s == 0.5 and settings.max_heavy_jobs == 3 and not settings.problems
