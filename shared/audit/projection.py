"""The audit worker: every consumed event appended to its ward's log, a checkpoint per batch.

It runs as the audit service's projection, so the projection runner applies a batch, its inbox
rows and the new leaves and checkpoints in one transaction: an event delivered twice is skipped
by the inbox (and by the log's own event-id check), and a failed batch leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from shared.audit.checkpoint import issue_checkpoint, origin_for_ward
from shared.audit.log import AuditLog
from shared.audit.note import Signer, Verifier
from shared.audit.sql import SqlLogStore, audit_metadata
from shared.events.envelope import EventEnvelope

PROJECTION_NAME = "audit"


class AuditProjection:
    name = PROJECTION_NAME
    metadata = audit_metadata

    def __init__(
        self,
        signers: Sequence[Signer],
        origin_prefix: str,
        *,
        trusted: Sequence[Verifier] | None = None,
    ) -> None:
        self.signers = list(signers)
        self.origin_prefix = origin_prefix
        self.trusted = list(trusted) if trusted is not None else None
        """The keys a stored checkpoint must verify with before the log is signed further
        (the signers' own when None)."""

    def handles(self, event_type: str) -> bool:
        return True

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        for ward, documents in sorted(documents_by_ward(batch).items()):
            origin = origin_for_ward(ward, self.origin_prefix)
            lock_ward(connection, ward)
            log = AuditLog(SqlLogStore(connection, ward))
            log.append(documents)
            issue_checkpoint(log, self.signers, origin=origin, trusted=self.trusted)


def documents_by_ward(batch: Sequence[EventEnvelope]) -> dict[str, list[dict[str, Any]]]:
    """Each event's plain-JSON envelope, grouped by ward, in batch order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for envelope in batch:
        grouped.setdefault(envelope.ward, []).append(envelope.to_document())
    return grouped


def lock_ward(connection: sa.Connection, ward: str) -> None:
    """Serialise appenders of one ward on PostgreSQL (SQLite has a single writer anyway); wards
    are locked in sorted order so that two instances never wait on each other in a cycle."""
    if connection.dialect.name == "postgresql":
        key = sa.func.hashtextextended(f"kyodo-audit:{ward}", 0)
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
