"""What the audit HTTP API reads, as synchronous functions over one connection (one snapshot)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from shared.audit.errors import AuditError
from shared.audit.log import AuditLog
from shared.audit.sql import SqlLogStore
from shared.audit.store import LogEntry, StoredCheckpoint

MAX_PAGE = 1000


class NoCheckpoint(AuditError):
    """The ward's log has no signed checkpoint yet."""


class BadRange(AuditError):
    """Sizes or indexes outside what the latest checkpoint covers."""


class UnknownEvent(AuditError):
    """No entry of the log holds this event id."""


@dataclass(frozen=True, slots=True)
class EntryPage:
    checkpoint: StoredCheckpoint
    start: int
    end: int
    entries: list[LogEntry]


@dataclass(frozen=True, slots=True)
class InclusionProof:
    entry: LogEntry
    tree_size: int
    hashes: list[bytes]


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    hashes: list[bytes]


def latest_checkpoint(connection: sa.Connection, ward: str) -> StoredCheckpoint:
    checkpoint = SqlLogStore(connection, ward).latest_checkpoint()
    if checkpoint is None:
        raise NoCheckpoint(f"ward {ward!r} has no signed checkpoint yet")
    return checkpoint


def entry_page(connection: sa.Connection, ward: str, start: int, end: int | None) -> EntryPage:
    """Entries ``[start, end)``, cut at the latest checkpoint; at most MAX_PAGE of them."""
    checkpoint = latest_checkpoint(connection, ward)
    stop = min(start + MAX_PAGE if end is None else end, checkpoint.tree_size)
    if end is not None and not start < end <= start + MAX_PAGE:
        raise BadRange(f"end must be above start and at most start + {MAX_PAGE}")
    if start > checkpoint.tree_size:
        raise BadRange(f"start {start} is beyond the signed tree size {checkpoint.tree_size}")
    entries = list(SqlLogStore(connection, ward).entries(start, stop))
    return EntryPage(checkpoint, start, max(start, stop), entries)


def inclusion_by_event_id(
    connection: sa.Connection, ward: str, event_id: str, size: int | None
) -> InclusionProof:
    entry = SqlLogStore(connection, ward).entry_by_event_id(event_id)
    if entry is None:
        raise UnknownEvent(f"event {event_id} is not in the audit log of ward {ward!r}")
    return inclusion_by_index(connection, ward, entry.index, size, entry=entry)


def inclusion_by_index(
    connection: sa.Connection,
    ward: str,
    index: int,
    size: int | None,
    *,
    entry: LogEntry | None = None,
) -> InclusionProof:
    tree_size = _signed_size(connection, ward, size)
    if not 0 <= index < tree_size:
        raise BadRange(f"leaf index {index} is outside a tree of size {tree_size}")
    store = SqlLogStore(connection, ward)
    found = entry or next(store.entries(index, index + 1))
    hashes = AuditLog(store).inclusion_proof(index, tree_size)
    return InclusionProof(found, tree_size, hashes)


def consistency(
    connection: sa.Connection, ward: str, first: int, second: int | None
) -> ConsistencyProof:
    tree_size = _signed_size(connection, ward, second)
    if not 0 < first <= tree_size:
        raise BadRange(f"first must be in 1..{tree_size}, the second size")
    hashes = AuditLog(SqlLogStore(connection, ward)).consistency_proof(first, tree_size)
    return ConsistencyProof(first, tree_size, hashes)


def _signed_size(connection: sa.Connection, ward: str, size: int | None) -> int:
    signed = latest_checkpoint(connection, ward).tree_size
    if size is None:
        return signed
    if not 0 < size <= signed:
        raise BadRange(f"tree size {size} is outside 1..{signed}, the latest signed size")
    return size
