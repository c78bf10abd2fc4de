"""A LogStore in SQL tables (SQLAlchemy Core), one set of tables shared by every ward.

Every function works on a synchronous ``sqlalchemy.Connection`` and never commits: the caller
owns the transaction (``with engine.begin() as connection: ...``). Async callers run the same
code through ``await async_connection.run_sync(lambda connection: ...)``.

Like the tiles of a tiled log, only subtrees of STORED_FROM_LEVEL and above are stored; a lower
subtree is recomputed from the stored leaf hashes of its aligned block of ``2**STORED_FROM_LEVEL``
leaves, read with one range query. That stores a sixteenth of the node rows per append and costs a
proof at most fifteen extra hash computations.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from functools import lru_cache
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.sql import Select

from shared.audit.compact import Subtree
from shared.audit.merkle import Position, root_of
from shared.audit.store import LogEntry, StoredCheckpoint

audit_metadata = MetaData()

leaves = Table(
    "audit_leaves",
    audit_metadata,
    Column("ward", String(64), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    Column("event_id", String(64), nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("ward", "leaf_index"),
    UniqueConstraint("ward", "event_id"),
)

subtrees = Table(
    "audit_subtrees",
    audit_metadata,
    Column("ward", String(64), nullable=False),
    Column("level", Integer, nullable=False),
    Column("node_index", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("ward", "level", "node_index"),
)

checkpoints = Table(
    "audit_checkpoints",
    audit_metadata,
    Column("ward", String(64), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    PrimaryKeyConstraint("ward", "tree_size"),
)

STORED_FROM_LEVEL = 4
_BLOCK_LEVEL = STORED_FROM_LEVEL
# Keeps every IN list below the bound-parameter limits of SQLite and PostgreSQL.
_QUERY_BATCH = 150
_ID_BATCH = 900
_STREAM_BATCH = 1000
_DRIVER_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}

T = TypeVar("T")


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def create_audit_tables(connection: Connection) -> None:
    audit_metadata.create_all(connection)


class SqlLogStore:
    """The log of one ward in the audit tables, through one connection."""

    def __init__(self, connection: Connection, ward: str) -> None:
        self._connection = connection
        self._ward = ward

    @property
    def ward(self) -> str:
        return self._ward

    @property
    def lowest_stored_level(self) -> int:
        return STORED_FROM_LEVEL

    def tree_size(self) -> int:
        highest = self._connection.scalar(_TREE_SIZE, {"ward": self._ward})
        return 0 if highest is None else int(highest) + 1

    def known_event_ids(self, event_ids: Collection[str]) -> set[str]:
        marker = _DRIVER_MARKERS.get(self._connection.dialect.paramstyle)
        known: set[str] = set()
        for batch in _batches(event_ids, _ID_BATCH):
            if marker is None:
                params = {"ward": self._ward, "ids": batch}
                known.update(self._connection.scalars(_KNOWN_IDS, params))
            else:
                # Rendering an expanding IN list costs SQLAlchemy work per id on every call.
                sql = _known_ids_sql(marker, len(batch))
                rows = self._connection.exec_driver_sql(sql, (self._ward, *batch))
                known.update(event_id for (event_id,) in rows)
        return known

    def add_entries(self, entries: Sequence[LogEntry], new_subtrees: Sequence[Subtree]) -> None:
        ward = self._ward
        if entries:
            rows = [(ward, e.index, e.event_id, e.leaf, e.leaf_hash) for e in entries]
            _insert_many(self._connection, leaves, rows)
        stored = [
            (ward, s.level, s.index, s.hash) for s in new_subtrees if s.level >= STORED_FROM_LEVEL
        ]
        if stored:
            _insert_many(self._connection, subtrees, stored)

    def subtree_hashes(self, positions: Collection[Position]) -> dict[Position, bytes]:
        wanted = set(positions)
        low = [position for position in wanted if position[0] < STORED_FROM_LEVEL]
        upper = [position for position in wanted if position[0] >= STORED_FROM_LEVEL]
        found = self._low_hashes(low) if low else {}
        for upper_batch in _batches(upper, _QUERY_BATCH):
            found.update(self._upper_hashes(upper_batch))
        missing = wanted - found.keys()
        if missing:
            raise KeyError(f"ward {self._ward} has no subtree hashes at {sorted(missing)[:5]}")
        return found

    def entries(self, start: int, stop: int) -> Iterator[LogEntry]:
        position = start
        while position < stop:
            query = (
                select(leaves.c.leaf_index, leaves.c.event_id, leaves.c.leaf, leaves.c.leaf_hash)
                .where(
                    leaves.c.ward == self._ward,
                    leaves.c.leaf_index >= position,
                    leaves.c.leaf_index < stop,
                )
                .order_by(leaves.c.leaf_index)
                .limit(_STREAM_BATCH)
            )
            rows = self._connection.execute(query).all()
            if not rows:
                return
            for index, event_id, leaf, leaf_hash in rows:
                yield LogEntry(int(index), event_id, bytes(leaf), bytes(leaf_hash))
            position = int(rows[-1][0]) + 1

    def leaves(self, start: int, stop: int) -> Iterator[bytes]:
        """The leaf bytes of ``entries(start, stop)``, without the other columns."""
        for first in range(start, stop, _STREAM_BATCH):
            last = min(stop, first + _STREAM_BATCH)
            params = {"ward": self._ward, "first": first, "last": last}
            for leaf in self._connection.scalars(_LEAF_RANGE, params).all():
                yield bytes(leaf)

    def entry_by_event_id(self, event_id: str) -> LogEntry | None:
        query = select(leaves.c.leaf_index, leaves.c.leaf, leaves.c.leaf_hash).where(
            leaves.c.ward == self._ward, leaves.c.event_id == event_id
        )
        row = self._connection.execute(query).first()
        if row is None:
            return None
        return LogEntry(int(row[0]), event_id, bytes(row[1]), bytes(row[2]))

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        row = {
            "ward": self._ward,
            "tree_size": checkpoint.tree_size,
            "root": checkpoint.root,
            "note": checkpoint.note,
        }
        self._connection.execute(insert(checkpoints), [row])

    def checkpoints(self) -> list[StoredCheckpoint]:
        return self._select_checkpoints(newest_first=False, limit=None)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        latest = self._select_checkpoints(newest_first=True, limit=1)
        return latest[0] if latest else None

    def _select_checkpoints(
        self, *, newest_first: bool, limit: int | None
    ) -> list[StoredCheckpoint]:
        size = checkpoints.c.tree_size
        query = (
            select(size, checkpoints.c.root, checkpoints.c.note)
            .where(checkpoints.c.ward == self._ward)
            .order_by(size.desc() if newest_first else size.asc())
            .limit(limit)
        )
        return [
            StoredCheckpoint(int(tree_size), bytes(root), note)
            for tree_size, root, note in self._connection.execute(query)
        ]

    def _low_hashes(self, positions: Sequence[Position]) -> dict[Position, bytes]:
        """Subtrees below the stored levels, from the leaf hashes of their blocks."""
        blocks = sorted({(index << level) >> _BLOCK_LEVEL for level, index in positions})
        leaf_hashes: dict[int, bytes] = {}
        for block_batch in _batches(blocks, _QUERY_BATCH):
            leaf_hashes.update(self._block_leaf_hashes(block_batch))
        found: dict[Position, bytes] = {}
        for level, index in positions:
            first = index << level
            hashes = [
                leaf_hashes[i] for i in range(first, first + (1 << level)) if i in leaf_hashes
            ]
            if len(hashes) == 1 << level:
                found[level, index] = root_of(hashes)
        return found

    def _block_leaf_hashes(self, blocks: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        params: dict[str, Any] = {"ward": self._ward}
        for number, block in enumerate(blocks):
            params[f"lo{number}"] = block << _BLOCK_LEVEL
            params[f"hi{number}"] = (block + 1) << _BLOCK_LEVEL
        for index, leaf_hash in self._connection.execute(_block_query(len(blocks)), params):
            yield int(index), bytes(leaf_hash)

    def _upper_hashes(self, positions: Sequence[Position]) -> list[tuple[Position, bytes]]:
        params: dict[str, Any] = {"ward": self._ward}
        for number, (level, index) in enumerate(positions):
            params[f"l{number}"], params[f"i{number}"] = level, index
        return [
            ((int(level), int(index)), bytes(node))
            for level, index, node in self._connection.execute(_upper_query(len(positions)), params)
        ]


# Built once, so that each execution only looks up its compiled form.
_TREE_SIZE = select(func.max(leaves.c.leaf_index)).where(leaves.c.ward == bindparam("ward"))
_KNOWN_IDS = select(leaves.c.event_id).where(
    leaves.c.ward == bindparam("ward"), leaves.c.event_id.in_(bindparam("ids", expanding=True))
)

_LEAF_RANGE = (
    select(leaves.c.leaf)
    .where(
        leaves.c.ward == bindparam("ward"),
        leaves.c.leaf_index >= bindparam("first"),
        leaves.c.leaf_index < bindparam("last"),
    )
    .order_by(leaves.c.leaf_index)
)


@lru_cache(maxsize=64)
def _known_ids_sql(marker: str, count: int) -> str:
    return (
        f"SELECT event_id FROM {leaves.name} WHERE ward = {marker} "
        f"AND event_id IN ({', '.join([marker] * count)})"
    )


@lru_cache(maxsize=_QUERY_BATCH)
def _block_query(count: int) -> Select[Any]:
    """Leaf hashes of ``count`` index ranges; built once per count so the compiled SQL is reused."""
    ranges = [
        and_(
            leaves.c.ward == bindparam("ward"),
            leaves.c.leaf_index >= bindparam(f"lo{number}"),
            leaves.c.leaf_index < bindparam(f"hi{number}"),
        )
        for number in range(count)
    ]
    return select(leaves.c.leaf_index, leaves.c.leaf_hash).where(or_(*ranges))


@lru_cache(maxsize=_QUERY_BATCH)
def _upper_query(count: int) -> Select[Any]:
    # One full primary key per OR term: SQLite then looks each up instead of scanning.
    exact_keys = [
        and_(
            subtrees.c.ward == bindparam("ward"),
            subtrees.c.level == bindparam(f"l{number}"),
            subtrees.c.node_index == bindparam(f"i{number}"),
        )
        for number in range(count)
    ]
    return select(subtrees.c.level, subtrees.c.node_index, subtrees.c.hash).where(or_(*exact_keys))


def _insert_many(connection: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given in column order, through the driver's executemany when its parameter
    style is positional: no per-row work in SQLAlchemy."""
    marker = _DRIVER_MARKERS.get(connection.dialect.paramstyle)
    names = [column.name for column in table.columns]
    if marker is None:
        connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    values = ", ".join([marker] * len(names))
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({values})"
    connection.exec_driver_sql(sql, rows)
