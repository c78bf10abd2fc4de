"""Outbox relay: tails a service's events table by position and publishes to Redis Streams.

The cursor is saved in SQL only after Redis has acknowledged the batch. A marker key holding the
last published position travels in the same pipeline; when Redis comes back without it (restart
without persistence, flush) or behind it, the relay rewinds and publishes again. Consumers are
idempotent, so a repeat is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time

import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared.bus.streams import TRANSIENT_ERRORS, StreamNames
from shared.eventstore.schema import relay_cursors
from shared.eventstore.store import EventStore
from shared.telemetry.metrics import relay_published
from shared.telemetry.tracing import relay_spans

log = logging.getLogger("kyodo.relay")
MARKER_CHECK_INTERVAL = 0.25


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        redis: Redis,
        names: StreamNames,
        *,
        service: str,
        batch: int = 1000,
        idle_sleep: float = 0.005,
    ) -> None:
        self.store = store
        self.redis = redis
        self.names = names
        self.service = service
        self.batch = batch
        self.idle_sleep = idle_sleep
        self.cursor = 0
        self.wakeup = asyncio.Event()
        self._last_marker_check = 0.0

    async def start(self) -> None:
        self.cursor = await self.load_cursor()

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        while not stop.is_set():
            try:
                if await self.publish_once() == 0:
                    await self._idle(stop)
            except TRANSIENT_ERRORS as error:
                log.warning("relay %s cannot reach Redis: %s", self.service, error)
                await asyncio.sleep(0.5)

    async def _idle(self, stop: asyncio.Event) -> None:
        if time.monotonic() - self._last_marker_check > MARKER_CHECK_INTERVAL:
            await self.check_marker()
        self.wakeup.clear()
        waiter = asyncio.ensure_future(self.wakeup.wait())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait(
            {waiter, stopper}, timeout=self.idle_sleep, return_when="FIRST_COMPLETED"
        )
        waiter.cancel()
        stopper.cancel()

    async def publish_once(self) -> int:
        rows = await self.store.read_raw(after=self.cursor, limit=self.batch)
        if not rows:
            return 0
        marker = self.names.relay_marker(self.service)
        with relay_spans(self.service, rows):
            pipe = self.redis.pipeline(transaction=False)
            pipe.get(marker)
            for position, ward, body in rows:
                pipe.xadd(
                    self.names.events_for_ward(self.service, ward), {"p": position, "e": body}
                )
            pipe.set(marker, rows[-1][0])
            results = await pipe.execute()
        if await self._rewind_if_lost(results[0]):
            return len(rows)
        self.cursor = rows[-1][0]
        await self.save_cursor(self.cursor)
        relay_published.add(len(rows), {"service": self.service})
        return len(rows)

    async def check_marker(self) -> None:
        self._last_marker_check = time.monotonic()
        await self._rewind_if_lost(await self.redis.get(self.names.relay_marker(self.service)))

    async def _rewind_if_lost(self, marker: bytes | str | None) -> bool:
        redis_position = int(marker) if marker is not None else 0
        if redis_position >= self.cursor:
            return False
        log.warning(
            "relay %s: Redis holds position %s but %s was published; re-sending",
            self.service,
            redis_position,
            self.cursor,
        )
        await self.redis.set(self.names.relay_marker(self.service), redis_position)
        self.cursor = redis_position
        await self.save_cursor(redis_position)
        return True

    async def load_cursor(self) -> int:
        async with self.store.engine.connect() as connection:
            query = sa.select(relay_cursors.c.position).where(relay_cursors.c.name == self.service)
            value = (await connection.execute(query)).scalar_one_or_none()
        return int(value or 0)

    async def save_cursor(self, position: int) -> None:
        dialect_insert = (
            pg_insert if self.store.engine.dialect.name == "postgresql" else sqlite_insert
        )
        statement = dialect_insert(relay_cursors).values(name=self.service, position=position)
        statement = statement.on_conflict_do_update(
            index_elements=[relay_cursors.c.name], set_={"position": position}
        )
        async with self.store.engine.begin() as connection:
            await connection.execute(statement)

    async def lag(self) -> int:
        return await self.store.max_position() - self.cursor
