"""Freed memory goes back to the system: a worker that dropped a large network shrinks again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from playground import memory


def test_the_helpers_work_or_say_they_cannot():
    assert memory.prefer_mmap_for_large_blocks() in (True, False)
    assert memory.release_freed_memory() in (True, False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc only")
def test_a_process_that_frees_many_small_blocks_gives_them_back():
    """Many mid-sized blocks freed, as a closed job leaves them: without a trim the heap keeps
    them (glibc returns only its top); after `release_freed_memory` the resident size drops."""
    script = textwrap.dedent("""
        import sys
        sys.path.insert(0, %r)
        from playground import memory

        def rss_mib():
            for line in open("/proc/self/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        base = rss_mib()
        blocks = [bytearray(100_000) for _ in range(3000)]  # ~300 MB, under the mmap threshold
        keep = blocks[-1]  # the heap's top stays in use: only a trim can return what lies below
        del blocks
        before = rss_mib()
        memory.release_freed_memory()
        print(base, before, rss_mib())
    """) % str(memory.__file__.rsplit("/playground/", 1)[0])
    base, before, after = map(float, subprocess.check_output([sys.executable, "-c", script], text=True).split())
    assert before - base > 200, (base, before, after)  # the freed blocks were still held...
    assert after - base < 50, (base, before, after)  # ...and the trim gave them back
