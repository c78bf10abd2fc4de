"""Projection runner: a batch of envelopes and their inbox rows in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Sequence
from typing import Protocol

import sqlalchemy as sa

from shared.bus.consumer import StreamMessage
from shared.db import Database
from shared.events.envelope import EventEnvelope, service_of
from shared.events.registry import EventTypeRegistry
from shared.projections.inbox import inbox_metadata, record_new, record_positions
from shared.telemetry.metrics import consumer_applied, consumer_duplicates
from shared.telemetry.tracing import consume_spans

EventHandler = Callable[[sa.Connection, Sequence[EventEnvelope]], None]


class Projection(Protocol):
    """A read model: its tables and how a batch of new events changes them (synchronously)."""

    name: str
    metadata: sa.MetaData

    def handles(self, event_type: str) -> bool: ...

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None: ...


class DispatchingProjection:
    """Routes a batch to one handler per event type; each handler gets its events at once."""

    def __init__(self, name: str, metadata: sa.MetaData) -> None:
        self.name = name
        self.metadata = metadata
        self._handlers: dict[str, EventHandler] = {}

    def on(self, event_type: str) -> Callable[[EventHandler], EventHandler]:
        def register(handler: EventHandler) -> EventHandler:
            self._handlers[event_type] = handler
            return handler

        return register

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    @property
    def event_types(self) -> frozenset[str]:
        """The event types it has a handler for."""
        return frozenset(self._handlers)

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        # Runs of one type keep their order; a change of type starts a new run.
        run: list[EventEnvelope] = []
        for envelope in batch:
            if run and run[-1].event_type != envelope.event_type:
                self._handlers[run[0].event_type](connection, run)
                run = []
            if envelope.event_type in self._handlers:
                run.append(envelope)
        if run:
            self._handlers[run[0].event_type](connection, run)


class DecodedBatch(list[StreamMessage]):
    """A batch of wire entries with their envelopes, in the same order."""

    envelopes: list[EventEnvelope]


class ProjectionRunner:
    def __init__(
        self,
        database: Database,
        projection: Projection,
        *,
        registry: EventTypeRegistry | None = None,
    ) -> None:
        self.database = database
        self.projection = projection
        self.registry = registry

    async def create_tables(self) -> None:
        await self.database.create_all(inbox_metadata)
        await self.database.create_all(self.projection.metadata)

    def decode(self, messages: list[StreamMessage]) -> DecodedBatch:
        """The consumer's preparer: envelopes decoded while the batch before commits."""
        batch = DecodedBatch(messages)
        batch.envelopes = [
            EventEnvelope.from_body(m.fields[b"e"], int(m.fields[b"p"])) for m in messages
        ]
        return batch

    async def handle_messages(self, messages: Sequence[StreamMessage]) -> None:
        """The consumer's batch handler: wire entries in, effects committed."""
        if not isinstance(messages, DecodedBatch):
            messages = self.decode(list(messages))
        envelopes = messages.envelopes
        with consume_spans(self.projection.name, [e.traceparent for e in envelopes]):
            await self.apply(envelopes)

    async def apply(self, envelopes: Sequence[EventEnvelope]) -> int:
        """Apply the envelopes not applied before, in one transaction; returns how many."""
        unique = list({e.event_id: e for e in envelopes}.values())
        if not unique:
            return 0
        fresh = await self.database.write(lambda connection: self._apply(connection, unique))
        consumer_applied.add(fresh, {"projection": self.projection.name})
        consumer_duplicates.add(len(envelopes) - fresh, {"projection": self.projection.name})
        return fresh

    def _apply(self, connection: sa.Connection, envelopes: Sequence[EventEnvelope]) -> int:
        event_ids = ids(envelopes)
        fresh_ids = record_new(connection, self.projection.name, event_ids)
        fresh = (
            envelopes  # the envelopes are distinct: as many fresh ids means all of them
            if len(fresh_ids) == len(envelopes)
            else [e for e, i in zip(envelopes, event_ids, strict=True) if i in fresh_ids]
        )
        handled = {t for t in {e.event_type for e in fresh} if self.projection.handles(t)}
        relevant = [self._upcast(e) for e in fresh if e.event_type in handled]
        if relevant:
            self.projection.apply(connection, relevant)
        self._record_positions(connection, fresh)
        return len(fresh)

    def _upcast(self, envelope: EventEnvelope) -> EventEnvelope:
        return self.registry.upcast(envelope) if self.registry else envelope

    def _record_positions(
        self, connection: sa.Connection, envelopes: Sequence[EventEnvelope]
    ) -> None:
        if envelopes:
            record_positions(connection, self.projection.name, latest_positions(envelopes))


def latest_positions(envelopes: Sequence[EventEnvelope]) -> dict[tuple[str, str], int]:
    """The highest position per (source service, ward) of the envelopes."""
    by_type: dict[tuple[str, str], int] = {}
    for e in envelopes:
        key = (e.event_type, e.ward)
        if by_type.get(key, 0) < e.position:
            by_type[key] = e.position
    latest: dict[tuple[str, str], int] = {}
    for (event_type, ward), position in by_type.items():
        key = (service_of(event_type), ward)
        latest[key] = max(latest.get(key, 0), position)
    return latest


def ids(envelopes: Sequence[EventEnvelope]) -> list[str]:
    return [str(e.event_id) for e in envelopes]


async def rebuild(runner: ProjectionRunner, batches: AsyncIterable[Sequence[EventEnvelope]]) -> int:
    """Replay history into the runner's (fresh) database through the live projection code."""
    await runner.create_tables()
    applied = 0
    async for batch in batches:
        applied += await runner.apply(batch)
    return applied
