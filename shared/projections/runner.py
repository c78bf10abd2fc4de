"""Projection runner: a batch of envelopes and their inbox rows in one transaction."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.bus.consumer import StreamMessage
from shared.events.envelope import EventEnvelope
from shared.events.registry import EventTypeRegistry
from shared.eventstore.store import envelope_from_wire
from shared.projections.inbox import inbox, inbox_metadata, projection_positions
from shared.projections.writes import dialect_insert, upsert
from shared.telemetry.metrics import consumer_applied, consumer_duplicates
from shared.telemetry.tracing import consume_spans

EventHandler = Callable[[AsyncConnection, Sequence[EventEnvelope]], Awaitable[None]]


class Projection(Protocol):
    """A read model: its tables and how a batch of new events changes them."""

    name: str
    metadata: sa.MetaData

    def handles(self, event_type: str) -> bool: ...

    async def apply(self, connection: AsyncConnection, batch: Sequence[EventEnvelope]) -> None: ...


class DispatchingProjection:
    """Routes a batch to one handler per event type; each handler gets all its events at once."""

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

    async def apply(self, connection: AsyncConnection, batch: Sequence[EventEnvelope]) -> None:
        # Runs of the same type keep their order; a type change starts a new run.
        run: list[EventEnvelope] = []
        for envelope in batch:
            if run and run[-1].event_type != envelope.event_type:
                await self._handlers[run[0].event_type](connection, run)
                run = []
            if envelope.event_type in self._handlers:
                run.append(envelope)
        if run:
            await self._handlers[run[0].event_type](connection, run)


class ProjectionRunner:
    def __init__(
        self,
        engine: AsyncEngine,
        projection: Projection,
        *,
        registry: EventTypeRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.registry = registry

    async def create_tables(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(inbox_metadata.create_all)
            await connection.run_sync(self.projection.metadata.create_all)

    async def handle_messages(self, messages: Sequence[StreamMessage]) -> None:
        """The consumer's batch handler: wire entries in, effects committed."""
        envelopes = [envelope_from_wire(m.fields[b"p"], m.fields[b"e"]) for m in messages]
        with consume_spans(self.projection.name, [e.traceparent for e in envelopes]):
            await self.apply(envelopes)

    async def apply(self, envelopes: Sequence[EventEnvelope]) -> int:
        """Apply the envelopes not applied before; returns how many were new."""
        unique = list({e.event_id: e for e in envelopes}.values())
        if not unique:
            return 0
        async with self.engine.begin() as connection:
            fresh_ids = await self._record_inbox(connection, unique)
            fresh = [e for e in unique if str(e.event_id) in fresh_ids]
            relevant = [self._upcast(e) for e in fresh if self.projection.handles(e.event_type)]
            if relevant:
                await self.projection.apply(connection, relevant)
            await self._record_positions(connection, fresh)
        consumer_applied.add(len(fresh), {"projection": self.projection.name})
        consumer_duplicates.add(len(envelopes) - len(fresh), {"projection": self.projection.name})
        return len(fresh)

    def _upcast(self, envelope: EventEnvelope) -> EventEnvelope:
        return self.registry.upcast(envelope) if self.registry else envelope

    async def _record_inbox(
        self, connection: AsyncConnection, envelopes: Sequence[EventEnvelope]
    ) -> set[str]:
        rows = sorted(str(e.event_id) for e in envelopes)
        statement = (
            dialect_insert(connection, inbox)
            .values([{"projection": self.projection.name, "event_id": i} for i in rows])
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        return set((await connection.execute(statement)).scalars().all())

    async def _record_positions(
        self, connection: AsyncConnection, envelopes: Sequence[EventEnvelope]
    ) -> None:
        latest: dict[tuple[str, str], int] = {}
        for e in envelopes:
            key = (e.service, e.ward)
            latest[key] = max(latest.get(key, 0), e.position)
        rows = [
            {"projection": self.projection.name, "source": s, "ward": w, "position": p}
            for (s, w), p in latest.items()
        ]
        if not rows:
            return
        statement = dialect_insert(connection, projection_positions)
        statement = statement.on_conflict_do_update(
            index_elements=["projection", "source", "ward"],
            set_={
                "position": sa.func.max(
                    projection_positions.c.position, statement.excluded.position
                )
                if connection.dialect.name == "sqlite"
                else sa.func.greatest(projection_positions.c.position, statement.excluded.position)
            },
        )
        await connection.execute(statement, sorted(rows, key=lambda r: (r["source"], r["ward"])))


async def rebuild(runner: ProjectionRunner, batches: AsyncIterable[Sequence[EventEnvelope]]) -> int:
    """Replay history into the runner's (fresh) database through the live projection code."""
    await runner.create_tables()
    applied = 0
    async for batch in batches:
        applied += await runner.apply(batch)
    return applied


__all__ = [
    "DispatchingProjection",
    "EventHandler",
    "Projection",
    "ProjectionRunner",
    "rebuild",
    "upsert",
]
