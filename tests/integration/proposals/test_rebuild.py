"""Read models rebuilt from the events alone equal the live ones, on each store backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from services.proposals.projections import (
    actors_table,
    calls_table,
    projection,
    projects_table,
    proposals_table,
    wards_table,
)
from shared.db import Database
from shared.events import EventEnvelope
from shared.projections.runner import ProjectionRunner, rebuild
from tests.integration.proposals.conftest import LivePlatform
from tests.integration.proposals.scenarios import (
    adopted,
    agreement_body,
    drafted,
    open_call,
    proposal_body,
    registered_actor,
    submit,
    suspend_in_registry,
)

pytestmark = pytest.mark.redis

TABLES = (wards_table, actors_table, calls_table, proposals_table, projects_table)


async def a_busy_ward(live: LivePlatform, ward: str) -> None:
    """Adopted, started, amended and ended; withdrawn; ineligible."""
    proposal_id, lead, [partner] = await adopted(live, ward, partners=1)
    staff = live.auth(ward, "staff")
    base = f"/v1/wards/{ward}/proposals/{proposal_id}/agreement"
    signers = (
        live.auth(ward, "actor", actor_id=lead),
        live.auth(ward, "actor", actor_id=partner),
        staff,
    )
    for terms in (
        agreement_body(lead, [partner]),
        agreement_body(lead, [partner], amendment_reason="期間の延長", term_end="2027-05-31"),
    ):
        assert (await live.proposals.post(base, json=terms, headers=staff)).status_code == 201
        for headers in signers:
            assert (await live.proposals.post(f"{base}/sign", headers=headers)).status_code == 200
    assert (await live.proposals.post(f"{base}/sign", headers=staff)).status_code == 409
    agreement = await live.eventually(
        lambda: live.proposals.get(base, headers=staff), lambda r: r.status_code == 200
    )
    project_id = agreement.json()["project_id"]
    ended = await live.proposals.post(
        f"/v1/wards/{ward}/projects/{project_id}/end", json={"reason": "事業完了"}, headers=staff
    )
    assert ended.status_code == 200, ended.text

    call_id = await open_call(live, ward, kind="ward_proposed")
    withdrawn = await drafted(live, ward, proposal_body(ward, call_id, lead))
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{withdrawn}/withdraw",
        json={"reason": "体制が整わない"},
        headers=live.auth(ward, "actor", actor_id=lead),
    )
    assert response.status_code == 200
    suspended = await registered_actor(live, ward, name="休止中の団体")
    late = await drafted(live, ward, proposal_body(ward, call_id, suspended))
    await suspend_in_registry(live, ward, suspended)
    await live.actor_known(ward, suspended, "suspended")
    assert (await submit(live, ward, late, suspended))["status"] == "ineligible"


async def history(live: LivePlatform) -> AsyncIterator[Sequence[EventEnvelope]]:
    """Every event this service consumes: the registry's, then its own."""
    async for page in live.registry_ctx.store.iterate_all():
        yield page
    async for page in live.ctx.store.iterate_all():
        yield page


async def test_read_models_rebuilt_from_events_equal_the_live_ones(
    any_platform: LivePlatform, tmp_path: Path
) -> None:
    live = any_platform
    await a_busy_ward(live, "nerima")
    await a_busy_ward(live, "ota")
    await live.caught_up()

    database = Database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    try:
        applied = await rebuild(ProjectionRunner(database, projection), history(live))
        total = await live.event_count() + await live.registry_ctx.store.max_position()
        assert applied == total
        for table in TABLES:
            rebuilt = await table_rows(database, table)
            assert rebuilt == await table_rows(live.ctx.database, table), table.name
            assert rebuilt, table.name
    finally:
        database.dispose()
    projects = await live.get_json("/v1/wards/ota/projects")
    assert [p["status"] for p in projects["items"]] == ["ended"]
    assert projects["items"][0]["agreement_version"] == 2


async def table_rows(database: Database, table: sa.Table) -> list[dict[str, Any]]:
    key = next(iter(table.primary_key.columns))
    query = sa.select(table).order_by(key)
    return await database.read(lambda c: [dict(row) for row in c.execute(query).mappings()])
