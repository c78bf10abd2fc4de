"""Several read models of one service, fed by one consumer group."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from shared.events.envelope import EventEnvelope
from shared.projections.runner import Projection


class CompositeProjection:
    def __init__(self, name: str, projections: Sequence[Projection]) -> None:
        self.name = name
        self.projections = list(projections)
        self.metadata = sa.MetaData()
        for projection in self.projections:
            for table in projection.metadata.tables.values():
                if table.name not in self.metadata.tables:
                    table.to_metadata(self.metadata)

    def handles(self, event_type: str) -> bool:
        return any(p.handles(event_type) for p in self.projections)

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        for projection in self.projections:
            relevant = [e for e in batch if projection.handles(e.event_type)]
            if relevant:
                projection.apply(connection, relevant)
