"""The fund's read-model tables (its own database: SQLite file or PostgreSQL schema)."""

from __future__ import annotations

import sqlalchemy as sa

from shared.eventstore.schema import UtcDateTime

metadata = sa.MetaData()
Yen = sa.BigInteger

wards_table = sa.Table(
    "fund_wards",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("name_ja", sa.String(200), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("pack_hash", sa.String(64), nullable=False),
    sa.Column("fund_name_ja", sa.String(200), nullable=False),
    sa.Column("fund_name_en", sa.String(200), nullable=False),
    sa.Column("designation_kinds", sa.JSON, nullable=False),
    sa.Column("specificity_order", sa.JSON, nullable=False),
    sa.Column("allocation_rule", sa.String(64), nullable=False),
    sa.Column("min_donation_yen", Yen, nullable=False),
    sa.Column("max_donation_yen", Yen, nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
)

targets_table = sa.Table(
    "fund_targets",
    metadata,
    sa.Column("kind", sa.String(10), primary_key=True),  # actor | project
    sa.Column("target_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("name", sa.String(300)),
    sa.Column("individual", sa.Boolean, nullable=False),
    sa.Column("lead_actor_id", sa.String(64)),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("source_position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

donations_table = sa.Table(
    "fund_donations",
    metadata,
    sa.Column("donation_id", sa.String(36), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False),
    sa.Column("receipt_fiscal_year", sa.Integer, nullable=False),
    sa.Column("receipt_number", sa.Integer, nullable=False),
    sa.Column("receipt_label", sa.String(80), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("amount_yen", Yen, nullable=False),
    sa.Column("designation", sa.String(80), nullable=False),
    sa.Column("designation_kind", sa.String(10), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("donor_kind", sa.String(10), nullable=False),
    sa.Column("publish_name", sa.Boolean, nullable=False),
    # Derived from personal data: the published name, or 匿名.
    sa.Column("public_name", sa.String(200), nullable=False),
    sa.Column("note", sa.Text),
    # Personal data of the donor: shown only to the ward's finance staff and auditors.
    sa.Column("personal", sa.JSON, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("policy_version", sa.Integer),
    sa.Column("recorded_at", UtcDateTime, nullable=False),
    # Also serves every read of a ward's donations (no read orders them by position).
    sa.Index("ix_fund_donations_receipt", "ward", "receipt_fiscal_year", "receipt_number"),
)

_HAS_GRANT = sa.text("grant_id IS NOT NULL")

ACCOUNT_COLUMNS = ("fund", "available", "held", "committed", "paid", "refunded")

lots_table = sa.Table(
    "fund_lots",
    metadata,
    sa.Column("donation_id", sa.String(36), primary_key=True),
    sa.Column("designation", sa.String(80), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("designation_kind", sa.String(10), nullable=False),
    sa.Column("receipt_fiscal_year", sa.Integer, nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    *(sa.Column(name, Yen, nullable=False) for name in ACCOUNT_COLUMNS),
)

grants_table = sa.Table(
    "fund_grants",
    metadata,
    sa.Column("grant_id", sa.String(36), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("recipient_kind", sa.String(10), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False),
    sa.Column("paid_actor_id", sa.String(64), nullable=False),
    sa.Column("recipient_name", sa.String(300)),
    sa.Column("purpose_field", sa.String(64), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("awarded_on", sa.Date, nullable=False),
    sa.Column("allocation_rule", sa.String(64), nullable=False),
    sa.Column("amount_yen", Yen, nullable=False),
    sa.Column("committed", Yen, nullable=False),
    sa.Column("paid", Yen, nullable=False),
    sa.Column("returned", Yen, nullable=False),
    sa.Column("given_up", Yen, nullable=False),
    sa.Column("tranches", sa.Integer, nullable=False),
    sa.Column("returns", sa.Integer, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("policy_version", sa.Integer),
)

GRANT_LINE_COLUMNS = ("committed", "paid", "returned", "given_up")

grant_lines_table = sa.Table(
    "fund_grant_lines",
    metadata,
    sa.Column("grant_id", sa.String(36), primary_key=True),
    sa.Column("donation_id", sa.String(36), primary_key=True),
    sa.Column("designation", sa.String(80), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False),
    sa.Column("line_no", sa.Integer, nullable=False),
    sa.Column("allocated", Yen, nullable=False),
    *(sa.Column(name, Yen, nullable=False) for name in GRANT_LINE_COLUMNS),
    sa.Index("ix_fund_grant_lines_donation", "donation_id"),
)

journal_table = sa.Table(
    "fund_journal",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("line_no", sa.Integer, primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("entry_date", sa.Date, nullable=False),
    sa.Column("event_type", sa.String(80), nullable=False),
    sa.Column("account", sa.String(20), nullable=False),
    sa.Column("designation", sa.String(80), nullable=False),
    sa.Column("donation_id", sa.String(36), nullable=False),
    sa.Column("grant_id", sa.String(36)),
    sa.Column("debit_yen", Yen, nullable=False),
    sa.Column("credit_yen", Yen, nullable=False),
    sa.Index("ix_fund_journal_ward_position", "ward", "position"),
    sa.Index("ix_fund_journal_donation", "donation_id"),
    # Only lines of a grant's money are looked up by grant; ``grant_id = ?`` implies the
    # condition, so both SQLite and PostgreSQL read the partial index.
    sa.Index(
        "ix_fund_journal_grant",
        "grant_id",
        sqlite_where=_HAS_GRANT,
        postgresql_where=_HAS_GRANT,
    ),
)

holds_table = sa.Table(
    "fund_holds",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("designation", sa.String(80), primary_key=True),
    sa.Column("target_kind", sa.String(10), nullable=False),
    sa.Column("target_id", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(40), nullable=False),
    sa.Column("first_held_at", UtcDateTime, nullable=False),
    sa.Column("held_yen", Yen, nullable=False),
    sa.Column("released_yen", Yen, nullable=False),
)

releases_table = sa.Table(
    "fund_releases",
    metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("designation", sa.String(80), nullable=False),
    sa.Column("to_designation", sa.String(80), nullable=False),
    sa.Column("amount_yen", Yen, nullable=False),
    sa.Column("decision", sa.JSON, nullable=False),
    sa.Column("decided_on", sa.Date, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
)
