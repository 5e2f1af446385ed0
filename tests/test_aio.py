"""``nettop.aio.both``: a cancellation that comes just as one of the two fails is not lost (``asyncio.gather``'s is,
in Python 3.11 and 3.12)."""

from __future__ import annotations

import asyncio

import pytest

from nettop.aio import both
from nettop.errors import CommandTimeout


async def failing_as(cancelled: asyncio.Task[object]) -> str:
    """Fails, having asked for ``cancelled`` to be cancelled first: that request runs before the gather hears of the
    failure (callbacks run in the order they were scheduled)."""
    asyncio.get_running_loop().call_soon(cancelled.cancel)
    raise CommandTimeout(("ss", "-tunae"), 0.5)


async def pending() -> str:
    await asyncio.sleep(60)
    return "never"


async def test_a_cancellation_as_one_fails_is_said_as_a_cancellation() -> None:
    async def collect() -> tuple[str, str]:
        me = asyncio.current_task()
        assert me is not None
        return await both(failing_as(me), pending())

    task = asyncio.create_task(collect())
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_gather_itself_loses_that_cancellation() -> None:
    """Why ``both`` exists: the same race through ``asyncio.gather`` ends with the failure, not the cancellation."""

    async def collect() -> list[str]:
        me = asyncio.current_task()
        assert me is not None
        return await asyncio.gather(failing_as(me), pending())

    task = asyncio.create_task(collect())
    with pytest.raises(CommandTimeout):
        await task


async def test_a_failure_with_no_cancellation_is_the_failure_and_results_come_in_order() -> None:
    async def value(text: str) -> str:
        return text

    assert await both(value("a"), value("b")) == ("a", "b")
    with pytest.raises(CommandTimeout):
        await both(value("a"), failing_as(asyncio.create_task(pending())))
