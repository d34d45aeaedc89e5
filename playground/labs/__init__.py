"""The labs and their one registry: every page of the app is a lab declared here.

A `Lab` names what the rest of the app needs of a page without knowing which one it is: its
navigation entry (`app.py`), its link codec (the page path picks the lab: `decode_link`), how to
build its trainer (the worker loop in `jobs.py`, the CLI), its cost and its presets (`python -m
playground presets`). Adding a lab means writing its package and page and calling `register`;
nothing else changes. This module imports neither torch nor streamlit: trainer factories import
torch when they are called, in a worker.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ..capacity import LIGHT_JOB_MB, JobCost
from .protocol import LabTrainer

Spec = Any  # each lab's own frozen spec dataclass


def light_cost(spec: Spec, flops_per_s: float) -> JobCost:
    """The cost of a small job (a 2-D network's size): a few MB, no heavy slot."""
    return JobCost(LIGHT_JOB_MB, 0.0, False)


def no_problems(spec: Spec) -> list[str]:
    """For labs whose every valid spec can be built."""
    return []


@dataclass(frozen=True)
class Lab:
    """One page of the app: how to show it, read and write its links, and train its spec."""

    name: str  # registry key; new labs also prefix their widget keys with it
    title: str
    icon: str
    url_path: str  # the page's path; "" for the default page on the bare path
    page: str  # the page script, relative to the repository root
    spec_type: type
    decode: Callable[[Mapping], tuple[Spec, list[str]]]  # query parameters -> valid spec, notes; never raises
    encode: Callable[[Spec], dict[str, str]]  # spec -> every query parameter
    trainer: Callable[[Spec], LabTrainer]  # builds the trainer (imports torch: call it in a worker)
    presets: Callable[[], Mapping[str, tuple[str, Spec]]]  # name -> (description, spec)
    cost: Callable[[Spec, float], JobCost] = light_cost  # (spec, flops per second) -> estimated cost
    problems: Callable[[Spec], list[str]] = no_problems  # why a valid spec cannot be built, one line each
    claims: Callable[[Mapping], bool] | None = None  # a link on the bare path is this lab's (older links)
    foreign: Callable[[str], tuple[Spec, list[str]] | None] | None = None  # converts another site's link


_LABS: dict[str, Lab] = {}


def register(lab: Lab) -> Lab:
    """Add a lab (or replace the one of the same name); navigation lists labs in this order."""
    clash = [other.name for other in _LABS.values() if other.name != lab.name and
             (other.url_path == lab.url_path or other.spec_type is lab.spec_type)]
    if clash:
        raise ValueError(f"lab {lab.name!r} has the url path or spec type of {clash[0]!r}")
    _LABS[lab.name] = lab
    return lab


def unregister(name: str) -> None:
    """Remove a lab (tests that register one of their own clean up with this)."""
    _LABS.pop(name, None)


def labs() -> list[Lab]:
    """Every registered lab, the default page first."""
    return sorted(_LABS.values(), key=lambda lab: lab.url_path != "")


def get(name: str) -> Lab:
    return _LABS[name]


def for_spec(spec: Spec) -> Lab:
    """The lab a spec belongs to (by its type); KeyError for a spec no lab declares."""
    for lab in _LABS.values():
        if type(spec) is lab.spec_type:
            return lab
    raise KeyError(f"no lab trains a {type(spec).__name__}")


def for_path(url_path: str) -> Lab | None:
    """The lab at a page path ('images', '/app/images/'); None for a path no lab has."""
    last = url_path.strip("/").rsplit("/", 1)[-1]
    return next((lab for lab in _LABS.values() if lab.url_path == last), None)


def build_trainer(spec: Spec) -> LabTrainer:
    """A fresh trainer for any lab's spec (in a worker, the CLI or a test)."""
    return for_spec(spec).trainer(spec)


def encode_link(spec: Spec) -> tuple[str, dict[str, str]]:
    """A spec's page path and query parameters."""
    lab = for_spec(spec)
    return lab.url_path, lab.encode(spec)


def decode_link(link: str) -> tuple[Lab, Spec, list[str]]:
    """A pasted link (full URL, '/images?...', '?a=1' or a bare 'a=1&b=2') -> its lab, a valid
    spec and notes. The page path picks the lab; on the bare path, a lab that `claims` the
    parameters (older Images links) or else the default page. Never raises on user text."""
    from ..sharelink import parse_link

    for lab in _LABS.values():
        if lab.foreign is not None:
            converted = lab.foreign(link)
            if converted is not None:
                return lab, *converted
    text = link.strip()
    lab = for_path(urlsplit(text.split("?", 1)[0]).path) if "?" in text else None
    params = parse_link(text)
    if lab is None or lab.url_path == "":
        lab = next((other for other in labs() if other.claims is not None and other.claims(params)), None) or labs()[0]
    spec, notes = lab.decode(params)
    return lab, spec, notes


# The built-in labs register themselves on import. Other labs register from their own package.
from . import two_d, images  # noqa: E402,F401  (after the registry exists: they call `register`)
