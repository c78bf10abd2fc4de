"""Inbox: the event ids a projection has applied, written in the same transaction as the effect."""

from __future__ import annotations

import sqlalchemy as sa

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
