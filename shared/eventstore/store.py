"""SQL event store for SQLite and PostgreSQL.

Appends are serialised per store (SQLite's write lock via BEGIN IMMEDIATE, a transaction-scoped
advisory lock on PostgreSQL), so positions become visible in the order they were assigned and the
relay, which tails by position, can never skip an event that commits late.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.clock import Clock, utc_now
from shared.errors import ConcurrencyError, IdempotencyConflict
from shared.events.envelope import EventActor, EventEnvelope, NewEvent
from shared.eventstore.schema import events, idempotency_keys, metadata
from shared.telemetry.context import current_traceparent
from shared.telemetry.metrics import appended_events

APPEND_LOCK_KEY = 0x6B796F646F  # "kyodo": one advisory lock per store (each schema is a store)
ANY_VERSION: None = None
NO_STREAM = 0


@dataclass(frozen=True)
class StreamAppend:
    """Events for one aggregate stream, with the version the decider saw."""

    stream_id: str
    expected_version: int | None
    events: Sequence[NewEvent]


@dataclass(frozen=True)
class AppendContext:
    ward: str
    actor: EventActor
    correlation_id: str | None = None
    causation_id: str | None = None
    policy_version: int | None = None
    occurred_at: datetime | None = None
    idempotency_scope: str | None = None
    idempotency_key: str | None = None
    fingerprint: str | None = None


@dataclass(frozen=True)
class AppendResult:
    events: list[EventEnvelope]
    replayed: bool = False

    @property
    def last_position(self) -> int:
        return self.events[-1].position if self.events else 0


@dataclass
class _Prepared:
    rows: list[dict[str, Any]] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)


class EventStore:
    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self._is_postgres = engine.dialect.name == "postgresql"
        self.listeners: list[Callable[[], None]] = []

    async def create_tables(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def append(
        self,
        stream_id: str,
        expected_version: int | None,
        new_events: Sequence[NewEvent],
        context: AppendContext,
    ) -> AppendResult:
        return await self.append_many(
            [StreamAppend(stream_id, expected_version, new_events)], context
        )

    async def append_many(
        self, appends: Sequence[StreamAppend], context: AppendContext
    ) -> AppendResult:
        """Append to one or more streams in a single transaction; all or nothing."""
        try:
            async with self.engine.begin() as connection:
                await self._lock_appends(connection)
                replay = await self._replay_idempotent(connection, context)
                if replay is not None:
                    return replay
                prepared = await self._prepare(connection, appends, context)
                if not prepared.rows:
                    return AppendResult([])
                positions = await self._insert(connection, prepared.rows)
                await self._remember_key(connection, context, positions)
        except IntegrityError as error:
            return await self._after_integrity_error(error, appends, context)
        for listener in self.listeners:
            listener()
        appended_events.add(len(positions))
        return AppendResult(
            [
                _envelope(doc, position)
                for doc, position in zip(prepared.documents, positions, strict=True)
            ]
        )

    async def _lock_appends(self, connection: AsyncConnection) -> None:
        if self._is_postgres:
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(APPEND_LOCK_KEY)))

    async def _prepare(
        self, connection: AsyncConnection, appends: Sequence[StreamAppend], context: AppendContext
    ) -> _Prepared:
        prepared = _Prepared()
        now = self.clock()
        correlation_id = context.correlation_id or str(uuid.uuid4())
        traceparent = current_traceparent()
        for append in appends:
            version = await self._current_version(connection, append.stream_id)
            if append.expected_version is not None and append.expected_version != version:
                raise ConcurrencyError(
                    f"stream {append.stream_id} is at version {version}, "
                    f"expected {append.expected_version}",
                    stream_id=append.stream_id,
                    actual_version=version,
                )
            for offset, new in enumerate(append.events, start=1):
                document = {
                    "event_id": str(new.event_id),
                    "event_type": new.event_type,
                    "schema_version": new.schema_version,
                    "ward": context.ward,
                    "stream_id": append.stream_id,
                    "version": version + offset,
                    "occurred_at": (context.occurred_at or now).isoformat(),
                    "recorded_at": now.isoformat(),
                    "actor": context.actor.model_dump(mode="json"),
                    "correlation_id": correlation_id,
                    "causation_id": context.causation_id,
                    "traceparent": traceparent,
                    "policy_version": context.policy_version,
                    "data": new.data,
                }
                prepared.documents.append(document)
                prepared.rows.append(
                    {
                        "event_id": document["event_id"],
                        "event_type": new.event_type,
                        "ward": context.ward,
                        "stream_id": append.stream_id,
                        "version": document["version"],
                        "recorded_at": now,
                        "body": json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                    }
                )
        return prepared

    async def _current_version(self, connection: AsyncConnection, stream_id: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0)).where(
            events.c.stream_id == stream_id
        )
        return int((await connection.execute(query)).scalar_one())

    async def _insert(self, connection: AsyncConnection, rows: list[dict[str, Any]]) -> list[int]:
        statement = sa.insert(events).returning(events.c.position, sort_by_parameter_order=True)
        result = await connection.execute(statement, rows)
        return [int(position) for position in result.scalars().all()]

    async def _replay_idempotent(
        self, connection: AsyncConnection, context: AppendContext
    ) -> AppendResult | None:
        if context.idempotency_key is None:
            return None
        row = (
            await connection.execute(
                sa.select(idempotency_keys).where(
                    idempotency_keys.c.scope == _scope(context),
                    idempotency_keys.c.key == context.idempotency_key,
                )
            )
        ).one_or_none()
        if row is None:
            return None
        if row.fingerprint != (context.fingerprint or ""):
            raise IdempotencyConflict(
                f"idempotency key {context.idempotency_key!r} was used for a different request"
            )
        stored = await self._read_positions(connection, row.first_position, row.last_position)
        return AppendResult(stored, replayed=True)

    async def _remember_key(
        self, connection: AsyncConnection, context: AppendContext, positions: list[int]
    ) -> None:
        if context.idempotency_key is None:
            return
        await connection.execute(
            sa.insert(idempotency_keys).values(
                scope=_scope(context),
                key=context.idempotency_key,
                fingerprint=context.fingerprint or "",
                first_position=positions[0],
                last_position=positions[-1],
                created_at=self.clock(),
            )
        )

    async def _after_integrity_error(
        self, error: IntegrityError, appends: Sequence[StreamAppend], context: AppendContext
    ) -> AppendResult:
        if context.idempotency_key is not None:
            async with self.engine.connect() as connection:
                replay = await self._replay_idempotent(connection, context)
            if replay is not None:
                return replay
        streams = ", ".join(append.stream_id for append in appends)
        raise ConcurrencyError(f"a concurrent append reached stream(s) {streams} first") from error

    async def read_stream(self, stream_id: str, *, after_version: int = 0) -> list[EventEnvelope]:
        query = (
            sa.select(events.c.position, events.c.body)
            .where(events.c.stream_id == stream_id, events.c.version > after_version)
            .order_by(events.c.version)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_envelope(json.loads(row.body), row.position) for row in rows]

    async def read_all(
        self, *, after: int = 0, limit: int = 1000, ward: str | None = None
    ) -> list[EventEnvelope]:
        rows = await self.read_raw(after=after, limit=limit, ward=ward)
        return [_envelope(json.loads(body), position) for position, _ward, body in rows]

    async def read_raw(
        self, *, after: int = 0, limit: int = 1000, ward: str | None = None
    ) -> list[tuple[int, str, str]]:
        """(position, ward, body) rows in position order: the relay's lean read."""
        query = sa.select(events.c.position, events.c.ward, events.c.body).where(
            events.c.position > after
        )
        if ward is not None:
            query = query.where(events.c.ward == ward)
        query = query.order_by(events.c.position).limit(limit)
        async with self.engine.connect() as connection:
            result = await connection.execute(query)
            return [(int(p), str(w), str(b)) for p, w, b in result.all()]

    async def iterate_all(
        self, *, after: int = 0, batch: int = 1000, ward: str | None = None
    ) -> AsyncIterator[list[EventEnvelope]]:
        while page := await self.read_all(after=after, limit=batch, ward=ward):
            yield page
            after = page[-1].position

    async def max_position(self) -> int:
        async with self.engine.connect() as connection:
            query = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))
            return int((await connection.execute(query)).scalar_one())

    async def _read_positions(
        self, connection: AsyncConnection, first: int, last: int
    ) -> list[EventEnvelope]:
        query = (
            sa.select(events.c.position, events.c.body)
            .where(events.c.position.between(first, last))
            .order_by(events.c.position)
        )
        rows = (await connection.execute(query)).all()
        return [_envelope(json.loads(row.body), row.position) for row in rows]


def _scope(context: AppendContext) -> str:
    return f"{context.ward}:{context.idempotency_scope or 'default'}"


def _envelope(document: dict[str, Any], position: int) -> EventEnvelope:
    return EventEnvelope.model_validate({**document, "position": position})


def envelope_from_wire(position: bytes | str | int, body: bytes | str) -> EventEnvelope:
    return _envelope(json.loads(body), int(position))
