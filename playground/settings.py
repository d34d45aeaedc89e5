"""The server's own settings, read from environment variables (documented in the README).

Every value is untrusted text: a setting that does not parse or is out of range falls back to
its default (or is clamped) and the reason is kept in `problems`, which the server logs once.
Defaults suit a small class server: 2 CPU cores and 4 GiB of memory.

| variable                    | default | meaning                                                     |
|-----------------------------|---------|-------------------------------------------------------------|
| PLAYGROUND_HOSTED           | off     | public server: no visitor names a server path; uploads and downloads limited |
| PLAYGROUND_WORKERS          | cores-1 | worker processes that train                                 |
| PLAYGROUND_JOB_TTL_S        | 20      | an unread job of a disconnected page is closed after this   |
| PLAYGROUND_MAX_JOB_MB       | 600     | estimated training memory one network may need              |
| PLAYGROUND_MAX_TOTAL_MB     | 2500    | estimated memory of all networks together                   |
| PLAYGROUND_MAX_STEP_S       | 0.2     | estimated seconds one training batch may take               |
| PLAYGROUND_MAX_HEAVY_JOBS   | 2       | image networks that train at the same time (others queue)   |
| PLAYGROUND_CHECKPOINT_S     | 2       | a training job's checkpoint is at most this old             |
| PLAYGROUND_EXECUTOR         | process | where jobs train: `process` (worker pool) or `ray` (one actor per job) |
| RAY_ADDRESS                 | (empty) | with `ray`: the cluster to join; empty starts or joins a local Ray |
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

_log = logging.getLogger(__name__)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")
EXECUTORS = ("process", "ray")


@dataclass(frozen=True)
class Settings:
    hosted: bool = False
    workers: int = 1
    job_ttl_s: float = 20.0
    max_job_mb: float = 600.0
    max_total_mb: float = 2500.0
    max_step_s: float = 0.2
    max_heavy_jobs: int = 2
    checkpoint_s: float = 2.0
    executor: str = "process"  # one of EXECUTORS
    ray_address: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)


def _number(env, name: str, default: float, lo: float, hi: float, problems: list[str], whole: bool = False) -> float:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text.strip()) if len(text) < 40 and text.isascii() else math.nan  # float() reads '１２' too
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.append(f"{name}={text[:40]!r} is not a number; using {default}.")
        return default
    if whole:
        value = round(value)
    if not lo <= value <= hi:
        clamped = min(max(value, lo), hi)
        problems.append(f"{name}={value:g} is outside {lo:g}-{hi:g}; using {clamped:g}.")
        value = clamped
    return int(value) if whole else value


def _flag(env, name: str, problems: list[str], unclear: bool = False) -> bool:
    """An on/off setting; a value that is neither gives `unclear` (a safety switch fails closed)."""
    text = env.get(name, "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.append(f"{name}={text[:40]!r} is not on or off; using {'on' if unclear else 'off'}.")
    return unclear


def _choice(env, name: str, choices: tuple[str, ...], problems: list[str]) -> str:
    """One of `choices` (the first is the default); anything else gives the default."""
    text = env.get(name, "").strip().lower()
    if not text:
        return choices[0]
    if text in choices:
        return text
    problems.append(f"{name}={text[:40]!r} is not one of {', '.join(choices)}; using {choices[0]}.")
    return choices[0]


def _address(env, name: str, problems: list[str]) -> str:
    """A cluster address (host:port, ray://host:port, auto): printable ASCII without spaces."""
    text = env.get(name, "").strip()
    if text and not (len(text) <= 200 and text.isascii() and text.isprintable() and " " not in text):
        problems.append(f"{name}={text[:40]!r} is not an address; starting or joining a local Ray instead.")
        return ""
    return text


def read_settings(env=None) -> Settings:
    """Settings from `env` (os.environ by default); never raises."""
    env = os.environ if env is None else env
    problems: list[str] = []
    cores = os.cpu_count() or 2
    workers = int(_number(env, "PLAYGROUND_WORKERS", max(1, cores - 1), 1, 64, problems, whole=True))
    settings = Settings(
        hosted=_flag(env, "PLAYGROUND_HOSTED", problems, unclear=True),  # a typo must not open the server
        workers=workers,
        job_ttl_s=_number(env, "PLAYGROUND_JOB_TTL_S", 20.0, 1.0, 3600.0, problems),
        max_job_mb=_number(env, "PLAYGROUND_MAX_JOB_MB", 600.0, 16.0, 1e6, problems),
        max_total_mb=_number(env, "PLAYGROUND_MAX_TOTAL_MB", 2500.0, 16.0, 1e7, problems),
        max_step_s=_number(env, "PLAYGROUND_MAX_STEP_S", 0.2, 0.01, 60.0, problems),
        max_heavy_jobs=int(_number(env, "PLAYGROUND_MAX_HEAVY_JOBS", 2, 1, 1000, problems, whole=True)),
        checkpoint_s=_number(env, "PLAYGROUND_CHECKPOINT_S", 2.0, 0.1, 600.0, problems),
        executor=_choice(env, "PLAYGROUND_EXECUTOR", EXECUTORS, problems),
        ray_address=_address(env, "RAY_ADDRESS", problems),
        problems=tuple(problems),
    )
    for problem in problems:
        _log.warning("setting ignored: %s", problem)
    return settings
