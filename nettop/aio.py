"""asyncio that never loses a cancellation.

``asyncio.gather`` does, in Python 3.11 and 3.12: cancelled just as one of its awaitables fails, it ends with that
failure instead, and the task that awaited it goes on as though nobody had asked it to stop. A watch whose Ctrl-C
arrived as the listing command timed out took the failure for a failed collection and went on collecting for
good (its signal handler cancels once). ``both`` is ``gather`` of two that says the cancellation instead.

asyncio is imported in the functions, not here: see ``nettop.runner``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")


async def both(first: Awaitable[A], second: Awaitable[B]) -> tuple[A, B]:
    """``asyncio.gather(first, second)``; CancelledError, not a failure of either, when the task awaiting it was
    cancelled meanwhile."""
    import asyncio

    try:
        done_first, done_second = await asyncio.gather(first, second)
    except Exception:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from None
        raise
    return done_first, done_second
