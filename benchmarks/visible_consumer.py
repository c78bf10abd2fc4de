"""The reading side of the latency benchmark: another service's consumer, in its own process."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from redis.asyncio import Redis

from shared.bus import ConsumerConfig, GroupConsumer, StreamMessage, StreamNames
from shared.db import Database
from shared.projections.runner import ProjectionRunner
from shared.testing.probe import ProbeProjection


async def main(db: str, redis_url: str, prefix: str, out: str) -> None:
    database = Database(f"sqlite:///{db}")
    runner = ProjectionRunner(database, ProbeProjection())
    await runner.create_tables()
    names = StreamNames(prefix, 8)
    redis = Redis.from_url(redis_url)
    visible: list[tuple[str, float]] = []

    async def handle(messages: Sequence[StreamMessage]) -> None:
        await runner.handle_messages(messages)
        now = time.time()  # committed: the read model shows these events from here on
        visible.extend((json.loads(m.fields[b"e"])["event_id"], now) for m in messages)

    config = ConsumerConfig(
        group="latency", streams=names.all_events("latency"), consumer="c", block_ms=1000
    )
    consumer = GroupConsumer(redis, names, config, handle, prepare=runner.decode)
    await consumer.ensure_groups()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.run(stop)
    lines = [json.dumps({"id": i, "at": t}) + "\n" for i, t in visible]
    await asyncio.to_thread(Path(out).write_text, "".join(lines))


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
