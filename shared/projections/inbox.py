"""Inbox: the event ids a projection has applied, written in the same transaction as the effect."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from shared.projections.writes import insert_new

inbox_metadata = sa.MetaData()

inbox = sa.Table(
    "inbox",
    inbox_metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("event_id", sa.String(36), primary_key=True),
)

projection_positions = sa.Table(
    "projection_positions",
    inbox_metadata,
    sa.Column("projection", sa.String(100), primary_key=True),
    sa.Column("source", sa.String(40), primary_key=True),
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
)

# The ids travel as one comma-joined text (event ids are UUIDs) rather than an array parameter,
# whose elements the driver would quote one by one; only the ids of repeats come back.
_RECORD_NEW_POSTGRES = sa.text(
    """
    WITH new AS (
        INSERT INTO inbox (projection, event_id)
        SELECT :projection, unnest(string_to_array(:ids, ','))
        ON CONFLICT DO NOTHING
        RETURNING event_id
    )
    SELECT count(*), CASE WHEN count(*) < :total THEN array_agg(event_id) END FROM new
    """
)


def record_new(connection: sa.Connection, projection: str, event_ids: Sequence[str]) -> set[str]:
    """Insert the inbox rows of ``event_ids`` (distinct); returns the ids not there before."""
    ordered = sorted(event_ids)  # one key order for every writer: no deadlock between them
    if connection.dialect.name != "postgresql":
        rows = [{"projection": projection, "event_id": i} for i in ordered]
        return insert_new(
            connection, inbox, rows, keys=["projection", "event_id"], returning=inbox.c.event_id
        )
    parameters = {"projection": projection, "ids": ",".join(ordered), "total": len(ordered)}
    count, inserted = connection.execute(_RECORD_NEW_POSTGRES, parameters).one()
    return set(ordered) if count == len(ordered) else set(inserted or ())
