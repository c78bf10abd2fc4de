"""Reads of the registry's read model: what the directory and the policy routes answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.registry.japanese import normalise_for_search, search_terms
from services.registry.projections import activities_table, actors_table, wards_table
from shared.db import Database
from shared.projections.queries import Page, Row
from shared.projections.queries import fetch_page as _page
from shared.projections.queries import fetch_rows as _rows


@dataclass(frozen=True)
class ActorSearch:
    ward: str
    text: str | None = None
    field: str | None = None
    kind: str | None = None
    area: str | None = None
    status: str | None = None
    corporate_number: str | None = None
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class ActivitySearch:
    ward: str
    text: str | None = None
    field: str | None = None
    kind: str | None = None
    actor_id: str | None = None
    starts_from: date | None = None
    limit: int = 50
    offset: int = 0


async def list_wards(database: Database) -> list[Row]:
    query = sa.select(wards_table).order_by(wards_table.c.ward)
    return await _rows(database, query)


async def ward_policy(database: Database, ward: str) -> Row | None:
    query = sa.select(wards_table).where(wards_table.c.ward == ward)
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def find_actor(database: Database, ward: str, actor_id: str) -> Row | None:
    query = sa.select(actors_table).where(
        actors_table.c.ward == ward, actors_table.c.actor_id == actor_id
    )
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def search_actors(database: Database, search: ActorSearch, *, staff: bool) -> Page:
    """Staff search everything of their ward, personal names included; others the listed."""
    table = actors_table
    conditions: list[Any] = [table.c.ward == search.ward]
    if not staff:
        conditions.append(table.c.listed.is_(True))
    elif search.status:
        conditions.append(table.c.status == search.status)
    text_column = table.c.staff_search if staff else table.c.public_search
    conditions += _text_conditions(text_column, search.text)
    if search.field:
        conditions.append(table.c.fields_key.contains(f"|{search.field}|", autoescape=True))
    if search.kind:
        conditions.append(table.c.kind == search.kind)
    if search.area:
        area = normalise_for_search(search.area)
        conditions.append(table.c.area_key.contains(area, autoescape=True))
    if search.corporate_number:
        conditions.append(table.c.corporate_number == search.corporate_number)
    order = (table.c.sort_key, table.c.actor_id)
    return await _page(database, table, conditions, order, search.limit, search.offset)


async def find_activity(
    database: Database, ward: str, activity_id: str, *, staff: bool
) -> Row | None:
    search = ActivitySearch(ward, limit=1)
    conditions = _activity_conditions(search, staff=staff)
    conditions.append(activities_table.c.activity_id == activity_id)
    query = sa.select(activities_table).where(*conditions)
    rows = await _rows(database, query)
    return rows[0] if rows else None


async def search_activities(database: Database, search: ActivitySearch, *, staff: bool) -> Page:
    """Activities of the ward; the public sees those of listed (verified, active) actors."""
    table = activities_table
    conditions = _activity_conditions(search, staff=staff)
    conditions += _text_conditions(table.c.search_text, search.text)
    if search.field:
        conditions.append(table.c.fields_key.contains(f"|{search.field}|", autoescape=True))
    if search.kind:
        conditions.append(table.c.kind == search.kind)
    if search.actor_id:
        conditions.append(table.c.actor_id == search.actor_id)
    if search.starts_from:
        conditions.append(
            sa.func.coalesce(table.c.ends_on, table.c.starts_on) >= search.starts_from
        )
    order = (table.c.starts_on, table.c.activity_id)
    return await _page(database, table, conditions, order, search.limit, search.offset)


def _activity_conditions(search: ActivitySearch, *, staff: bool) -> list[Any]:
    conditions: list[Any] = [activities_table.c.ward == search.ward]
    if not staff:
        listed = sa.select(actors_table.c.actor_id).where(
            actors_table.c.ward == search.ward, actors_table.c.listed.is_(True)
        )
        conditions.append(activities_table.c.actor_id.in_(listed))
    return conditions


def _text_conditions(column: Any, text: str | None) -> list[Any]:
    return [column.contains(term, autoescape=True) for term in search_terms(text or "")]
