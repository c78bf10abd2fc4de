"""Foundation figures: raw Redis floor, relay, consume-and-project, append-to-visible latency."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from shared.bus import ConsumerConfig, GroupConsumer, OutboxRelay, StreamMessage, StreamNames
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.events import EventActor, NewEvent
from shared.eventstore import AppendContext, EventStore, StreamAppend
from shared.projections.runner import ProjectionRunner
from shared.testing.probe import ProbeProjection
from shared.testing.services import postgres_url

EVENTS = 50_000
WARDS = ("nerima", "ota", "setagaya", "shibuya", "minato", "chuo")
ACTOR = EventActor(subject="bench", role="staff")


@dataclass
class Figures:
    rows: list[tuple[str, str, str]]

    def add(self, name: str, value: str, note: str = "") -> None:
        self.rows.append((name, value, note))


def sample_data(i: int) -> dict[str, object]:
    return {
        "donation_id": str(uuid.uuid4()),
        "amount": 1000 + i,
        "designation": {"kind": "field", "field": "環境・まちづくり"},
        "personal": {"name": "練馬 花子", "address": "東京都練馬区豊玉北6-12-1"},
    }


async def fill_store(store: EventStore, n: int) -> None:
    for start in range(0, n, 500):
        ward = WARDS[(start // 500) % len(WARDS)]
        events = [
            NewEvent(event_type="bench.Recorded", data=sample_data(i))
            for i in range(start, start + 500)
        ]
        await store.append_many(
            [StreamAppend(f"bench-{start}", None, events)], AppendContext(ward=ward, actor=ACTOR)
        )


async def raw_xadd_rate(redis: Redis, bodies: list[str], names: StreamNames) -> float:
    began = time.perf_counter()
    for start in range(0, len(bodies), 1000):
        pipe = redis.pipeline(transaction=False)
        for i, body in enumerate(bodies[start : start + 1000], start=start):
            pipe.xadd(names.events("raw", i % names.partitions), {"p": i, "e": body})
        await pipe.execute()
    return len(bodies) / (time.perf_counter() - began)


async def raw_read_ack_rate(redis: Redis, names: StreamNames, n: int) -> float:
    streams = names.all_events("raw")
    for stream in streams:
        await redis.xgroup_create(stream, "raw", id="0")
    began = time.perf_counter()
    seen = 0
    while seen < n:
        response = await redis.xreadgroup("raw", "c", dict.fromkeys(streams, ">"), count=500)
        pipe = redis.pipeline(transaction=False)
        for stream, entries in response:
            pipe.xack(stream, "raw", *[entry_id for entry_id, _ in entries])
            seen += len(entries)
        await pipe.execute()
    return n / (time.perf_counter() - began)


async def relay_rate(store: EventStore, redis: Redis, names: StreamNames) -> float:
    relay = OutboxRelay(store, redis, names, service="bench", batch=1000)
    await relay.start()
    began = time.perf_counter()
    while await relay.publish_once():
        pass
    return EVENTS / (time.perf_counter() - began)


async def consume_rate(redis: Redis, names: StreamNames, url: str, schema: str | None) -> float:
    database = Database(url, schema=schema)
    runner = ProjectionRunner(database, ProbeProjection())
    await runner.create_tables()
    group = f"consume-{uuid.uuid4().hex[:6]}"
    config = ConsumerConfig(group=group, streams=names.all_events("bench"), consumer="c", batch=500)
    stop = asyncio.Event()
    done = 0

    async def handle(messages: Sequence[StreamMessage]) -> None:
        nonlocal done
        await runner.handle_messages(messages)
        done += len(messages)
        if done >= EVENTS:
            stop.set()

    consumer = GroupConsumer(redis, names, config, handle, prepare=runner.decode)
    await consumer.ensure_groups()
    began = time.perf_counter()
    await consumer.run(stop)
    rate = EVENTS / (time.perf_counter() - began)
    if schema:
        await database.write(lambda c: c.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE')))
    database.dispose()
    return rate


async def visible_latency(
    workdir: Path, redis_url: str, names: StreamNames, rate: int, seconds: float
) -> list[float]:
    """Append at a fixed rate in this process; another process projects; latency per event."""
    store = EventStore(Database(f"sqlite:///{workdir / 'latency-source.sqlite3'}"))
    await store.create_tables()
    redis = Redis.from_url(redis_url)
    relay = OutboxRelay(store, redis, names, service="latency", batch=1000, idle_sleep=0.002)
    store.listeners.append(relay.wakeup.set)
    out = workdir / "visible.jsonl"
    command = [
        sys.executable,
        "-m",
        "benchmarks.visible_consumer",
        str(workdir / "latency-reader.sqlite3"),
    ]
    command += [redis_url, names.prefix, str(out)]
    reader = subprocess.Popen(command, stdout=subprocess.PIPE)
    assert reader.stdout is not None
    reader.stdout.readline()  # "ready"
    stop = asyncio.Event()
    relay_task = asyncio.create_task(relay.run(stop))
    started: dict[str, float] = {}
    total = int(rate * seconds)
    began = time.perf_counter()
    for i in range(total):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        event = NewEvent(event_type="latency.Recorded", data=sample_data(i))
        started[str(event.event_id)] = time.time()
        await store.append(f"l-{i % 50}", None, [event], AppendContext(WARDS[i % 6], ACTOR))
    await asyncio.sleep(1.0)
    stop.set()
    await relay_task
    reader.terminate()
    reader.wait()
    visible = [json.loads(line) for line in out.read_text().splitlines()]
    await redis.aclose()
    store.database.dispose()
    return [(v["at"] - started[v["id"]]) * 1000 for v in visible if v["id"] in started]


async def run_async(console: Console, figures: Figures) -> None:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as server:
        workdir = Path(tmp)
        redis = Redis.from_url(server.url)
        names = StreamNames("bench", 8)
        store = EventStore(Database(f"sqlite:///{workdir / 'source.sqlite3'}"))
        await store.create_tables()
        console.print(f"filling a SQLite event store with {EVENTS:,} events…")
        await fill_store(store, EVENTS)
        bodies = [body for _p, _w, body in await store.read_raw(limit=EVENTS)]
        figures.add(
            "event body size", f"{statistics.mean(map(len, bodies)):.0f} B", "mean JSON bytes"
        )

        raw_xadd = await raw_xadd_rate(redis, bodies, names)
        figures.add("raw XADD, pipelined ×1000", f"{raw_xadd:,.0f} /s", "redis-py floor")
        raw_read = await raw_read_ack_rate(redis, names, EVENTS)
        figures.add("raw XREADGROUP+XACK", f"{raw_read:,.0f} /s", "redis-py floor")

        relay = await relay_rate(store, redis, names)
        figures.add(
            "relay publish (SQLite → Redis)",
            f"{relay:,.0f} /s",
            f"{relay / raw_xadd:.0%} of raw XADD (target ≥ 80%)",
        )

        sqlite_rate = await consume_rate(
            redis, names, f"sqlite:///{workdir / 'read.sqlite3'}", None
        )
        figures.add(
            "consume+project → SQLite",
            f"{sqlite_rate:,.0f} /s",
            f"{sqlite_rate / raw_read:.0%} of raw read+ack (target ≥ 15,000/s)",
        )
        await _postgres_rate(redis, names, figures, raw_read)

        latencies = await visible_latency(
            workdir, server.url, StreamNames("lat", 8), rate=500, seconds=10
        )
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        figures.add(
            "append→visible p50 @ 500 ev/s",
            f"{p50:.2f} ms",
            f"{len(latencies)} events, reader in another process",
        )
        figures.add("append→visible p99 @ 500 ev/s", f"{p99:.2f} ms", "target ≤ 10 ms")
        await redis.aclose()
        store.database.dispose()


async def _postgres_rate(
    redis: Redis, names: StreamNames, figures: Figures, raw_read: float
) -> None:
    try:
        rate = await consume_rate(redis, names, postgres_url(), f"bench_{uuid.uuid4().hex[:8]}")
    except (OSError, sa.exc.OperationalError) as error:
        figures.add("consume+project → PostgreSQL", "skipped", f"no PostgreSQL: {error}"[:80])
        return
    figures.add(
        "consume+project → PostgreSQL",
        f"{rate:,.0f} /s",
        f"{rate / raw_read:.0%} of raw read+ack (target ≥ 30,000/s)",
    )


def run(console: Console) -> None:
    figures = Figures([])
    asyncio.run(run_async(console, figures))
    table = Table(title="Platform foundation (2-core machine, embedded redis-server with AOF)")
    for column in ("measure", "figure", "note"):
        table.add_column(column)
    for row in figures.rows:
        table.add_row(*row)
    console.print(table)
