"""Waiting on what a user would see, with a deadline: never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
import time


async def eventually(predicate, timeout: float = 5.0, interval: float = 0.01, what: str = ""):
    """Wait until `predicate()` (plain or async) is true; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, f"not reached: {what or predicate}"
        await asyncio.sleep(interval)


def eventually_sync(predicate, timeout: float = 5.0, interval: float = 0.05, what: str = ""):
    """`eventually` for plain (non-async) tests."""
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"not reached: {what or predicate}"
        time.sleep(interval)
    return result
