"""Reads of the fund's read model: what the routes answer and what the deciders look up."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.fund.designations import Designation, DesignationKind
from services.fund.policy import FundPolicy, policy_from_row
from services.fund.tables import (
    ACCOUNT_COLUMNS,
    donations_table,
    grant_lines_table,
    grants_table,
    holds_table,
    journal_table,
    lots_table,
    releases_table,
    targets_table,
    wards_table,
)
from services.fund.targets import Target, TargetStatus
from shared.db import Database
from shared.errors import NotFound
from shared.projections.queries import Page, Row
from shared.projections.queries import fetch_page as _page
from shared.projections.queries import rows_of as _rows

_POLICY_COLUMNS = [c for c in wards_table.c if c.name not in ("pack_hash", "name_ja")]


def _policy(connection: sa.Connection, ward: str) -> FundPolicy:
    query = sa.select(*_POLICY_COLUMNS).where(wards_table.c.ward == ward)
    row = connection.execute(query).mappings().one_or_none()
    if row is None:
        raise NotFound(f"ward {ward!r} is not onboarded", ward=ward)
    return policy_from_row(dict(row))


def _target(connection: sa.Connection, designation: Designation) -> Target | None:
    if not designation.names_a_target:
        return None
    query = sa.select(targets_table).where(
        targets_table.c.kind == designation.kind.value,
        targets_table.c.target_id == designation.target,
    )
    row = connection.execute(query).mappings().one_or_none()
    return None if row is None else target_from_row(dict(row))


def target_from_row(row: Mapping[str, Any]) -> Target:
    return Target(
        kind=DesignationKind(row["kind"]),
        target_id=row["target_id"],
        ward=row["ward"],
        status=TargetStatus(row["status"]),
        name=row["name"],
        individual=bool(row["individual"]),
        lead_actor_id=row["lead_actor_id"],
    )


async def fund_policy(database: Database, ward: str) -> FundPolicy:
    return await database.read(lambda c: _policy(c, ward))


async def target(database: Database, designation: Designation) -> Target | None:
    return await database.read(lambda c: _target(c, designation))


async def policy_and_target(
    database: Database, ward: str, designation: Designation
) -> tuple[FundPolicy, Target | None]:
    """The ward's fund rules and the designation's target, in one read."""
    return await database.read(lambda c: (_policy(c, ward), _target(c, designation)))


async def gone_designations(database: Database, ward: str) -> list[Designation]:
    query = sa.select(targets_table.c.kind, targets_table.c.target_id).where(
        targets_table.c.ward == ward, targets_table.c.status == TargetStatus.GONE.value
    )
    rows = await database.read(lambda c: c.execute(query).all())
    return sorted(
        (Designation(DesignationKind(kind), target_id) for kind, target_id in rows),
        key=lambda d: d.key,
    )


async def targets(database: Database, ward: str) -> list[Target]:
    query = sa.select(targets_table).where(targets_table.c.ward == ward)
    rows = await database.read(lambda c: c.execute(query).mappings().all())
    return [target_from_row(dict(row)) for row in rows]


async def ward_names(database: Database) -> list[str]:
    query = sa.select(wards_table.c.ward).order_by(wards_table.c.ward)
    return list(await database.read(lambda c: c.execute(query).scalars().all()))


# --- donations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DonationSearch:
    ward: str
    fiscal_year: int | None = None
    designation: str | None = None
    designation_kind: str | None = None
    limit: int = 50
    offset: int = 0


async def search_donations(database: Database, search: DonationSearch) -> Page:
    table = donations_table
    conditions: list[Any] = [table.c.ward == search.ward]
    if search.fiscal_year is not None:
        conditions.append(table.c.receipt_fiscal_year == search.fiscal_year)
    if search.designation is not None:
        conditions.append(table.c.designation == search.designation)
    if search.designation_kind is not None:
        conditions.append(table.c.designation_kind == search.designation_kind)
    order = (table.c.receipt_fiscal_year, table.c.receipt_number)
    return await _page(database, table, conditions, order, search.limit, search.offset)


async def donation(database: Database, ward: str, donation_id: str) -> Row:
    """The donation with its lots; NotFound if it is not this ward's."""

    def read(connection: sa.Connection) -> Row | None:
        query = sa.select(donations_table).where(
            donations_table.c.ward == ward, donations_table.c.donation_id == donation_id
        )
        row = connection.execute(query).mappings().one_or_none()
        if row is None:
            return None
        lots = sa.select(lots_table).where(lots_table.c.donation_id == donation_id)
        return {**row, "lots": _rows(connection, lots.order_by(lots_table.c.designation))}

    found = await database.read(read)
    if found is None:
        raise NotFound(f"no donation {donation_id} in ward {ward!r}", ward=ward)
    return found


async def donation_statement(database: Database, ward: str, donation_id: str) -> Row:
    """Where every yen of a donation went: its lots, the grants it funded, its journal lines."""
    found = await donation(database, ward, donation_id)

    def read(connection: sa.Connection) -> Row:
        lines = (
            sa.select(
                grant_lines_table,
                grants_table.c.title,
                grants_table.c.recipient_kind,
                grants_table.c.recipient_id,
                grants_table.c.recipient_name,
                grants_table.c.purpose_field,
                grants_table.c.fiscal_year,
            )
            .join(grants_table, grants_table.c.grant_id == grant_lines_table.c.grant_id)
            .where(grant_lines_table.c.donation_id == donation_id)
            .order_by(grants_table.c.position, grant_lines_table.c.line_no)
        )
        journal = (
            sa.select(journal_table)
            .where(journal_table.c.donation_id == donation_id)
            .order_by(journal_table.c.position, journal_table.c.line_no)
        )
        return {"grants": _rows(connection, lines), "journal": _rows(connection, journal)}

    return {**found, **await database.read(read)}


# --- grants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantSearch:
    ward: str
    fiscal_year: int | None = None
    recipient_id: str | None = None
    limit: int = 50
    offset: int = 0


async def search_grants(database: Database, search: GrantSearch) -> Page:
    table = grants_table
    conditions: list[Any] = [table.c.ward == search.ward]
    if search.fiscal_year is not None:
        conditions.append(table.c.fiscal_year == search.fiscal_year)
    if search.recipient_id is not None:
        conditions.append(table.c.recipient_id == search.recipient_id)
    order = (table.c.position,)
    return await _page(database, table, conditions, order, search.limit, search.offset)


async def grant(database: Database, ward: str, grant_id: str) -> Row:
    def read(connection: sa.Connection) -> Row | None:
        query = sa.select(grants_table).where(
            grants_table.c.ward == ward, grants_table.c.grant_id == grant_id
        )
        row = connection.execute(query).mappings().one_or_none()
        if row is None:
            return None
        return {**row, "lines": _rows(connection, _lineage_query(grant_id))}

    found = await database.read(read)
    if found is None:
        raise NotFound(f"no grant {grant_id} in ward {ward!r}", ward=ward)
    return found


def _lineage_query(grant_id: str) -> Any:
    return (
        sa.select(
            grant_lines_table,
            donations_table.c.receipt_label,
            donations_table.c.received_on,
            donations_table.c.public_name,
            donations_table.c.donor_kind,
            donations_table.c.personal,
        )
        .join(donations_table, donations_table.c.donation_id == grant_lines_table.c.donation_id)
        .where(grant_lines_table.c.grant_id == grant_id)
        .order_by(grant_lines_table.c.line_no)
    )


async def grant_movements(database: Database, grant_id: str) -> list[Row]:
    query = (
        sa.select(journal_table)
        .where(journal_table.c.grant_id == grant_id)
        .order_by(journal_table.c.position, journal_table.c.line_no)
    )
    return await database.read(lambda c: _rows(c, query))


# --- reports ------------------------------------------------------------------------------


async def pool_balances(database: Database, ward: str, fiscal_year: int | None) -> list[Row]:
    """Balances by pool (designation) and the fiscal year the money was received in."""
    table = lots_table
    sums = [sa.func.sum(table.c[name]).label(name) for name in ACCOUNT_COLUMNS]
    query = sa.select(table.c.designation, table.c.receipt_fiscal_year, *sums).where(
        table.c.ward == ward
    )
    if fiscal_year is not None:
        query = query.where(table.c.receipt_fiscal_year == fiscal_year)
    query = query.group_by(table.c.designation, table.c.receipt_fiscal_year).order_by(
        table.c.designation, table.c.receipt_fiscal_year
    )
    return await database.read(lambda c: _rows(c, query))


async def grant_totals(database: Database, ward: str, fiscal_year: int | None) -> list[Row]:
    table = grants_table
    columns = ("amount_yen", "committed", "paid", "returned", "given_up")
    sums = [sa.func.sum(table.c[name]).label(name) for name in columns]
    query = sa.select(table.c.fiscal_year, sa.func.count().label("grants"), *sums).where(
        table.c.ward == ward
    )
    if fiscal_year is not None:
        query = query.where(table.c.fiscal_year == fiscal_year)
    query = query.group_by(table.c.fiscal_year).order_by(table.c.fiscal_year)
    return await database.read(lambda c: _rows(c, query))


async def journal(
    database: Database, ward: str, limit: int, offset: int, after_position: int = 0
) -> Page:
    """Journal entries (one per money event) with their lines, in posting order."""
    table = journal_table

    def read(connection: sa.Connection) -> Page:
        entries = (
            sa.select(table.c.event_id, sa.func.min(table.c.position).label("position"))
            .where(table.c.ward == ward, table.c.position > after_position)
            .group_by(table.c.event_id)
        ).subquery()
        page = sa.select(entries).order_by(entries.c.position).limit(limit).offset(offset)
        ids = [row.event_id for row in connection.execute(page)]
        total = connection.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one()
        lines = (
            sa.select(table)
            .where(table.c.event_id.in_(ids))
            .order_by(table.c.position, table.c.line_no)
        )
        return Page(_rows(connection, lines), int(total))

    return await database.read(read)


async def holds(database: Database, ward: str) -> list[Row]:
    def read(connection: sa.Connection) -> list[Row]:
        held = sa.select(holds_table).where(holds_table.c.ward == ward)
        rows = _rows(connection, held.order_by(holds_table.c.designation))
        lots = sa.select(lots_table).where(lots_table.c.ward == ward, lots_table.c.held > 0)
        by_designation: dict[str, list[Row]] = {}
        for lot in _rows(connection, lots.order_by(lots_table.c.donation_id)):
            by_designation.setdefault(lot["designation"], []).append(lot)
        releases = sa.select(releases_table).where(releases_table.c.ward == ward)
        by_release: dict[str, list[Row]] = {}
        for release in _rows(connection, releases.order_by(releases_table.c.position)):
            by_release.setdefault(release["designation"], []).append(release)
        return [
            {
                **row,
                "lots": by_designation.get(row["designation"], []),
                "releases": by_release.get(row["designation"], []),
            }
            for row in rows
        ]

    return await database.read(read)
