"""nettop.memory: the free memory a tick leaves among live blocks goes back to the system."""

from __future__ import annotations

import os

import psutil
import pytest

from nettop.memory import release_free_memory

#: Blocks the size of a dump's datagrams and of dict tables: below glibc's mmap threshold, so they come from its
#: arenas, where a freed block among live ones is kept, not returned.
BLOCK = 100_000


def glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, ValueError, OSError):
        return False


@pytest.mark.skipif(not glibc(), reason="malloc_trim is glibc's")
def test_free_blocks_among_live_ones_are_returned() -> None:
    # Blocks alternately kept and freed (each written, so that its pages are resident): the freed ones leave holes
    # that free() alone returns nothing of.
    blocks = [b"\x01" * BLOCK for _ in range(600)]
    kept = blocks[::2]
    del blocks
    process = psutil.Process()
    before = process.memory_info().rss
    release_free_memory()
    returned = before - process.memory_info().rss
    assert returned > 300 * BLOCK // 2, f"only {returned} bytes of about {300 * BLOCK} freed went back"
    assert len(kept) == 300 and kept[-1][:1] == b"\x01"  # the live blocks are untouched
