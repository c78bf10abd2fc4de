"""Pacing: a relay or consumer under steady load waits a little between batches.

Every batch costs a fixed amount whatever its size (a transaction and its commit, a few round
trips), so at a few hundred events a second, batches of two or three spend most of the CPU on
that fixed part. Waiting until ``pace`` seconds have passed since the previous batch began
gathers what arrives meanwhile into one batch. The wait applies only after a batch that found
entries and was not full: an event after a quiet spell is taken at once, and a backlog is read
batch after batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


async def pause_until(deadline: float, stop: asyncio.Event) -> None:
    """Sleep until ``deadline`` (time.monotonic), or until ``stop`` is set."""
    wait = deadline - time.monotonic()
    if wait > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
