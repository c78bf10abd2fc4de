"""A read model that records every application, for exactly-once tests.

``applied`` has no unique constraint on purpose: were the inbox to let an event through twice,
the duplicate would show up as a second row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from shared.events.envelope import EventEnvelope
from shared.projections.writes import insert_rows, upsert

probe_metadata = sa.MetaData()

applied = sa.Table(
    "probe_applied",
    probe_metadata,
    sa.Column("row_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)

counts = sa.Table(
    "probe_counts",
    probe_metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("events", sa.Integer, nullable=False),
)

POISON = "test.Poison"


class PoisonError(RuntimeError):
    pass


class ProbeProjection:
    name = "probe"
    metadata = probe_metadata

    def __init__(self, *, poison_fails: bool = True) -> None:
        self.poison_fails = poison_fails

    def handles(self, event_type: str) -> bool:
        return event_type.startswith("test.")

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        if self.poison_fails and any(e.event_type == POISON for e in batch):
            raise PoisonError("this event cannot be applied")
        insert_rows(
            connection,
            applied,
            [{"event_id": str(e.event_id), "position": e.position} for e in batch],
        )
        per_ward: dict[str, int] = {}
        for e in batch:
            per_ward[e.ward] = per_ward.get(e.ward, 0) + 1
        upsert(
            connection,
            counts,
            [{"ward": w, "events": n} for w, n in per_ward.items()],
            keys=["ward"],
            increment=["events"],
        )
