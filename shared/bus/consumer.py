"""Consumer-group reader: batches in, one SQL transaction, XACK after commit.

faststream 0.7's stream subscriber stops for good on NOGROUP, reads one stream per XREADGROUP and
leaves failed entries pending forever; this reader keeps a service's partitions in one XREADGROUP
call, recreates its group after a Redis flush, reclaims idle entries (XAUTOCLAIM) and moves an entry
that failed too often to a dead-letter stream with its last error.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.bus.pacing import pause_until
from shared.bus.streams import TRANSIENT_ERRORS, StreamNames
from shared.telemetry.metrics import dead_lettered

log = logging.getLogger("kyodo.consumer")
GC_THRESHOLDS = (20_000, 50, 100)


@dataclass(frozen=True)
class StreamMessage:
    stream: str
    entry_id: str
    fields: dict[bytes, bytes]


BatchHandler = Callable[[Sequence[StreamMessage]], Awaitable[None]]
BatchPreparer = Callable[[list[StreamMessage]], Sequence[StreamMessage]]
"""CPU work on a batch (decoding) done while the batch before it commits; feeds the handler."""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class ConsumerConfig:
    group: str
    streams: Sequence[str]
    consumer: str
    batch: int = 500
    """COUNT per stream in one XREADGROUP: a batch holds at most batch × len(streams) entries."""
    block_ms: int = 200
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    pace: float = 0.0
    """The shortest time in seconds between taking two batches while entries keep coming
    (:mod:`shared.bus.pacing`); 0 reads again as soon as a batch is taken."""


class GroupConsumer:
    def __init__(
        self,
        redis: Redis,
        names: StreamNames,
        config: ConsumerConfig,
        handler: BatchHandler,
        *,
        prepare: BatchPreparer | None = None,
    ) -> None:
        self.redis = redis
        self.names = names
        self.config = config
        self.handler = handler
        self.prepare = prepare
        self.running = False
        self._own_pending_done = False

    async def ensure_groups(self) -> None:
        for stream in self.config.streams:
            try:
                # A new group starts at the beginning of the stream.
                await self.redis.xgroup_create(stream, self.config.group, id="0", mkstream=True)
            except ResponseError as error:
                if "BUSYGROUP" not in str(error):
                    raise

    async def run(self, stop: asyncio.Event) -> None:
        """Read batch N+1 from Redis while batch N is applied; batches still apply in order.

        A batch's XACK goes out after its commit but is not awaited before the next batch is
        applied: a round trip less on the path of every batch.
        """
        self.running = True
        raise_gc_thresholds()
        reclaim = asyncio.create_task(self._reclaim_loop(stop))
        in_flight: asyncio.Task[None] | None = None
        acks: set[asyncio.Task[None]] = set()
        try:
            await self.ensure_groups()
            taken_at, size = 0.0, 0
            while not stop.is_set():
                if 0 < size < self.config.batch:
                    await pause_until(taken_at + self.config.pace, stop)  # while the last applies
                    if stop.is_set():
                        break
                batch = await self._next_batch()
                taken_at, size = time.monotonic(), len(batch)
                messages = self._prepared(batch)
                if in_flight is not None:
                    await in_flight
                    in_flight = None
                if messages:
                    in_flight = asyncio.create_task(self._apply_then_ack(messages, acks))
            if in_flight is not None:
                await in_flight
            await asyncio.gather(*acks)
        finally:
            reclaim.cancel()
            self.running = False

    def _prepared(self, batch: list[StreamMessage]) -> Sequence[StreamMessage]:
        if not batch or self.prepare is None:
            return batch
        try:
            return self.prepare(batch)
        except Exception:
            return batch  # the handler meets the same error, and the usual retries take over

    async def _apply_then_ack(
        self, messages: Sequence[StreamMessage], acks: set[asyncio.Task[None]]
    ) -> None:
        if await self._apply(messages):
            ack = asyncio.create_task(self._ack(messages))
            acks.add(ack)
            ack.add_done_callback(acks.discard)

    async def _next_batch(self) -> list[StreamMessage]:
        try:
            if not self._own_pending_done:
                messages = await self._read("0", block=None)
                self._own_pending_done = not messages
                if messages:
                    return messages
            return await self._read(">", block=self.config.block_ms)
        except ResponseError as error:
            if not _group_lost(error):
                raise
            log.warning("group %s lost (Redis flushed?); recreating", self.config.group)
            await self.ensure_groups()
        except TRANSIENT_ERRORS as error:
            log.warning("consumer %s cannot reach Redis: %s", self.config.group, error)
            await asyncio.sleep(0.5)
        return []

    async def _reclaim_loop(self, stop: asyncio.Event) -> None:
        interval = max(self.config.claim_idle_ms / 2000, 0.05)
        while not stop.is_set():
            await asyncio.sleep(interval)
            try:
                await self.reclaim_once()
            except (*TRANSIENT_ERRORS, ResponseError) as error:
                log.warning("reclaim in %s failed: %s", self.config.group, error)

    async def poll_once(self) -> int:
        """Read and apply one batch (own unacknowledged entries first); returns its size."""
        messages = self._prepared(await self._next_batch())
        await self.deliver(messages)
        return len(messages)

    async def _read(self, start_id: str, *, block: int | None) -> list[StreamMessage]:
        response = await self.redis.xreadgroup(
            self.config.group,
            self.config.consumer,
            dict.fromkeys(self.config.streams, start_id),
            count=self.config.batch,
            block=block,
        )
        _raise_if_cancelled()
        return _messages(response)

    async def deliver(self, messages: Sequence[StreamMessage]) -> None:
        if await self._apply(messages):
            await self._ack(messages)

    async def _apply(self, messages: Sequence[StreamMessage]) -> bool:
        """Apply a batch; True when it is committed whole and its XACK is still to be sent."""
        if not messages:
            return False
        try:
            await self.handler(messages)
        except Exception:
            log.exception(
                "batch of %d failed in %s; retrying one by one", len(messages), self.config.group
            )
            await self._deliver_one_by_one(messages)
            return False
        return True

    async def _deliver_one_by_one(self, messages: Sequence[StreamMessage]) -> None:
        for message in messages:
            try:
                await self.handler([message])
            except Exception as error:
                # Left pending: reclaimed later, dead-lettered after too many deliveries.
                await self.redis.hset(
                    self.names.last_errors(self.config.group),
                    _error_key(message),
                    f"{type(error).__name__}: {error}"[:2000],
                )
                continue
            await self._ack([message])

    async def _ack(self, messages: Sequence[StreamMessage]) -> None:
        by_stream: dict[str, list[str]] = {}
        for message in messages:
            by_stream.setdefault(message.stream, []).append(message.entry_id)
        pipe = self.redis.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self.config.group, *ids)
        try:
            await pipe.execute()
        except TRANSIENT_ERRORS as error:
            # Applied but not acknowledged: redelivered later, and the inbox skips it then.
            log.warning("XACK in %s failed: %s", self.config.group, error)

    async def reclaim_once(self) -> int:
        """Claim entries idle past the timeout; dead-letter those delivered too often."""
        reclaimed = 0
        for stream in self.config.streams:
            claimed = await self._autoclaim(stream)
            if not claimed:
                continue
            counts = await self._delivery_counts(stream, claimed)
            failed = [
                m for m in claimed if counts.get(m.entry_id, 1) - 1 >= self.config.max_deliveries
            ]
            retry = [m for m in claimed if m not in failed]
            await self.dead_letter(failed)
            await self.deliver(retry)
            reclaimed += len(claimed)
        return reclaimed

    async def _autoclaim(self, stream: str) -> list[StreamMessage]:
        result = await self.redis.xautoclaim(
            stream,
            self.config.group,
            self.config.consumer,
            min_idle_time=self.config.claim_idle_ms,
            start_id="0-0",
            count=self.config.batch,
        )
        entries: list[Any] = result[1]
        return [
            StreamMessage(stream, _text(entry_id), fields)
            for entry_id, fields in entries
            if fields is not None
        ]

    async def _delivery_counts(self, stream: str, claimed: list[StreamMessage]) -> dict[str, int]:
        rows = await self.redis.xpending_range(
            stream,
            self.config.group,
            min=claimed[0].entry_id,
            max=claimed[-1].entry_id,
            count=len(claimed) + 100,
            consumername=self.config.consumer,
        )
        return {_text(cast(bytes, row["message_id"])): int(row["times_delivered"]) for row in rows}

    async def dead_letter(self, messages: Sequence[StreamMessage]) -> None:
        if not messages:
            return
        errors_key = self.names.last_errors(self.config.group)
        errors = await self.redis.hmget(errors_key, [_error_key(m) for m in messages])
        pipe = self.redis.pipeline(transaction=True)
        for message, error in zip(messages, errors, strict=True):
            pipe.xadd(
                self.names.dead_letters(self.config.group),
                {
                    **message.fields,  # type: ignore[dict-item]
                    b"source_stream": message.stream.encode(),
                    b"source_id": message.entry_id.encode(),
                    b"error": error or b"unknown error",
                },
            )
            pipe.xack(message.stream, self.config.group, message.entry_id)
            pipe.hdel(errors_key, _error_key(message))
        await pipe.execute()
        dead_lettered.add(len(messages), {"group": self.config.group})
        log.error(
            "%d entries moved to %s", len(messages), self.names.dead_letters(self.config.group)
        )


def raise_gc_thresholds() -> None:
    """Collect young objects every 20,000 allocations rather than every 700 (CPython's default).

    A batch allocates thousands of tracked objects (entries, envelopes, their dicts) that all
    survive until it commits; with the default threshold every batch ran dozens of collections
    that walked them again and again, which cost more CPU than parsing the envelopes.
    """
    current = gc.get_threshold()
    gc.set_threshold(*(max(c, t) for c, t in zip(current, GC_THRESHOLDS, strict=True)))


def _messages(response: object) -> list[StreamMessage]:
    messages: list[StreamMessage] = []
    for stream, entries in response or []:  # type: ignore[attr-defined]
        name = _text(stream)
        messages.extend(
            StreamMessage(name, _text(entry_id), fields) for entry_id, fields in entries
        )
    return messages


def _group_lost(error: ResponseError) -> bool:
    return "NOGROUP" in str(error) or "no longer exists" in str(error)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _error_key(message: StreamMessage) -> str:
    return f"{message.stream}|{message.entry_id}"


def _raise_if_cancelled() -> None:
    """redis-py with the hiredis parser can complete a read whose task was cancelled meanwhile,
    dropping the cancellation; a consumer told to stop must stop all the same."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
