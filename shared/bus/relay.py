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
from collections.abc import Awaitable

from redis.asyncio import Redis

from shared.bus.lease import Lease
from shared.bus.notices import AppendListener
from shared.bus.pacing import pause_until
from shared.bus.streams import TRANSIENT_ERRORS, StreamNames
from shared.bus.trim import trim_acknowledged
from shared.eventstore.store import EventStore
from shared.telemetry.metrics import relay_published
from shared.telemetry.tracing import relay_spans

log = logging.getLogger("kyodo.relay")
MARKER_CHECK_INTERVAL = 0.25
CURSOR_SAVE_INTERVAL = 0.2
LEASE_RETRY = 1.0
TRICKLE = 50

# KEYS: the marker, then one stream per group of ARGV; ARGV: the last position, then per stream
# its entry count followed by (position, body) pairs. One call, one reply per batch: the per-command
# work of a pipeline (packing, parsing a reply) costs more than Redis spends on the XADDs.
PUBLISH_SCRIPT = """
local previous = redis.call('GET', KEYS[1])
local at = 2
for key = 2, #KEYS do
  local count = tonumber(ARGV[at])
  for i = at + 1, at + 2 * count, 2 do
    redis.call('XADD', KEYS[key], '*', 'p', ARGV[i], 'e', ARGV[i + 1])
  end
  at = at + 2 * count + 1
end
redis.call('SET', KEYS[1], ARGV[1])
return previous
"""


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
        trim_interval: float = 0.0,
        pace: float = 0.0,
        notified_poll: float = 1.0,
    ) -> None:
        """``pace``: the shortest time between two batches while events keep coming
        (:mod:`shared.bus.pacing`). While ``notices`` listens to the store's append notices
        (:mod:`shared.bus.notices`), an idle relay looks at the table only every
        ``notified_poll`` seconds rather than every ``idle_sleep``."""
        self.store = store
        self.redis = redis
        self.names = names
        self.service = service
        self.batch = batch
        self.idle_sleep = idle_sleep
        self.trim_interval = trim_interval
        self.pace = pace
        self.notices: AppendListener | None = None
        self.notified_poll = notified_poll
        self._trimmed_at = time.monotonic()
        self.cursor = 0
        self.wakeup = asyncio.Event()
        self._last_marker_check = 0.0
        self._saved = 0
        self._saved_at = 0.0
        self._script = redis.register_script(PUBLISH_SCRIPT)
        self._last_size = 0
        self._prefetch: tuple[int, asyncio.Future[list[tuple[int, str, str]]]] | None = None

    async def start(self) -> None:
        self.cursor = self._saved = await self.load_cursor()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish while this instance holds the relay lease (one publisher per service)."""
        lease = Lease(self.redis, self.names.relay_lease(self.service))
        leading = False
        while not stop.is_set():
            try:
                if not await lease.hold():
                    leading = False
                    await asyncio.sleep(LEASE_RETRY)
                    continue
                if not leading:
                    await self.start()  # another instance may have moved the cursor
                    leading = True
                self.wakeup.clear()  # before the read: an append after it wakes the idle wait
                began = time.monotonic()  # the read of the batch starts here
                published = await self.publish_once()
                await self._trim_if_due()  # also under steady load, which never idles
                if published == 0:
                    await self._idle(stop)
                elif published < self.batch:
                    await pause_until(began + self.pace, stop)
            except TRANSIENT_ERRORS as error:
                log.warning("relay %s cannot reach Redis: %s", self.service, error)
                leading = False
                await asyncio.sleep(0.5)
        if leading and self._saved != self.cursor:
            await self.save_cursor(self.cursor)
        await _quietly(lease.release())

    async def _idle(self, stop: asyncio.Event) -> None:
        if self._saved != self.cursor:
            await self._save_cursor_now_and_then()
        if time.monotonic() - self._last_marker_check > MARKER_CHECK_INTERVAL:
            await self.check_marker()
        waiter = asyncio.ensure_future(self.wakeup.wait())
        stopper = asyncio.ensure_future(stop.wait())
        notified = self.notices is not None and self.notices.listening
        timeout = self.notified_poll if notified else self.idle_sleep
        await asyncio.wait({waiter, stopper}, timeout=timeout, return_when="FIRST_COMPLETED")
        waiter.cancel()
        stopper.cancel()

    async def _trim_if_due(self) -> None:
        if self.trim_interval and time.monotonic() - self._trimmed_at > self.trim_interval:
            await self.trim()

    async def publish_once(self) -> int:
        rows = await self._next_rows()
        if not rows:
            return 0
        if len(rows) == self.batch:
            # Read the next batch from SQL while Redis takes this one.
            after = rows[-1][0]
            self._prefetch = (after, asyncio.ensure_future(self._read(after)))
        with relay_spans(self.service, rows):
            previous = await self._publish(rows)
        if await self._rewind_if_lost(previous):
            return len(rows)
        self.cursor = rows[-1][0]
        await self._save_cursor_now_and_then()
        relay_published.add(len(rows), {"service": self.service})
        return len(rows)

    async def _publish(self, rows: list[tuple[int, str, str]]) -> bytes | None:
        """XADD every row and move the marker in one script call; returns the marker before."""
        by_stream: dict[str, list[int | str]] = {}
        for position, ward, body in rows:
            by_stream.setdefault(self.names.events_for_ward(self.service, ward), []).extend(
                (position, body)
            )
        keys = [self.names.relay_marker(self.service), *by_stream]
        arguments: list[int | str] = [rows[-1][0]]
        for entries in by_stream.values():
            arguments.append(len(entries) // 2)
            arguments.extend(entries)
        previous: bytes | None = await self._script(keys=keys, args=arguments)
        return previous

    async def _next_rows(self) -> list[tuple[int, str, str]]:
        if self._prefetch is not None:
            after, rows = self._prefetch
            self._prefetch = None
            if after == self.cursor:
                return await rows
            rows.cancel()
        return await self._read(self.cursor)

    async def _read(self, after: int) -> list[tuple[int, str, str]]:
        # After a small batch the next one is likely small too: read it without a thread hop.
        short = self._last_size < TRICKLE
        rows = await self.store.read_raw(after=after, limit=self.batch, short=short)
        self._last_size = len(rows)
        return rows

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
        return await self.store.load_cursor(self.service)

    async def save_cursor(self, position: int) -> None:
        await self.store.save_cursor(self.service, position)
        self._saved = position
        self._saved_at = time.monotonic()

    async def _save_cursor_now_and_then(self) -> None:
        # The SQL cursor only shortens the re-send after a crash (the Redis marker bounds it too),
        # so under load it is saved a few times a second rather than after every batch.
        if time.monotonic() - self._saved_at >= CURSOR_SAVE_INTERVAL:
            await self.save_cursor(self.cursor)

    async def trim(self) -> int:
        """Drop entries of this service's streams that every consumer group has acknowledged."""
        self._trimmed_at = time.monotonic()
        removed = 0
        for stream in self.names.all_events(self.service):
            removed += await trim_acknowledged(self.redis, stream)
        return removed

    async def lag(self) -> int:
        return await self.store.max_position() - self.cursor


async def _quietly(operation: Awaitable[None]) -> None:
    try:
        await operation
    except TRANSIENT_ERRORS:
        log.warning("relay lease not released; it expires by itself")
