"""Reads of the evaluation's read model: what the routes, the handlers and the sweep need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.evaluation.inertia import CallFact, GrantFact, ProjectFact, WardFacts
from services.evaluation.policy import EvaluationPolicy, policy_from_document
from services.evaluation.portfolio import PortfolioGrant, PortfolioProject
from services.evaluation.projections import (
    calls_table,
    flags_table,
    grants_table,
    projects_table,
    rounds_table,
    wards_table,
)
from services.evaluation.rounds import CONCLUDED, ProjectSnapshot
from shared.db import Database
from shared.policy import fiscal_year_bounds
from shared.projections.inbox import projection_positions
from shared.projections.queries import Page, Row
from shared.projections.queries import fetch_rows as _rows


@dataclass(frozen=True)
class RoundSearch:
    ward: str
    project_id: str | None = None
    status: str | None = None
    fiscal_year: int | None = None
    limit: int = 50
    offset: int = 0


# --- wards and projects -------------------------------------------------------------------


async def ward_policy(database: Database, ward: str) -> EvaluationPolicy | None:
    query = sa.select(wards_table).where(wards_table.c.ward == ward)
    rows = await _rows(database, query)
    return _policy(rows[0]) if rows else None


async def ward_policies(database: Database) -> dict[str, EvaluationPolicy]:
    rows = await _rows(database, sa.select(wards_table).order_by(wards_table.c.ward))
    return {row["ward"]: _policy(row) for row in rows}


def _policy(row: Row) -> EvaluationPolicy:
    return policy_from_document(row["pack"], row["pack_hash"], row["policy_version"])


async def find_project(database: Database, ward: str, project_id: str) -> Row | None:
    query = sa.select(projects_table).where(
        projects_table.c.ward == ward, projects_table.c.project_id == project_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def all_projects(database: Database) -> list[Row]:
    query = sa.select(projects_table).order_by(projects_table.c.ward, projects_table.c.project_id)
    return await _rows(database, query)


def snapshot_of(row: Row) -> ProjectSnapshot:
    return ProjectSnapshot(
        project_id=row["project_id"],
        title=row["title"],
        form=row["form"],
        domain=row["domain"],
        lead_actor_id=row["lead_actor_id"],
        partner_actor_ids=tuple(row["partner_actor_ids"]),
        department=row["department"],
        fields=tuple(row["fields"]),
        term_start=row["term_start"],
        term_end=row["term_end"],
        citizen_proposed=row["citizen_proposed"],
    )


# --- rounds -------------------------------------------------------------------------------


async def round_ids(database: Database) -> set[str]:
    query = sa.select(rounds_table.c.round_id)
    return set(await database.read(lambda c: c.execute(query).scalars().all()))


async def find_round(database: Database, ward: str, round_id: str) -> Row | None:
    query = sa.select(rounds_table).where(
        rounds_table.c.ward == ward, rounds_table.c.round_id == round_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def search_rounds(
    database: Database, search: RoundSearch, *, everything: bool, actor_id: str | None
) -> Page:
    """Concluded rounds are public; staff see all of their ward's; an actor also its own."""
    table = rounds_table
    conditions: list[Any] = [table.c.ward == search.ward]
    if not everything:
        visible = table.c.status == CONCLUDED
        if actor_id is not None:
            member = table.c.actors_key.contains(f"|{actor_id}|", autoescape=True)
            visible = sa.or_(visible, member)
        conditions.append(visible)
    if search.project_id:
        conditions.append(table.c.project_id == search.project_id)
    if search.status:
        conditions.append(table.c.status == search.status)
    if search.fiscal_year is not None:
        conditions.append(table.c.fiscal_year == search.fiscal_year)
    where = sa.and_(*conditions)
    order = (table.c.opened_at.desc(), table.c.round_id)
    items_query = sa.select(table).where(where).order_by(*order)
    items_query = items_query.limit(search.limit).offset(search.offset)
    count_query = sa.select(sa.func.count()).select_from(table).where(where)

    def read(connection: sa.Connection) -> Page:
        items = [dict(row) for row in connection.execute(items_query).mappings()]
        return Page(items, int(connection.execute(count_query).scalar_one()))

    return await database.read(read)


# --- inertia ------------------------------------------------------------------------------


async def ward_facts(database: Database, ward: str) -> WardFacts:
    def read(connection: sa.Connection) -> WardFacts:
        projects = connection.execute(
            sa.select(projects_table).where(projects_table.c.ward == ward)
        ).mappings()
        calls = connection.execute(sa.select(calls_table).where(calls_table.c.ward == ward))
        grants = connection.execute(sa.select(grants_table).where(grants_table.c.ward == ward))
        return WardFacts(
            ward=ward,
            projects=[_project_fact(row) for row in projects],
            calls=[CallFact(row.call_id, row.opens_on) for row in calls],
            grants=[_grant_fact(row) for row in grants],
        )

    return await database.read(read)


def _project_fact(row: Any) -> ProjectFact:
    return ProjectFact(
        project_id=row["project_id"],
        lead_actor_id=row["lead_actor_id"],
        partner_actor_ids=tuple(row["partner_actor_ids"]),
        department=row["department"],
        call_id=row["call_id"],
        term_start=row["term_start"],
        term_end=row["term_end"],
        ended_on=row["ended_on"],
    )


def _grant_fact(row: Any) -> GrantFact:
    return GrantFact(
        grant_id=row.grant_id,
        recipient_kind=row.recipient_kind,
        recipient_id=row.recipient_id,
        paid_actor_id=row.paid_actor_id,
        purpose=row.purpose,
        fiscal_year=row.fiscal_year,
    )


async def flag_ids(database: Database, ward: str) -> set[str]:
    query = sa.select(flags_table.c.flag_id).where(flags_table.c.ward == ward)
    return set(await database.read(lambda c: c.execute(query).scalars().all()))


async def search_flags(database: Database, ward: str, status: str | None) -> list[Row]:
    conditions: list[Any] = [flags_table.c.ward == ward]
    if status:
        conditions.append(flags_table.c.status == status)
    query = (
        sa.select(flags_table)
        .where(*conditions)
        .order_by(flags_table.c.flagged_at.desc(), flags_table.c.flag_id)
    )
    return await _rows(database, query)


async def find_flag(database: Database, ward: str, flag_id: str) -> Row | None:
    query = sa.select(flags_table).where(
        flags_table.c.ward == ward, flags_table.c.flag_id == flag_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


# --- portfolio ----------------------------------------------------------------------------


async def portfolio_inputs(
    database: Database, ward: str, year: int
) -> tuple[list[PortfolioProject], list[PortfolioGrant]]:
    """The projects under way in the fiscal year, and the grants awarded for it."""
    first, last = fiscal_year_bounds(year)
    p = projects_table
    under_way = sa.select(p).where(
        p.c.ward == ward,
        p.c.term_start <= last,
        p.c.term_end >= first,
        sa.or_(p.c.ended_on.is_(None), p.c.ended_on >= first),
    )
    g = grants_table
    granted = sa.select(g).where(g.c.ward == ward, g.c.fiscal_year == year)

    def read(connection: sa.Connection) -> tuple[list[PortfolioProject], list[PortfolioGrant]]:
        projects = [
            PortfolioProject(r.project_id, r.form, r.domain, r.citizen_proposed)
            for r in connection.execute(under_way.order_by(p.c.project_id))
        ]
        grants = [
            PortfolioGrant(r.grant_id, r.purpose, int(r.amount_yen), int(r.returned_yen))
            for r in connection.execute(granted.order_by(g.c.grant_id))
        ]
        return projects, grants

    return await database.read(read)


# --- the sweep's change detector ----------------------------------------------------------


async def applied_positions(database: Database, projection: str) -> tuple[tuple[Any, ...], ...]:
    """Where the read model stands in each source stream: it moves whenever something arrives."""
    t = projection_positions
    query = (
        sa.select(t.c.source, t.c.ward, t.c.position)
        .where(t.c.projection == projection)
        .order_by(t.c.source, t.c.ward)
    )
    rows = await database.read(lambda c: c.execute(query).all())
    return tuple(tuple(row) for row in rows)
