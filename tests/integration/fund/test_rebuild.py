"""The money read model rebuilt from the fund's events alone equals the live one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.fund.projections import projection
from services.fund.tables import (
    donations_table,
    grant_lines_table,
    grants_table,
    journal_table,
    lots_table,
)
from shared.db import Database
from shared.projections.runner import ProjectionRunner, rebuild
from tests.integration.fund.conftest import World
from tests.integration.fund.scenarios import actor, field, general, grant_body, verified_actor

pytestmark = pytest.mark.redis

MONEY_TABLES = (donations_table, lots_table, grants_table, grant_lines_table, journal_table)


async def test_the_money_read_model_rebuilt_from_events_equals_the_live_one(
    any_world: World, tmp_path: Path
) -> None:
    fund = any_world.fund
    group = await verified_actor(any_world, "ota")
    finance = fund.auth("ota", "finance")
    await fund.donate("ota", 30_000, field("environment"))
    gift = await fund.donate("ota", 20_000, actor(group))
    await fund.donate("ota", 10_000, general())
    await fund.donate("nerima", 10_000, general())
    grant = await fund.post_json(
        "/v1/wards/ota/grants", grant_body(actor(group), "environment", 35_000), finance
    )
    today = date.today().isoformat()
    base = f"/v1/wards/ota/grants/{grant['grant_id']}"
    await fund.post_json(f"{base}/disbursements", {"amount_yen": 25_000, "paid_on": today}, finance)
    await fund.post_json(
        f"{base}/returns", {"amount_yen": 5_000, "returned_on": today, "reason": "精算"}, finance
    )
    await fund.post_json(
        "/v1/wards/nerima/donations/"
        + (await fund.donate("nerima", 2_000, general()))["donation_id"]
        + "/refund",
        {"refunded_on": today, "reason": "申出"},
        fund.auth("nerima", "finance"),
    )
    assert gift["receipt"]["number"] == 2
    await fund.caught_up()

    database = Database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    try:
        applied = await rebuild(
            ProjectionRunner(database, projection), fund.ctx.store.iterate_all()
        )
        assert applied == await fund.event_count()
        for table in MONEY_TABLES:
            assert await rows(database, table) == await rows(fund.ctx.database, table), table.name
    finally:
        database.dispose()
    assert len(await rows(fund.ctx.database, journal_table)) == 2 * 5 + 2 * 2 + 2 * 2 + 2 + 2


async def rows(database: Database, table: sa.Table) -> list[dict[str, Any]]:
    keys = list(table.primary_key.columns)
    query = sa.select(table).order_by(*keys)
    return await database.read(lambda c: [dict(row) for row in c.execute(query).mappings()])
