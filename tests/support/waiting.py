"""Waiting in tests for what another task or process does, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> float:
    """Waits until ``condition`` (plain or async) holds; returns when it was first seen to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        held = condition()
        if held if isinstance(held, bool) else await held:
            return time.monotonic()
        await asyncio.sleep(0.005)
    raise AssertionError("condition not met in time")
