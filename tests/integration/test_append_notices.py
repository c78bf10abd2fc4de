"""Append notices (shared.bus.notices) on real PostgreSQL and Redis: a relay learns at once of
events another process appends, reads nothing while nothing happens, and listens again after
its connection is cut."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from shared.bus import OutboxRelay, StreamNames
from shared.bus.notices import AppendListener
from shared.db import Database
from shared.events import EventActor, NewEvent
from shared.eventstore import AppendContext, EventStore
from shared.testing.services import postgres_url
from tests.support.waiting import until

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
ACTOR = EventActor(subject="t", role="staff")
LONG = 30.0  # an idle poll that never comes within a test: only a notice wakes the relay


class CountingStore(EventStore):
    """The relay's own store, counting the reads of its events table."""

    reads = 0

    async def read_raw(self, **options: object) -> list[tuple[int, str, str]]:
        self.reads += 1
        return await super().read_raw(**options)  # type: ignore[arg-type]


@dataclass
class Running:
    relay: OutboxRelay
    notices: AppendListener
    writer: EventStore
    stream: str
    redis: Redis

    async def published(self) -> bool:
        """True once the relay has published the one event appended."""
        return int(await self.redis.xlen(self.stream)) == 1

    async def append(self) -> None:
        events = [NewEvent(event_type="test.Done", data={})]
        await self.writer.append("s", None, events, AppendContext("ota", ACTOR))


@asynccontextmanager
async def relay_listening(
    url: str, schema: str, redis: Redis, names: StreamNames
) -> AsyncIterator[Running]:
    """A relay on ``schema`` woken by its append notices, once it listens and has gone idle."""
    own = CountingStore(Database(url, schema=schema))
    await own.create_tables()
    writer = EventStore(Database(url, schema=schema))  # another process, as far as the relay knows
    relay = OutboxRelay(own, redis, names, service="src", idle_sleep=0.005, notified_poll=LONG)
    notices = relay.notices = AppendListener(url, schema, relay.wakeup)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(notices.run(stop)), asyncio.create_task(relay.run(stop))]
    try:
        await until(lambda: notices.listening)
        await asyncio.sleep(0.2)  # the relay has taken its lease and gone idle
        yield Running(relay, notices, writer, names.events_for_ward("src", "ota"), redis)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        own.database.dispose()
        writer.database.dispose()


@pytest.fixture
async def running(
    postgres_schema: tuple[str, str], redis: Redis, stream_names: StreamNames
) -> AsyncIterator[Running]:
    async with relay_listening(*postgres_schema, redis, stream_names) as started:
        yield started


async def test_an_append_by_another_process_is_published_at_once(running: Running) -> None:
    began = time.monotonic()
    await running.append()
    await until(running.published)
    assert time.monotonic() - began < 2.0 < LONG


async def test_an_idle_relay_reads_nothing_while_it_listens(running: Running) -> None:
    store = running.relay.store
    assert isinstance(store, CountingStore)
    before = store.reads
    await asyncio.sleep(0.5)  # a poll every idle_sleep would read about a hundred times
    assert store.reads - before <= 1
    await running.append()
    await until(running.published)


async def test_the_listener_comes_back_after_its_connection_is_cut(
    running: Running, postgres_schema: tuple[str, str]
) -> None:
    cut = running.notices.backend_pid
    assert cut is not None
    admin = sa.create_engine(postgres_schema[0], poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.select(sa.func.pg_terminate_backend(cut)))
    admin.dispose()
    await until(lambda: running.notices.listening and running.notices.backend_pid != cut, 10)
    await asyncio.sleep(0.2)
    await running.append()
    await until(running.published)


async def test_a_schema_with_a_long_name_appends_and_notifies(
    redis: Redis, stream_names: StreamNames
) -> None:
    url, schema = postgres_url(), ("kyodo_" + uuid.uuid4().hex + "_" * 63)[:63]
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        async with relay_listening(url, schema, redis, stream_names) as started:
            await started.append()
            await until(started.published)
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
