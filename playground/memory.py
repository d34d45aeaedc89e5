"""Giving freed memory back to the system, so a server that runs all day stays its size.

glibc's malloc keeps what a process frees for reuse: a worker that built and dropped a large
network (or a server that drew a hundred pages) stays as large as its peak, although the memory
is free. Two remedies, both Linux/glibc only and harmless elsewhere:

- `prefer_mmap_for_large_blocks`: large blocks (tensors, a network's weights) come from their own
  mappings, which go back to the system the moment they are freed. glibc otherwise raises this
  threshold as a process frees large blocks, up to 32 MB, after which they stay in its heap.
- `release_freed_memory` (`malloc_trim`): returns the free parts of the heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

_M_MMAP_THRESHOLD = -3  # mallopt parameter (malloc.h)
LARGE_BLOCK_BYTES = 256 * 1024

_log = logging.getLogger(__name__)


@functools.cache
def _libc():
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None
    except OSError:
        return None


def prefer_mmap_for_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Call once, early in a process: blocks above `threshold` bytes are mapped on their own."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))


def release_freed_memory() -> bool:
    """Give the free parts of the heap back to the system (takes a few ms on a big heap)."""
    libc = _libc()
    if libc is None:
        return False
    try:
        return bool(libc.malloc_trim(0))
    except Exception as error:  # noqa: BLE001 - only ever an optimisation
        _log.debug("malloc_trim failed: %s", error)
        return False
