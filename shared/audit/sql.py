"""A LogStore in SQL tables (SQLAlchemy Core), one set of tables shared by every ward.

Every function works on a synchronous ``sqlalchemy.Connection`` and never commits: the caller
owns the transaction (``with engine.begin() as connection: ...``). Async callers run the same
code through ``await async_connection.run_sync(lambda connection: ...)``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from itertools import islice
from typing import TypeVar

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
    func,
    insert,
    or_,
    select,
)

from shared.audit.compact import Subtree
from shared.audit.merkle import Position
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

# Keeps every IN list below the bound-parameter limits of SQLite and PostgreSQL.
_QUERY_BATCH = 150
_STREAM_BATCH = 1000

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

    def tree_size(self) -> int:
        highest = self._connection.scalar(
            select(func.max(leaves.c.leaf_index)).where(leaves.c.ward == self._ward)
        )
        return 0 if highest is None else int(highest) + 1

    def known_event_ids(self, event_ids: Collection[str]) -> set[str]:
        known: set[str] = set()
        for batch in _batches(event_ids, _QUERY_BATCH):
            query = select(leaves.c.event_id).where(
                leaves.c.ward == self._ward, leaves.c.event_id.in_(batch)
            )
            known.update(self._connection.scalars(query))
        return known

    def add_entries(self, entries: Sequence[LogEntry], new_subtrees: Sequence[Subtree]) -> None:
        if entries:
            self._connection.execute(insert(leaves), [self._leaf_row(e) for e in entries])
        if new_subtrees:
            self._connection.execute(insert(subtrees), [self._subtree_row(s) for s in new_subtrees])

    def subtree_hashes(self, positions: Collection[Position]) -> dict[Position, bytes]:
        found: dict[Position, bytes] = {}
        wanted = set(positions)
        leaf_indexes = [index for level, index in wanted if level == 0]
        upper = [position for position in wanted if position[0] > 0]
        for batch in _batches(leaf_indexes, _QUERY_BATCH):
            found.update(((0, index), leaf_hash) for index, leaf_hash in self._leaf_hashes(batch))
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

    def _leaf_hashes(self, indexes: Sequence[int]) -> list[tuple[int, bytes]]:
        query = select(leaves.c.leaf_index, leaves.c.leaf_hash).where(
            leaves.c.ward == self._ward, leaves.c.leaf_index.in_(indexes)
        )
        return [
            (int(index), bytes(leaf_hash)) for index, leaf_hash in self._connection.execute(query)
        ]

    def _upper_hashes(self, positions: Sequence[Position]) -> list[tuple[Position, bytes]]:
        # One full primary key per OR term: SQLite then looks each up instead of scanning.
        exact_keys = [
            and_(
                subtrees.c.ward == self._ward,
                subtrees.c.level == level,
                subtrees.c.node_index == index,
            )
            for level, index in positions
        ]
        query = select(subtrees.c.level, subtrees.c.node_index, subtrees.c.hash).where(
            or_(*exact_keys)
        )
        return [
            ((int(level), int(index)), bytes(node))
            for level, index, node in self._connection.execute(query)
        ]

    def _leaf_row(self, entry: LogEntry) -> dict[str, object]:
        return {
            "ward": self._ward,
            "leaf_index": entry.index,
            "event_id": entry.event_id,
            "leaf": entry.leaf,
            "leaf_hash": entry.leaf_hash,
        }

    def _subtree_row(self, subtree: Subtree) -> dict[str, object]:
        return {
            "ward": self._ward,
            "level": subtree.level,
            "node_index": subtree.index,
            "hash": subtree.hash,
        }
