"""A consumer process for crash tests: it can SIGKILL itself before or after a batch commits.

Usage: python -m tests.support.consumer_worker DB REDIS_URL PREFIX CONSUMER MODE KILL_AT_BATCH
MODE is one of none, before-commit, after-commit. Exits 0 once the streams have been idle 1 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.bus import ConsumerConfig, GroupConsumer, StreamMessage, StreamNames
from shared.db import create_engine
from shared.events import EventEnvelope
from shared.projections.runner import ProjectionRunner
from shared.testing.probe import ProbeProjection

GROUP = "crashtest"


class KillingProjection(ProbeProjection):
    def __init__(self, kill_at: int | None) -> None:
        super().__init__()
        self.kill_at = kill_at
        self.batches = 0

    async def apply(self, connection: AsyncConnection, batch: Sequence[EventEnvelope]) -> None:
        await super().apply(connection, batch)
        self.batches += 1
        if self.batches == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # the transaction never commits


async def main(
    db: str, redis_url: str, prefix: str, consumer: str, mode: str, kill_at: int
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    projection = KillingProjection(kill_at if mode == "before-commit" else None)
    runner = ProjectionRunner(engine, projection)
    await runner.create_tables()
    batches = 0

    async def handle(messages: Sequence[StreamMessage]) -> None:
        nonlocal batches
        await runner.handle_messages(messages)
        batches += 1
        if mode == "after-commit" and batches == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # committed, never acknowledged

    names = StreamNames(prefix, 4)
    redis = Redis.from_url(redis_url)
    config = ConsumerConfig(
        group=GROUP,
        streams=names.all_events("test"),
        consumer=consumer,
        batch=10,
        block_ms=50,
        claim_idle_ms=300,
    )
    group_consumer = GroupConsumer(redis, names, config, handle)
    await group_consumer.ensure_groups()
    idle_since = asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - idle_since < 1.0:
        if await group_consumer.poll_once() or await group_consumer.reclaim_once():
            idle_since = asyncio.get_running_loop().time()
    await redis.aclose()
    await engine.dispose()


if __name__ == "__main__":
    db, url, prefix, consumer, mode, kill_at = sys.argv[1:7]
    asyncio.run(main(db, url, prefix, consumer, mode, int(kill_at)))
