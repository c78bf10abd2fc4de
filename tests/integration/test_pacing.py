"""Pacing (shared.bus.pacing) on real Redis: under a steady flow a consumer or relay gathers what
arrives into one batch; an entry after a quiet spell and a backlog are taken at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis.asyncio import Redis

from shared.bus import ConsumerConfig, GroupConsumer, OutboxRelay, StreamMessage, StreamNames
from shared.db import Database
from shared.events import EventActor, NewEvent
from shared.eventstore import AppendContext, EventStore
from tests.support.waiting import until

pytestmark = pytest.mark.redis
PACE = 0.6
ACTOR = EventActor(subject="t", role="staff")


@dataclass
class Batches:
    taken: list[tuple[float, int]] = field(default_factory=list)

    async def handle(self, messages: Sequence[StreamMessage]) -> None:
        self.taken.append((time.monotonic(), len(messages)))

    def count(self) -> int:
        return sum(size for _at, size in self.taken)


@asynccontextmanager
async def running(work: Callable[[asyncio.Event], Awaitable[None]]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(work(stop))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def consumer(redis: Redis, names: StreamNames, batches: Batches, pace: float) -> GroupConsumer:
    config = ConsumerConfig(
        group="paced", streams=[names.events_for_ward("src", "ota")], consumer="c", batch=4,
        block_ms=20, pace=pace,
    )  # fmt: skip
    return GroupConsumer(redis, names, config, batches.handle)


async def add(redis: Redis, names: StreamNames, count: int, *, every: float = 0.0) -> None:
    for i in range(count):
        await redis.xadd(names.events_for_ward("src", "ota"), {"e": str(i)})
        await asyncio.sleep(every)


async def test_a_steady_flow_is_gathered_into_one_batch(
    redis: Redis, stream_names: StreamNames
) -> None:
    batches = Batches()
    paced = consumer(redis, stream_names, batches, PACE)
    await paced.ensure_groups()
    async with running(paced.run):
        await asyncio.sleep(0.1)
        added = time.monotonic()
        await add(redis, stream_names, 1)
        await until(lambda: batches.count() == 1)
        first_at = batches.taken[0][0]
        await add(redis, stream_names, 3, every=0.02)
        await until(lambda: batches.count() == 4)
    assert first_at - added < PACE / 2  # after a quiet spell: at once
    assert [size for _at, size in batches.taken] == [1, 3]
    assert batches.taken[1][0] - first_at >= PACE * 0.9


async def test_without_pace_each_arrival_is_its_own_batch(
    redis: Redis, stream_names: StreamNames
) -> None:
    batches = Batches()
    eager = consumer(redis, stream_names, batches, 0.0)
    await eager.ensure_groups()
    async with running(eager.run):
        await asyncio.sleep(0.1)
        await add(redis, stream_names, 3, every=0.15)
        await until(lambda: batches.count() == 3)
    assert [size for _at, size in batches.taken] == [1, 1, 1]


async def test_a_backlog_is_read_batch_after_batch(redis: Redis, stream_names: StreamNames) -> None:
    batches = Batches()
    paced = consumer(redis, stream_names, batches, PACE)
    await paced.ensure_groups()
    await add(redis, stream_names, 12)
    began = time.monotonic()
    async with running(paced.run):
        done = await until(lambda: batches.count() == 12)
    assert [size for _at, size in batches.taken] == [4, 4, 4]  # full batches: no pause
    assert done - began < PACE


async def relay_for(tmp_path: Path, redis: Redis, names: StreamNames) -> OutboxRelay:
    store = EventStore(Database(f"sqlite:///{tmp_path / 'relay.sqlite3'}"))
    await store.create_tables()
    relay = OutboxRelay(store, redis, names, service="src", batch=4, pace=PACE)
    store.listeners.append(relay.wakeup.set)
    return relay


async def append(store: EventStore, count: int) -> None:
    for _ in range(count):
        events = [NewEvent(event_type="test.Done", data={})]
        await store.append("s", None, events, AppendContext("ota", ACTOR))


async def test_a_relay_under_steady_flow_publishes_one_batch_per_pace(
    tmp_path: Path, redis: Redis, stream_names: StreamNames
) -> None:
    relay = await relay_for(tmp_path, redis, stream_names)
    stream = stream_names.events_for_ward("src", "ota")

    async def published(count: int) -> bool:
        return int(await redis.xlen(stream)) >= count

    async with running(relay.run):
        await asyncio.sleep(0.1)  # the lease is taken
        added = time.monotonic()
        await append(relay.store, 1)
        first_at = await until(lambda: published(1))
        await append(relay.store, 3)
        await asyncio.sleep(PACE / 3)
        waiting = int(await redis.xlen(stream))
        rest_at = await until(lambda: published(4))
        await append(relay.store, 12)  # full batches: each read at once, after one pace
        backlog_at = await until(lambda: published(16))
    relay.store.database.dispose()
    assert first_at - added < PACE / 2
    assert waiting == 1
    assert rest_at - first_at >= PACE * 0.9
    assert backlog_at - rest_at < PACE * 2


async def test_a_paced_relay_under_steady_flow_still_trims_what_was_acknowledged(
    tmp_path: Path, redis: Redis, stream_names: StreamNames
) -> None:
    relay = await relay_for(tmp_path, redis, stream_names)
    relay.pace, relay.trim_interval, relay.batch = 0.05, 0.2, 1000  # never an empty read
    stream = stream_names.events_for_ward("src", "ota")
    reader = GroupConsumer(
        redis,
        stream_names,
        ConsumerConfig(group="reader", streams=[stream], consumer="r", batch=100, block_ms=20),
        Batches().handle,
    )
    await reader.ensure_groups()
    total = 120
    async with running(relay.run), running(reader.run):
        for _ in range(total):
            await append(relay.store, 1)
            await asyncio.sleep(0.01)
        kept = int(await redis.xlen(stream))  # while the flow has never paused
    relay.store.database.dispose()
    assert kept < total // 2
