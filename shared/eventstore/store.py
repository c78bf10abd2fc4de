"""SQL event store for SQLite and PostgreSQL.

Appends are serialised per store (SQLite's write lock via BEGIN IMMEDIATE, a transaction-scoped
advisory lock on PostgreSQL), so positions become visible in the order they were assigned and the
relay, which tails by position, can never skip an event that commits late.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from shared.audit.canonical import canonical_json
from shared.audit.errors import LeafEncodingError
from shared.clock import Clock, utc_now
from shared.db import Database
from shared.errors import ConcurrencyError, IdempotencyConflict
from shared.events.envelope import EventActor, EventEnvelope, NewEvent
from shared.eventstore.schema import events, idempotency_keys, metadata, relay_cursors
from shared.ids import new_id
from shared.jsontext import json_text
from shared.telemetry.context import current_traceparent
from shared.telemetry.metrics import appended_events
from shared.telemetry.tracing import append_spans, spans_recorded, tracer

_SCHEMA_SQL = "coalesce(current_schema(), '')"
_SCHEMA: sa.ColumnClause[str] = sa.literal_column(_SCHEMA_SQL)
APPENDED_CHANNEL = f"concat('kyodo.appended:', md5({_SCHEMA_SQL}))"
"""SQL for the channel of a schema's append notices (``shared.bus.notices``): of fixed length,
as channel names are limited to 63 bytes whatever the schema's name."""
APPEND_LOCK = sa.select(
    # One advisory lock per store. Each schema is a store, but advisory locks are per database:
    # the key is derived from the schema, so services sharing a database do not wait for each
    # other's appends (a collision of two hashes would only make them wait, never corrupt).
    sa.func.pg_advisory_xact_lock(
        sa.func.hashtextextended(sa.func.concat("kyodo-append:", _SCHEMA), 0)
    ),
    # The append notice rides along: delivered at commit, dropped on rollback.
    sa.func.pg_notify(sa.literal_column(APPENDED_CHANNEL), ""),
)
ANY_VERSION: None = None
NO_STREAM = 0
Stamp = Callable[[dict[str, Any], int], dict[str, Any]]
"""(an event's data, the version it takes) → the data stored."""


@dataclass(frozen=True)
class StreamAppend:
    """Events for one aggregate stream, with the version the decider saw."""

    stream_id: str
    expected_version: int | None
    events: Sequence[NewEvent]
    stamp: Stamp | None = None
    """Completes each event's data with the version it takes, found under the append lock: with
    ``expected_version`` None, a stream whose version is a number (a receipt's) is appended to by
    any number of writers at once, none of them guessing the number."""


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
    traceparent: str | None = None
    """The request's trace, for appends made by another task (a group-commit writer)."""


@dataclass(frozen=True)
class AppendResult:
    events: list[EventEnvelope]
    replayed: bool = False

    @property
    def last_position(self) -> int:
        return self.events[-1].position if self.events else 0


@dataclass(frozen=True)
class BatchItem:
    """One independent append of a batch: its streams and its own context (key, actor…)."""

    appends: Sequence[StreamAppend]
    context: AppendContext


class UnloggableEventData(ValueError):
    """Event data the audit log could not encode; see ``require_loggable``."""


BatchOutcome = AppendResult | ConcurrencyError | IdempotencyConflict | UnloggableEventData


class EventStore:
    def __init__(self, database: Database, *, clock: Clock = utc_now) -> None:
        self.database = database
        self.clock = clock
        self.listeners: list[Callable[[], None]] = []

    async def create_tables(self) -> None:
        await self.database.create_all(metadata)

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
        with tracer.start_as_current_span(
            "eventstore.append", attributes={"kyodo.ward": context.ward}
        ):
            traceparent = current_traceparent() or context.traceparent
            prepared = _prepare(appends, context, self.clock(), traceparent)
            try:
                result = await self.database.write(
                    lambda connection: self._append(connection, prepared, context)
                )
            except IntegrityError as error:
                return await self._after_integrity_error(error, appends, context)
        if not result.replayed and result.events:
            appended_events.add(len(result.events))
            for listener in self.listeners:
                listener()
        return result

    async def append_batch(self, items: Sequence[BatchItem]) -> list[BatchOutcome]:
        """Independent appends in one transaction (group commit): one lock, one commit.

        Each item is all or nothing on its own and gets what ``append_many`` would have given
        it: its events, its first result for a known idempotency key, or the error (a stale
        expected version, a key reused with another request) instead of raising. Items are
        decided in order, so an item sees the versions the items before it appended.
        """
        now = self.clock()
        spans, traceparents = append_spans(
            [item.context.traceparent for item in items], recording=spans_recorded()
        )
        refused, ready, prepared = _prepare_items(items, now, traceparents)
        try:
            written = await self.database.write(
                lambda connection: self._append_batch(connection, ready, prepared)
            )
        except IntegrityError:
            # Only a clash the lock cannot prevent (a reused event id): one item at a time.
            written = [await self._append_alone(item) for item in ready]
        finally:
            for span in spans:
                span.end()
        outcomes = _in_item_order(len(items), refused, written)
        appended = sum(
            len(o.events) for o in outcomes if isinstance(o, AppendResult) and not o.replayed
        )
        if appended:
            appended_events.add(appended)
            for listener in self.listeners:
                listener()
        return outcomes

    async def _append_alone(self, item: BatchItem) -> BatchOutcome:
        try:
            return await self.append_many(item.appends, item.context)
        except (ConcurrencyError, IdempotencyConflict, UnloggableEventData) as error:
            return error

    def _append_batch(
        self,
        connection: sa.Connection,
        items: Sequence[BatchItem],
        prepared: Sequence[_Prepared],
    ) -> list[BatchOutcome]:
        if self.database.is_postgres:
            connection.execute(APPEND_LOCK)
        contexts = [item.context for item in items]
        streams = sorted({stream for p in prepared for stream in p.expected})
        if self.database.is_postgres:
            known, versions = _pg_keys_and_versions(connection, contexts, streams)
        else:
            known, versions = (
                _known_keys(connection, contexts),
                _current_versions(connection, streams),
            )
        batch = _Batch(known, versions)
        for index, (item, prepare) in enumerate(zip(items, prepared, strict=True)):
            batch.decide(index, item.context, prepare)
        if batch.rows and self.database.is_postgres:
            claims = batch.key_claims(self.clock())
            batch.inserted(_pg_insert_events_and_keys(connection, batch.rows, claims))
        elif batch.rows:
            batch.inserted(_insert_events(connection, batch.rows))
            keys = batch.key_rows(self.clock())
            if keys:
                connection.execute(sa.insert(idempotency_keys), keys)
        return batch.outcomes(connection)

    async def replay(self, context: AppendContext) -> AppendResult | None:
        """The stored result of an earlier request with the same idempotency key, if any."""
        if context.idempotency_key is None:
            return None
        return await self.database.read(lambda c: _replay_idempotent(c, context))

    def _append(
        self, connection: sa.Connection, prepared: _Prepared, context: AppendContext
    ) -> AppendResult:
        if self.database.is_postgres:
            connection.execute(APPEND_LOCK)
        replay = _replay_idempotent(connection, context)
        if replay is not None:
            return replay
        versions = {
            stream_id: _current_version(connection, stream_id) for stream_id in prepared.expected
        }
        for stream_id, expected in prepared.expected.items():
            if expected is not None and expected != versions[stream_id]:
                raise ConcurrencyError(
                    f"stream {stream_id} is at version {versions[stream_id]}, expected {expected}",
                    stream_id=stream_id,
                    actual_version=versions[stream_id],
                )
        if not prepared.documents:
            return AppendResult([])
        rows = prepared.rows(versions)
        positions = _insert_events(connection, rows)
        _remember_key(connection, context, positions, self.clock())
        return AppendResult(
            [
                EventEnvelope.from_body(row["body"], position)
                for row, position in zip(rows, positions, strict=True)
            ]
        )

    async def _after_integrity_error(
        self, error: IntegrityError, appends: Sequence[StreamAppend], context: AppendContext
    ) -> AppendResult:
        if context.idempotency_key is not None:
            replay = await self.database.read(lambda c: _replay_idempotent(c, context))
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
        rows = await self.database.read(lambda c: c.execute(query).all())
        return [EventEnvelope.from_body(row.body, row.position) for row in rows]

    async def read_all(
        self, *, after: int = 0, limit: int = 1000, ward: str | None = None
    ) -> list[EventEnvelope]:
        rows = await self.read_raw(after=after, limit=limit, ward=ward)
        return [EventEnvelope.from_body(body, position) for position, _ward, body in rows]

    async def read_raw(
        self, *, after: int = 0, limit: int = 1000, ward: str | None = None, short: bool = False
    ) -> list[tuple[int, str, str]]:
        """(position, ward, body) rows in position order: the relay's lean read.

        ``short``: few rows are expected (see ``Database.read``).
        """
        parameters: dict[str, int | str] = {"after": after, "limit": limit}
        query = _READ_RAW
        if ward is not None:
            query, parameters["ward"] = _READ_RAW_OF_WARD, ward
        rows = await self.database.read(lambda c: c.execute(query, parameters).all(), short=short)
        return [(int(p), str(w), str(b)) for p, w, b in rows]

    async def iterate_all(
        self, *, after: int = 0, batch: int = 1000, ward: str | None = None
    ) -> AsyncIterator[list[EventEnvelope]]:
        while page := await self.read_all(after=after, limit=batch, ward=ward):
            yield page
            after = page[-1].position

    async def max_position(self) -> int:
        query = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0))
        return int(await self.database.read(lambda c: c.execute(query).scalar_one()))

    async def load_cursor(self, name: str) -> int:
        query = sa.select(relay_cursors.c.position).where(relay_cursors.c.name == name)
        value = await self.database.read(lambda c: c.execute(query).scalar_one_or_none())
        return int(value or 0)

    async def save_cursor(self, name: str, position: int) -> None:
        insert = pg_insert if self.database.is_postgres else sqlite_insert
        statement = (
            insert(relay_cursors)
            .values(name=name, position=position)
            .on_conflict_do_update(
                index_elements=[relay_cursors.c.name], set_={"position": position}
            )
        )
        await self.database.write(lambda c: c.execute(statement))


def _read_raw_query(*conditions: sa.ColumnElement[bool]) -> sa.Select[Any]:
    """Built once: the relay runs it many times a second, and building a query costs more
    than finding it in the compiled cache."""
    return (
        sa.select(events.c.position, events.c.ward, events.c.body)
        .where(events.c.position > sa.bindparam("after"), *conditions)
        .order_by(events.c.position)
        .limit(sa.bindparam("limit", type_=sa.Integer))
    )


_READ_RAW = _read_raw_query()
_READ_RAW_OF_WARD = _read_raw_query(events.c.ward == sa.bindparam("ward"))


@dataclass
class _Prepared:
    expected: dict[str, int | None]
    documents: list[tuple[str, int, dict[str, Any]]]
    stamps: dict[str, Stamp]

    def rows(self, versions: dict[str, int]) -> list[dict[str, Any]]:
        rows = []
        for stream_id, offset, document in self.documents:
            document["version"] = versions[stream_id] + offset
            if (stamp := self.stamps.get(stream_id)) is not None:
                document["data"] = stamp(document["data"], document["version"])
            rows.append(
                {
                    "event_id": document["event_id"],
                    "event_type": document["event_type"],
                    "ward": document["ward"],
                    "stream_id": stream_id,
                    "version": document["version"],
                    "recorded_at": datetime.fromisoformat(document["recorded_at"]),
                    "body": json_text(document),
                }
            )
        return rows


def require_loggable(data: dict[str, Any]) -> None:
    """Refuse data the audit log could not encode (RFC 8785 has no NaN or infinity, and no
    integer beyond ±(2**53 − 1)): such an event would be stored and published, yet never
    logged. Plain data (the usual kind) is encodable unless it holds a lone surrogate, which
    the canonical encoder refuses too. What a stamp adds (a receipt number) is left unchecked.
    """
    try:
        canonical_json(data)
    except LeafEncodingError as error:
        raise UnloggableEventData(f"event data cannot be logged for audit: {error}") from error


_PG_INSERT_EVENTS = sa.text(
    "INSERT INTO events (event_id, event_type, ward, stream_id, version, recorded_at, body) "
    "SELECT r->>'event_id', r->>'event_type', r->>'ward', r->>'stream_id', "
    "(r->>'version')::integer, (r->>'recorded_at')::timestamptz, r->>'body' "
    # In the rows' order, so that positions follow it (an idempotency key names a range). As
    # jsonb, the rows are parsed once; each ->> of a json value would parse its row again.
    "FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS e(r, n) ORDER BY n "
    "RETURNING event_id, position"
)


def _insert_events(connection: sa.Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows of the events table; their positions, in the rows' order.

    On PostgreSQL the rows travel as one JSON text in a statement whose text never changes: a
    multi-row VALUES list is new SQL for every batch size, parsed again each time, and arrays
    per column cost the driver three times as much to send as one text.
    """
    if connection.dialect.name != "postgresql":
        statement = sa.insert(events).returning(events.c.position, sort_by_parameter_order=True)
        return [int(p) for p in connection.execute(statement, rows).scalars().all()]
    payload = _json_rows(rows, "recorded_at")
    positions = {
        str(e): int(p) for e, p in connection.execute(_PG_INSERT_EVENTS, {"rows": payload})
    }
    return [positions[row["event_id"]] for row in rows]


_PG_INSERT_EVENTS_AND_KEYS = sa.text(
    "WITH inserted AS (" + _PG_INSERT_EVENTS.text + "), remembered AS ("
    "INSERT INTO idempotency_keys "
    "(scope, key, fingerprint, first_position, last_position, created_at) "
    "SELECT k->>'scope', k->>'key', k->>'fingerprint', first_event.position, last_event.position, "
    "(k->>'created_at')::timestamptz "
    "FROM jsonb_array_elements(CAST(:keys AS jsonb)) AS k "
    "JOIN inserted AS first_event ON first_event.event_id = k->>'first_event_id' "
    "JOIN inserted AS last_event ON last_event.event_id = k->>'last_event_id'"
    ") SELECT event_id, position FROM inserted"
)


def _pg_insert_events_and_keys(
    connection: sa.Connection, rows: list[dict[str, Any]], claims: list[dict[str, Any]]
) -> list[int]:
    """A group commit's events and idempotency keys in one statement (one round trip): each key
    names its first and last event, whose positions PostgreSQL fills in."""
    payload = {"rows": _json_rows(rows, "recorded_at"), "keys": _json_rows(claims, "created_at")}
    positions = {str(e): int(p) for e, p in connection.execute(_PG_INSERT_EVENTS_AND_KEYS, payload)}
    return [positions[row["event_id"]] for row in rows]


def _json_rows(rows: list[dict[str, Any]], timestamp: str) -> str:
    """Rows as one JSON array, ``timestamp`` in ISO 8601 (PostgreSQL casts it back)."""
    if any(r[timestamp].tzinfo is None for r in rows):
        raise ValueError("naive datetimes are not stored")
    # Only texts and integers: orjson writes what json.dumps would, several times faster.
    return orjson.dumps([{**r, timestamp: r[timestamp].isoformat()} for r in rows]).decode()


def _prepare_items(
    items: Sequence[BatchItem], now: datetime, traceparents: Sequence[str | None]
) -> tuple[dict[int, UnloggableEventData], list[BatchItem], list[_Prepared]]:
    """The items refused before the transaction (by their index), and the rest prepared."""
    refused: dict[int, UnloggableEventData] = {}
    ready: list[BatchItem] = []
    prepared: list[_Prepared] = []
    for index, (item, traceparent) in enumerate(zip(items, traceparents, strict=True)):
        try:
            prepared.append(_prepare(item.appends, item.context, now, traceparent))
        except UnloggableEventData as error:
            refused[index] = error
            continue
        ready.append(item)
    return refused, ready, prepared


def _in_item_order(
    count: int, refused: dict[int, UnloggableEventData], written: Sequence[BatchOutcome]
) -> list[BatchOutcome]:
    rest = iter(written)
    return [refused[index] if index in refused else next(rest) for index in range(count)]


def _prepare(
    appends: Sequence[StreamAppend],
    context: AppendContext,
    now: datetime,
    traceparent: str | None,
) -> _Prepared:
    expected: dict[str, int | None] = {}
    documents: list[tuple[str, int, dict[str, Any]]] = []
    stamps = {a.stream_id: a.stamp for a in appends if a.stamp is not None}
    correlation_id = context.correlation_id or new_id()
    actor = context.actor.model_dump(mode="json")
    for append in appends:
        if append.stream_id in expected:
            raise ValueError(f"stream {append.stream_id} appears twice in one append")
        expected[append.stream_id] = append.expected_version
        for offset, new in enumerate(append.events, start=1):
            require_loggable(new.data)
            document = {
                "event_id": str(new.event_id),
                "event_type": new.event_type,
                "schema_version": new.schema_version,
                "ward": context.ward,
                "stream_id": append.stream_id,
                "version": offset,
                "occurred_at": (context.occurred_at or now).isoformat(),
                "recorded_at": now.isoformat(),
                "actor": actor,
                "correlation_id": correlation_id,
                "causation_id": context.causation_id,
                "traceparent": traceparent,
                "policy_version": context.policy_version,
                "data": new.data,
            }
            documents.append((append.stream_id, offset, document))
    return _Prepared(expected, documents, stamps)


def _current_version(connection: sa.Connection, stream_id: str) -> int:
    query = sa.select(sa.func.coalesce(sa.func.max(events.c.version), 0)).where(
        events.c.stream_id == stream_id
    )
    return int(connection.execute(query).scalar_one())


def _replay_idempotent(connection: sa.Connection, context: AppendContext) -> AppendResult | None:
    if context.idempotency_key is None:
        return None
    row = connection.execute(
        sa.select(idempotency_keys).where(
            idempotency_keys.c.scope == _scope(context),
            idempotency_keys.c.key == context.idempotency_key,
        )
    ).one_or_none()
    if row is None:
        return None
    if row.fingerprint != (context.fingerprint or ""):
        raise IdempotencyConflict(
            f"idempotency key {context.idempotency_key!r} was used for a different request"
        )
    query = (
        sa.select(events.c.position, events.c.body)
        .where(events.c.position.between(row.first_position, row.last_position))
        .order_by(events.c.position)
    )
    stored = [EventEnvelope.from_body(r.body, r.position) for r in connection.execute(query)]
    return AppendResult(stored, replayed=True)


def _remember_key(
    connection: sa.Connection, context: AppendContext, positions: list[int], now: datetime
) -> None:
    if context.idempotency_key is None:
        return
    connection.execute(
        sa.insert(idempotency_keys).values(
            scope=_scope(context),
            key=context.idempotency_key,
            fingerprint=context.fingerprint or "",
            first_position=positions[0],
            last_position=positions[-1],
            created_at=now,
        )
    )


def _scope(context: AppendContext) -> str:
    return f"{context.ward}:{context.idempotency_scope or 'default'}"


def _wanted_keys(contexts: Sequence[AppendContext]) -> list[tuple[str, str]]:
    wanted = {(_scope(c), c.idempotency_key) for c in contexts if c.idempotency_key is not None}
    return sorted(wanted)


def _known_keys_query(wanted: list[tuple[str, str]]) -> sa.Select[Any]:
    # By (scope, key), the primary key: a lookup by key alone would scan the whole table.
    key = sa.tuple_(idempotency_keys.c.scope, idempotency_keys.c.key)
    return sa.select(
        idempotency_keys.c.scope,
        idempotency_keys.c.key,
        idempotency_keys.c.fingerprint,
        idempotency_keys.c.first_position,
        idempotency_keys.c.last_position,
    ).where(key.in_(wanted))


def _known_keys(
    connection: sa.Connection, contexts: Sequence[AppendContext]
) -> dict[tuple[str, str], Any]:
    wanted = _wanted_keys(contexts)
    if not wanted:
        return {}
    return {(row.scope, row.key): row for row in connection.execute(_known_keys_query(wanted))}


class _KnownKey(NamedTuple):
    scope: str
    key: str
    fingerprint: str
    first_position: int
    last_position: int


_PG_KEYS_AND_VERSIONS = sa.text(
    # Each stream's version is found at the end of its index entries, one correlated max per
    # stream: ``max(version) ... IN ... GROUP BY`` would read every event of a ward's receipt
    # stream, which grows with every donation. Each key is looked up by (scope, key), the
    # primary key; LIMIT 1 keeps the lookup per key (a lookup by key alone, or a join the
    # planner may turn into a hash join, scans every key ever stored).
    "SELECT 'version' AS kind, wanted.stream_id AS a, NULL AS b, NULL AS c, "
    "(SELECT max(events.version) FROM events WHERE events.stream_id = wanted.stream_id) "
    "AS low, NULL::bigint AS high "
    "FROM json_array_elements_text(CAST(:streams AS json)) AS wanted(stream_id) "
    "UNION ALL "
    "SELECT 'key', found.scope, found.key, found.fingerprint, found.first_position, "
    "found.last_position "
    "FROM json_to_recordset(CAST(:keys AS json)) AS wanted_key(scope text, key text) "
    "CROSS JOIN LATERAL (SELECT scope, key, fingerprint, first_position, last_position "
    "FROM idempotency_keys WHERE idempotency_keys.scope = wanted_key.scope "
    "AND idempotency_keys.key = wanted_key.key LIMIT 1) AS found"
)


def _pg_keys_and_versions(
    connection: sa.Connection, contexts: Sequence[AppendContext], stream_ids: Sequence[str]
) -> tuple[dict[tuple[str, str], Any], dict[str, int]]:
    """The group's known idempotency keys and its streams' versions in one round trip, through
    a statement whose text never changes (PostgreSQL prepares it once per connection)."""
    wanted = [{"scope": scope, "key": key} for scope, key in _wanted_keys(contexts)]
    known: dict[tuple[str, str], Any] = {}
    current: dict[str, int] = {}
    if not stream_ids and not wanted:
        return known, current
    parameters = {"streams": json.dumps(list(stream_ids)), "keys": json.dumps(wanted)}
    for kind, a, b, c, low, high in connection.execute(_PG_KEYS_AND_VERSIONS, parameters):
        if kind == "version":
            current[str(a)] = int(low or 0)
        else:
            known[(a, b)] = _KnownKey(a, b, c, int(low), int(high))
    return known, current


def _current_versions(connection: sa.Connection, stream_ids: Sequence[str]) -> dict[str, int]:
    """On SQLite (in process): a query per stream costs little; each reads one index entry."""
    return {stream_id: _current_version(connection, stream_id) for stream_id in stream_ids}


class _Batch:
    """The items of one group commit, decided in order against the versions so far."""

    def __init__(self, known: dict[tuple[str, str], Any], versions: dict[str, int]) -> None:
        self.known = known
        self.versions = versions
        self.results: list[BatchOutcome | tuple[str, Any]] = []
        self.rows: list[dict[str, Any]] = []
        self.owners: list[tuple[int, int, AppendContext]] = []
        self.claimed: dict[tuple[str, str], tuple[int, str]] = {}
        self.positions: list[int] = []

    def decide(self, index: int, context: AppendContext, prepared: _Prepared) -> None:
        key = (_scope(context), context.idempotency_key) if context.idempotency_key else None
        fingerprint = context.fingerprint or ""
        if key is not None and (key in self.known or key in self.claimed):
            earlier = self.known.get(key)
            first = earlier.fingerprint if earlier is not None else self.claimed[key][1]
            if first != fingerprint:
                reused = (
                    f"idempotency key {context.idempotency_key!r} was used for a different request"
                )
                self.results.append(IdempotencyConflict(reused))
            elif earlier is not None:
                self.results.append(("stored", earlier))
            else:
                self.results.append(("same-as", self.claimed[key][0]))
            return
        for stream_id, expected in prepared.expected.items():
            if expected is not None and expected != self.versions[stream_id]:
                actual = self.versions[stream_id]
                self.results.append(
                    ConcurrencyError(
                        f"stream {stream_id} is at version {actual}, expected {expected}",
                        stream_id=stream_id,
                        actual_version=actual,
                    )
                )
                return
        rows = prepared.rows(self.versions) if prepared.documents else []
        for row in rows:
            self.versions[row["stream_id"]] = max(self.versions[row["stream_id"]], row["version"])
        if key is not None and rows:
            self.claimed[key] = (index, fingerprint)
        self.owners.append((index, len(rows), context))
        self.results.append(("new", len(self.rows)))
        self.rows.extend(rows)

    def inserted(self, positions: list[int]) -> None:
        self.positions = positions

    def key_claims(self, now: datetime) -> list[dict[str, Any]]:
        """The idempotency keys to remember, each with the ids of its first and last event."""
        claims = []
        for index, count, context in self.owners:
            if context.idempotency_key is None or count == 0:
                continue
            start = self._start(index)
            claims.append(
                {
                    "scope": _scope(context),
                    "key": context.idempotency_key,
                    "fingerprint": context.fingerprint or "",
                    "first_event_id": self.rows[start]["event_id"],
                    "last_event_id": self.rows[start + count - 1]["event_id"],
                    "created_at": now,
                }
            )
        return claims

    def key_rows(self, now: datetime) -> list[dict[str, Any]]:
        """Rows of the idempotency keys table, once the events have their positions."""
        position_of = {
            row["event_id"]: position
            for row, position in zip(self.rows, self.positions, strict=True)
        }
        return [
            {
                "scope": claim["scope"],
                "key": claim["key"],
                "fingerprint": claim["fingerprint"],
                "first_position": position_of[claim["first_event_id"]],
                "last_position": position_of[claim["last_event_id"]],
                "created_at": claim["created_at"],
            }
            for claim in self.key_claims(now)
        ]

    def _start(self, index: int) -> int:
        result = self.results[index]
        assert isinstance(result, tuple) and result[0] == "new"
        return int(result[1])

    def outcomes(self, connection: sa.Connection) -> list[BatchOutcome]:
        counts = {index: count for index, count, _context in self.owners}
        final: list[BatchOutcome] = []
        for index, result in enumerate(self.results):
            if not isinstance(result, tuple):
                final.append(result)
            elif result[0] == "new":
                start, count = int(result[1]), counts[index]
                final.append(
                    AppendResult(
                        [
                            EventEnvelope.from_body(row["body"], position)
                            for row, position in zip(
                                self.rows[start : start + count],
                                self.positions[start : start + count],
                                strict=True,
                            )
                        ]
                    )
                )
            elif result[0] == "same-as":
                first = final[int(result[1])]
                assert isinstance(first, AppendResult)
                final.append(AppendResult(first.events, replayed=True))
            else:
                final.append(_stored_result(connection, result[1]))
        return final


def _stored_result(connection: sa.Connection, key_row: Any) -> AppendResult:
    query = (
        sa.select(events.c.position, events.c.body)
        .where(events.c.position.between(key_row.first_position, key_row.last_position))
        .order_by(events.c.position)
    )
    stored = [EventEnvelope.from_body(r.body, r.position) for r in connection.execute(query)]
    return AppendResult(stored, replayed=True)
