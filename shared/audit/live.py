"""The live read models of a service, read from its own database to compare with a replay."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from shared.audit.digest import TableDigest, read_model_tables, table_digests
from shared.audit.replay import ServiceReplay, read_positions
from shared.db import create_sync_engine, is_sqlite, sync_url
from shared.service import ServiceSpec
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class LiveReadModels:
    digests: dict[str, TableDigest | None]
    positions: dict[str, int]


@dataclass(frozen=True, slots=True)
class TableComparison:
    service: str
    table: str
    replayed: TableDigest | None
    live: TableDigest | None

    @property
    def matches(self) -> bool:
        return self.replayed is not None and self.replayed == self.live


def live_read_models(settings: Settings, spec: ServiceSpec, ward: str) -> LiveReadModels | None:
    """Digests and positions of a service's live read models; None when it has no database."""
    url = settings.database_url_for(spec.name)
    if is_sqlite(sync_url(url)) and not Path(sa.make_url(url).database or "").is_file():
        return None
    engine = create_sync_engine(url, schema=settings.schema_for(spec.name), writer=False)
    try:
        with engine.connect() as connection:
            tables = read_model_tables(spec.name, spec.projections)
            digests = table_digests(connection, tables, ward)
            positions = read_positions(connection, spec.name, ward)
    finally:
        engine.dispose()
    return LiveReadModels(digests, positions)


def compare(replayed: ServiceReplay, live: LiveReadModels | None) -> list[TableComparison]:
    return [
        TableComparison(replayed.name, table, digest, live.digests.get(table) if live else None)
        for table, digest in replayed.digests.items()
    ]
