"""Drawings made once and reused: a chart's JSON, a network's HTML or a picture's PNG.

Live pages redraw several times a second, and every redraw runs in the one server process that
all visitors share. Most redraws show what the last one showed (a paused page; a page redrawn
faster than its job publishes; the confusion matrix between two test evaluations), so each drawing
is kept under a key naming what it shows, and built again only when that changes. The cache is
bounded in entries and in bytes, so a class full of 6x8 networks (about 0.9 MB of diagram each)
cannot grow the server.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

import numpy as np

KEPT = 256
MAX_BYTES = 24 * 2**20

_drawn: OrderedDict[Hashable, str | bytes] = OrderedDict()
_slots: dict[Hashable, Hashable] = {}  # slot -> the key that fills it
_lock = threading.Lock()
_size = 0


def drawn(key: Hashable, build: Callable[[], str | bytes], slot: Hashable | None = None) -> str | bytes:
    """`build()`'s result for `key`, built at most once while it stays in the cache.

    `slot` names what the drawing is of (a job's diagram, say): a new drawing in a slot
    replaces the last one there, which nobody will ask for again (its snapshot is superseded)."""
    global _size
    with _lock:
        if key in _drawn:
            _drawn.move_to_end(key)
            return _drawn[key]
    value = build()  # outside the lock: other pages' redraws do not wait for this one
    with _lock:
        if key not in _drawn:
            if slot is not None:
                old = _slots.get(slot)
                if old is not None and old in _drawn:
                    _size -= len(_drawn.pop(old))
                _slots[slot] = key
            _drawn[key] = value
            _size += len(value)
        while len(_drawn) > KEPT or _size > MAX_BYTES:
            _size -= len(_drawn.popitem(last=False)[1])
        if len(_slots) > 4 * KEPT:  # slots of drawings long gone
            for name in [name for name, key in _slots.items() if key not in _drawn]:
                del _slots[name]
    return value


def content_key(*arrays: np.ndarray | None) -> bytes:
    """A digest of arrays' shapes, types and values: the key of a drawing made from them
    (hashing a few hundred KB costs well under a millisecond; drawing them costs tens)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        if array is None:
            digest.update(b"none;")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.data)
    return digest.digest()


_last_sweep = 0.0


def forget_closed(is_open: Callable[[str], bool], every_s: float = 30.0) -> None:
    """Drop the drawings of jobs that are closed (a slot's first item is its job id), at most
    once every `every_s`: a class's closed tabs leave nothing in the server's memory."""
    global _size, _last_sweep
    now = time.monotonic()
    with _lock:
        if now - _last_sweep < every_s:
            return
        _last_sweep = now
        slots = list(_slots.items())
    gone = [(slot, key) for slot, key in slots if isinstance(slot, tuple) and slot and not is_open(slot[0])]
    with _lock:
        for slot, key in gone:
            if _slots.get(slot) == key:
                del _slots[slot]
                if key in _drawn:
                    _size -= len(_drawn.pop(key))


def clear() -> None:
    """Forget every drawing (for tests)."""
    global _size
    with _lock:
        _drawn.clear()
        _slots.clear()
        _size = 0


def cached_count() -> int:
    with _lock:
        return len(_drawn)
