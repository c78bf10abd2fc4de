"""Where an auditor reads a ward's log from: the audit service's database, or an export."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from shared.audit.checkpoint import origin_for_ward
from shared.audit.errors import AuditError, ExportFormatError, ReplayError
from shared.audit.export import (
    Manifest,
    export_log,
    iter_leaves,
    read_checkpoint_notes,
    read_manifest,
)
from shared.audit.keys import trusted_verifiers
from shared.audit.note import Verifier
from shared.audit.replay import SignedLog, verified_checkpoint
from shared.audit.sql import SqlLogStore
from shared.db import create_sync_engine, is_sqlite, sync_url
from shared.settings import Settings

AUDIT_SERVICE = "audit"


class LogNotFound(AuditError):
    """There is no audit database, or the ward has no signed checkpoint in it."""


def audit_schema(settings: Settings) -> str | None:
    return settings.schema_for(AUDIT_SERVICE)


def audit_engine(settings: Settings) -> sa.Engine:
    """A read-only engine on the audit service's database; LogNotFound when there is none."""
    url = settings.database_url_for(AUDIT_SERVICE)
    if is_sqlite(sync_url(url)):
        path = Path(sa.make_url(url).database or "")
        if not path.is_file():
            raise LogNotFound(f"no audit database at {path}")
    return create_sync_engine(url, schema=audit_schema(settings), writer=False)


def snapshot(connection: sa.Connection) -> sa.Connection:
    """One consistent view for every query of a long read (SQLite reads are snapshots anyway)."""
    if connection.dialect.name == "postgresql":
        return connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


@dataclass(frozen=True, slots=True)
class DatabaseLeaves:
    """A ward's first ``size`` leaves in an audit database, read through an engine of its own
    (picklable, so that another process can read them)."""

    url: str
    schema: str | None
    ward: str
    size: int

    def __call__(self) -> Iterator[bytes]:
        engine = create_sync_engine(self.url, schema=self.schema, writer=False)
        try:
            with engine.connect() as connection:
                yield from SqlLogStore(connection, self.ward).leaves(0, self.size)
        finally:
            engine.dispose()


@dataclass(frozen=True, slots=True)
class ExportLeaves:
    """The leaves of an export directory (picklable)."""

    directory: Path

    def __call__(self) -> Iterator[bytes]:
        return iter_leaves(self.directory)


def log_from_database(
    engine: sa.Engine,
    ward: str,
    verifiers: Sequence[Verifier],
    origin_prefix: str,
    *,
    schema: str | None = None,
) -> SignedLog:
    """The ward's log in the database of ``engine``, whose tables are in ``schema`` (PostgreSQL)."""
    with engine.connect() as connection:
        latest = SqlLogStore(connection, ward).latest_checkpoint()
    if latest is None:
        raise LogNotFound(f"ward {ward!r} has no signed checkpoint in the audit database")
    checkpoint = verified_checkpoint(latest.note, verifiers, origin_for_ward(ward, origin_prefix))

    url = engine.url.render_as_string(hide_password=False)
    leaves = DatabaseLeaves(url, schema, ward, checkpoint.tree_size)
    return SignedLog(ward, checkpoint, leaves, leaves)


def log_from_export(directory: Path, verifiers: Sequence[Verifier]) -> SignedLog:
    """The export's leaves and its latest checkpoint (the one that covers the most entries)."""
    try:
        manifest = read_manifest(directory)
        notes = read_checkpoint_notes(directory)
    except ExportFormatError as error:
        raise ReplayError(str(error)) from error
    if not notes:
        raise ReplayError(f"the export in {directory} has no checkpoint")
    heads = [verified_checkpoint(note, verifiers, manifest.origin) for _name, note in notes]
    latest = max(heads, key=lambda head: head.tree_size)
    leaves = ExportLeaves(directory)
    return SignedLog(manifest.ward, latest, leaves, leaves)


def export_ward(settings: Settings, ward: str, directory: Path) -> Manifest:
    """Export a ward's log from the audit database, from one snapshot, up to its latest
    checkpoint, with every verifier key this deployment trusts."""
    engine = audit_engine(settings)
    try:
        with engine.connect() as connection:
            store = SqlLogStore(snapshot(connection), ward)
            if store.latest_checkpoint() is None:
                raise LogNotFound(f"ward {ward!r} has no signed checkpoint in the audit database")
            origin = origin_for_ward(ward, settings.audit_origin_prefix)
            return export_log(
                store, directory, origin=origin, verifiers=trusted_verifiers(settings)
            )
    finally:
        engine.dispose()
