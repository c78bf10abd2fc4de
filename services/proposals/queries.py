"""Reads of the read model: what handlers learn from the registry, and what GET routes answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.proposals.policy import ProposalsPolicy, policy_from_document
from services.proposals.projections import (
    actors_table,
    calls_table,
    projects_table,
    proposals_table,
    wards_table,
)
from shared.db import Database
from shared.errors import NotFound
from shared.projections.queries import Page, Row
from shared.projections.queries import fetch_page as _page
from shared.projections.queries import fetch_rows as _rows


@dataclass(frozen=True)
class Visibility:
    """Who reads: the ward's staff and reviewers see every submitted proposal; an actor's
    members see their own (drafts included); everyone sees decided ones."""

    insider: bool = False
    actor_id: str | None = None


@dataclass(frozen=True)
class ProposalSearch:
    ward: str
    call_id: str | None = None
    status: str | None = None
    form: str | None = None
    field: str | None = None
    actor_id: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class ProjectSearch:
    ward: str
    form: str | None = None
    domain: str | None = None
    field: str | None = None
    actor_id: str | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


# --- what the registry told us ------------------------------------------------------------


async def ward_policy(database: Database, ward: str) -> ProposalsPolicy:
    """The ward's current policy, as the registry last published it."""
    query = sa.select(wards_table).where(wards_table.c.ward == ward)
    rows = await _rows(database, query)
    if not rows:
        raise NotFound(f"ward {ward!r} is not onboarded", ward=ward)
    row = rows[0]
    return policy_from_document(row["pack"], row["pack_hash"], row["policy_version"])


async def actor_standings(
    database: Database, ward: str, actor_ids: Sequence[str]
) -> dict[str, str]:
    """Status of each of ``actor_ids`` registered in ``ward``; unknown ids are left out."""
    query = sa.select(actors_table.c.actor_id, actors_table.c.status).where(
        actors_table.c.ward == ward, actors_table.c.actor_id.in_(sorted(set(actor_ids)))
    )
    rows = await _rows(database, query)
    return {row["actor_id"]: row["status"] for row in rows}


# --- calls ----------------------------------------------------------------------------------


async def find_call(database: Database, ward: str, call_id: str) -> Row | None:
    query = sa.select(calls_table).where(
        calls_table.c.ward == ward, calls_table.c.call_id == call_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def list_calls(database: Database, ward: str, kind: str | None) -> list[Row]:
    conditions: list[Any] = [calls_table.c.ward == ward]
    if kind:
        conditions.append(calls_table.c.kind == kind)
    query = (
        sa.select(calls_table)
        .where(*conditions)
        .order_by(calls_table.c.opens_on.desc(), calls_table.c.call_id)
    )
    return await _rows(database, query)


# --- proposals ------------------------------------------------------------------------------


def proposal_visible(row: Row, visibility: Visibility) -> bool:
    if row["public"]:
        return True
    member = visibility.actor_id is not None and f"|{visibility.actor_id}|" in row["actors_key"]
    return member or (visibility.insider and row["status"] != "draft")


async def find_proposal(database: Database, ward: str, proposal_id: str) -> Row | None:
    query = sa.select(proposals_table).where(
        proposals_table.c.ward == ward, proposals_table.c.proposal_id == proposal_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def search_proposals(
    database: Database, search: ProposalSearch, visibility: Visibility
) -> Page:
    table = proposals_table
    conditions: list[Any] = [table.c.ward == search.ward, _visible(visibility)]
    if search.call_id:
        conditions.append(table.c.call_id == search.call_id)
    if search.status:
        conditions.append(table.c.status == search.status)
    if search.form:
        conditions.append(table.c.form == search.form)
    if search.field:
        conditions.append(table.c.fields_key.contains(f"|{search.field}|", autoescape=True))
    if search.actor_id:
        conditions.append(table.c.actors_key.contains(f"|{search.actor_id}|", autoescape=True))
    order = (table.c.submitted_at.desc().nulls_last(), table.c.proposal_id)
    return await _page(database, table, conditions, order, search.limit, search.offset)


async def ranked_proposals(database: Database, ward: str, call_id: str) -> list[Row]:
    """Proposals of a call that reviewers score (eligible, in any round)."""
    table = proposals_table
    query = sa.select(table).where(
        table.c.ward == ward, table.c.call_id == call_id, table.c.eligible.is_(True)
    )
    return await _rows(database, query)


def _visible(visibility: Visibility) -> Any:
    table = proposals_table
    allowed: list[Any] = [table.c.public.is_(True)]
    if visibility.insider:
        allowed.append(table.c.status != "draft")
    if visibility.actor_id is not None:
        member = f"|{visibility.actor_id}|"
        allowed.append(table.c.actors_key.contains(member, autoescape=True))
    return sa.or_(*allowed)


# --- projects -------------------------------------------------------------------------------


async def find_project(
    database: Database, ward: str, *, project_id: str | None = None, proposal_id: str | None = None
) -> Row | None:
    table = projects_table
    conditions: list[Any] = [table.c.ward == ward]
    if project_id is not None:
        conditions.append(table.c.project_id == project_id)
    if proposal_id is not None:
        conditions.append(table.c.proposal_id == proposal_id)
    rows = await _rows(database, sa.select(table).where(*conditions))
    return rows[0] if rows else None


async def search_projects(database: Database, search: ProjectSearch) -> Page:
    """Started (and ended) projects: public."""
    table = projects_table
    conditions: list[Any] = [table.c.ward == search.ward, table.c.started_at.is_not(None)]
    if search.form:
        conditions.append(table.c.form == search.form)
    if search.domain:
        conditions.append(table.c.domain == search.domain)
    if search.status:
        conditions.append(table.c.status == search.status)
    if search.field:
        conditions.append(table.c.fields_key.contains(f"|{search.field}|", autoescape=True))
    if search.actor_id:
        conditions.append(table.c.actors_key.contains(f"|{search.actor_id}|", autoescape=True))
    order = (table.c.started_at.desc(), table.c.project_id)
    return await _page(database, table, conditions, order, search.limit, search.offset)
