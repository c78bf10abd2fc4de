"""Store → relay → Redis Streams → consumer group → projection, on real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from shared.bus import ConsumerConfig, GroupConsumer, OutboxRelay, StreamNames
from shared.db import Database
from shared.events import EventActor, NewEvent
from shared.eventstore import AppendContext, EventStore
from shared.projections.runner import ProjectionRunner
from shared.testing.probe import POISON, ProbeProjection, applied

pytestmark = pytest.mark.redis
ACTOR = EventActor(subject="t", role="staff")


@dataclass
class Pipeline:
    store: EventStore
    relay: OutboxRelay
    runner: ProjectionRunner
    consumer: GroupConsumer
    read_db: Database

    async def append(self, n: int, ward: str = "nerima", event_type: str = "test.Done") -> None:
        for _ in range(n):
            await self.store.append(
                "s", None, [NewEvent(event_type=event_type, data={})], AppendContext(ward, ACTOR)
            )

    async def drain(self) -> None:
        while await self.relay.publish_once():
            pass
        while await self.consumer.poll_once():
            pass

    async def applied_ids(self) -> list[str]:
        query = sa.select(applied.c.event_id)
        return await self.read_db.read(lambda c: list(c.execute(query).scalars()))

    async def appended_ids(self) -> list[str]:
        return [str(e.event_id) for e in await self.store.read_all(limit=100_000)]


@pytest.fixture
async def pipeline(
    redis: Redis, stream_names: StreamNames, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Pipeline]:
    from tests.conftest import sqlite_database

    write_db = sqlite_database(tmp_path_factory, "source")
    read_db = sqlite_database(tmp_path_factory, "reader")
    store = EventStore(write_db)
    await store.create_tables()
    relay = OutboxRelay(store, redis, stream_names, service="test", batch=50)
    await relay.start()
    runner = ProjectionRunner(read_db, ProbeProjection())
    await runner.create_tables()
    config = ConsumerConfig(
        group="reader",
        streams=stream_names.all_events("test"),
        consumer="c1",
        batch=20,
        block_ms=10,
        claim_idle_ms=1,
        max_deliveries=3,
    )
    consumer = GroupConsumer(
        redis, stream_names, config, runner.handle_messages, prepare=runner.decode
    )
    await consumer.ensure_groups()
    yield Pipeline(store, relay, runner, consumer, read_db)
    write_db.dispose()
    read_db.dispose()


async def test_every_event_is_applied_once(pipeline: Pipeline) -> None:
    await pipeline.append(30, "nerima")
    await pipeline.append(30, "ota")
    await pipeline.drain()
    assert sorted(await pipeline.applied_ids()) == sorted(await pipeline.appended_ids())


async def test_events_are_partitioned_by_ward(pipeline: Pipeline, redis: Redis) -> None:
    await pipeline.append(5, "nerima")
    await pipeline.append(5, "ota")
    await pipeline.drain()
    names = pipeline.relay.names
    for ward in ("nerima", "ota"):
        entries = await redis.xrange(names.events_for_ward("test", ward))
        wards = {b'"ward":"' + ward.encode() + b'"' in fields[b"e"] for _id, fields in entries}
        assert wards == {True}
        positions = [int(fields[b"p"]) for _id, fields in entries]
        assert positions == sorted(positions)


async def test_republished_events_are_not_applied_twice(pipeline: Pipeline) -> None:
    await pipeline.append(10)
    await pipeline.drain()
    await pipeline.relay.save_cursor(0)
    await pipeline.relay.start()
    await pipeline.relay.redis.set(pipeline.relay.names.relay_marker("test"), 0)
    await pipeline.drain()
    ids = await pipeline.applied_ids()
    assert len(ids) == 10 == len(set(ids))


async def test_flushed_redis_is_refilled_and_nothing_applied_twice(
    pipeline: Pipeline, redis: Redis, stream_names: StreamNames
) -> None:
    await pipeline.append(15)
    await pipeline.drain()
    keys = [k async for k in redis.scan_iter(match=f"{stream_names.prefix}:*")]
    await redis.delete(*keys)  # what FLUSHALL does to this run's keys
    await pipeline.append(5)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(pipeline.relay.run(stop)),
        asyncio.create_task(pipeline.consumer.run(stop)),
    ]
    await _until(lambda: _count_is(pipeline, 20))
    stop.set()
    await asyncio.gather(*tasks)
    ids = await pipeline.applied_ids()
    assert sorted(ids) == sorted(await pipeline.appended_ids())


async def test_poison_event_is_dead_lettered_and_others_flow(
    pipeline: Pipeline, redis: Redis, stream_names: StreamNames
) -> None:
    await pipeline.append(3)
    await pipeline.append(1, event_type=POISON)
    await pipeline.append(3)
    await pipeline.drain()
    assert len(await pipeline.applied_ids()) == 6
    dead_key = stream_names.dead_letters("reader")
    (dead,) = await _reclaimed_until_dead_lettered(pipeline, redis, dead_key)
    assert b"PoisonError" in dead[1][b"error"]
    assert await redis.xpending(dead[1][b"source_stream"].decode(), "reader") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    await pipeline.append(2)
    await pipeline.drain()
    assert len(await pipeline.applied_ids()) == 8

    from shared.bus.deadletters import redrive

    pipeline.runner.projection.poison_fails = False  # type: ignore[attr-defined]
    assert await redrive(redis, stream_names, "reader") == 1
    await pipeline.drain()
    await pipeline.drain()
    ids = await pipeline.applied_ids()
    assert sorted(ids) == sorted(await pipeline.appended_ids())
    assert await redis.xlen(dead_key) == 0


async def test_an_entry_that_cannot_be_decoded_is_dead_lettered_and_others_flow(
    pipeline: Pipeline, redis: Redis, stream_names: StreamNames
) -> None:
    await pipeline.append(2)
    await pipeline.relay.publish_once()
    stream = stream_names.events_for_ward("test", "nerima")
    await redis.xadd(stream, {"p": 99, "e": b"not an envelope"})
    await pipeline.append(2)
    await pipeline.drain()
    assert len(await pipeline.applied_ids()) == 4
    dead_key = stream_names.dead_letters("reader")
    (dead,) = await _reclaimed_until_dead_lettered(pipeline, redis, dead_key)
    assert dead[1][b"e"] == b"not an envelope"
    assert b"Error" in dead[1][b"error"]


async def _reclaimed_until_dead_lettered(
    pipeline: Pipeline, redis: Redis, dead_key: str
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    for _ in range(10):
        await asyncio.sleep(0.01)
        await pipeline.consumer.reclaim_once()
        if await redis.xlen(dead_key):
            break
    entries: list[tuple[bytes, dict[bytes, bytes]]] = await redis.xrange(dead_key)
    return entries


async def _count_is(pipeline: Pipeline, expected: int) -> bool:
    return len(await pipeline.applied_ids()) >= expected


async def _until(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def test_of_two_relay_instances_one_publishes(pipeline: Pipeline, redis: Redis) -> None:
    twin = OutboxRelay(pipeline.store, redis, pipeline.relay.names, service="test", batch=5)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in (pipeline.relay, twin)]
    await pipeline.append(40)
    async with asyncio.timeout(10):
        while max(pipeline.relay.cursor, twin.cursor) < 40:
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.gather(*tasks)
    positions = [
        int(fields[b"p"])
        for stream in pipeline.relay.names.all_events("test")
        for _id, fields in await redis.xrange(stream)
    ]
    assert sorted(positions) == list(range(1, 41))


@pytest.fixture(scope="module")
def metric_reader() -> object:
    from opentelemetry import metrics
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        pytest.skip("another meter provider is installed in this process")
    return reader


def _metric_points(reader: object, name: str) -> list[object]:
    data = reader.get_metrics_data()  # type: ignore[attr-defined]
    return [
        point
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if metric.name == name
        for point in metric.data.data_points
    ]


async def test_metrics_count_appends_and_sample_lag_pending_and_dead_letters(
    pipeline: Pipeline, redis: Redis, metric_reader: object
) -> None:
    from shared.telemetry.sampling import sample_once

    await pipeline.append(5)
    await pipeline.append(1, event_type=POISON)
    while await pipeline.relay.publish_once():
        pass
    await sample_once(redis, pipeline.relay.names, pipeline.relay, pipeline.consumer)
    lag = _metric_points(metric_reader, "kyodo.consumer.lag")
    assert [p.value for p in lag if p.attributes == {"group": "reader"}] == [6]  # type: ignore[attr-defined]
    await pipeline.consumer.poll_once()
    await sample_once(redis, pipeline.relay.names, pipeline.relay, pipeline.consumer)
    pending = _metric_points(metric_reader, "kyodo.consumer.pending")
    assert [p.value for p in pending if p.attributes == {"group": "reader"}] == [1]  # type: ignore[attr-defined]
    relay_lag = _metric_points(metric_reader, "kyodo.relay.lag")
    assert [p.value for p in relay_lag if p.attributes == {"service": "test"}] == [0]  # type: ignore[attr-defined]
    appended = _metric_points(metric_reader, "kyodo.events.appended")
    assert sum(p.value for p in appended) >= 6  # type: ignore[attr-defined]


async def test_cli_status_and_dead_letters(
    pipeline: Pipeline, redis: Redis, stream_names: StreamNames
) -> None:
    from typer.testing import CliRunner

    from shared.cli.main import app
    from shared.testing.services import redis_url

    await pipeline.append(2)
    await pipeline.append(1, event_type=POISON)
    await pipeline.drain()
    for _ in range(10):
        await pipeline.consumer.reclaim_once()
        if await redis.xlen(stream_names.dead_letters("reader")):
            break
        await asyncio.sleep(0.01)
    env = {
        "KYODO_REDIS_URL": redis_url(),
        "KYODO_STREAM_PREFIX": stream_names.prefix,
        "KYODO_PARTITIONS": str(stream_names.partitions),
        "COLUMNS": "250",
    }
    runner = CliRunner()
    status = await asyncio.to_thread(runner.invoke, app, ["status"], env=env)
    assert status.exit_code == 0, status.output
    assert f"{stream_names.prefix}:test:events:" in status.output and "reader" in status.output
    listed = await asyncio.to_thread(runner.invoke, app, ["deadletters", "list", "reader"], env=env)
    assert "PoisonError" in listed.output
    pipeline.runner.projection.poison_fails = False  # type: ignore[attr-defined]
    redriven = await asyncio.to_thread(
        runner.invoke, app, ["deadletters", "redrive", "reader"], env=env
    )
    assert "1 entries sent back" in redriven.output
    await pipeline.drain()
    assert sorted(await pipeline.applied_ids()) == sorted(await pipeline.appended_ids())


async def test_trimming_keeps_what_any_group_still_needs(pipeline: Pipeline, redis: Redis) -> None:
    from shared.bus.trim import trim_acknowledged

    await pipeline.append(12, "nerima")
    while await pipeline.relay.publish_once():
        pass
    stream = pipeline.relay.names.events_for_ward("test", "nerima")
    laggard = ConsumerConfig(group="laggard", streams=[stream], consumer="l", batch=5, block_ms=10)
    slow = GroupConsumer(redis, pipeline.relay.names, laggard, pipeline.runner.handle_messages)
    await slow.ensure_groups()
    delivered = await slow._read(">", block=None)  # 5 of 12 delivered, not acknowledged
    assert len(delivered) == 5
    while await pipeline.consumer.poll_once():
        pass
    assert await trim_acknowledged(redis, stream) == 0, (
        "the laggard still has all 12 pending or unread"
    )
    await slow._ack(delivered)
    assert await trim_acknowledged(redis, stream) == 5
    while await slow.poll_once():
        pass
    assert await trim_acknowledged(redis, stream) == 7
    assert await redis.xlen(stream) == 0


async def test_resend_from_a_position_through_the_marker(
    pipeline: Pipeline, redis: Redis, stream_names: StreamNames
) -> None:
    from shared.cli.streams_status import request_resend
    from shared.settings import Settings
    from shared.testing.services import redis_url

    await pipeline.append(10)
    await pipeline.drain()
    settings = Settings(redis_url=redis_url(), stream_prefix=stream_names.prefix, partitions=4)
    await request_resend(settings, "test", 6)
    await pipeline.relay.check_marker()
    assert pipeline.relay.cursor == 6
    total = sum([await redis.xlen(s) for s in stream_names.all_events("test")])
    while await pipeline.relay.publish_once():
        pass
    assert sum([await redis.xlen(s) for s in stream_names.all_events("test")]) == total + 4
    await pipeline.drain()
    ids = await pipeline.applied_ids()
    assert len(ids) == len(set(ids)) == 10
