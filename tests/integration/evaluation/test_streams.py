"""Events arriving over the real registry, proposals and fund streams drive the schedule and the
flags; the evaluation's own events reach its stream; its read model rebuilds from the events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.evaluation.projections import (
    calls_table,
    flags_table,
    grants_table,
    projection,
    projects_table,
    rounds_table,
    wards_table,
)
from shared.bus.streams import StreamNames
from shared.db import Database
from shared.events import EventEnvelope
from shared.eventstore.store import EventStore
from shared.projections.runner import ProjectionRunner, rebuild
from tests.integration.evaluation.conftest import LiveEvaluation, jst, live_evaluation
from tests.integration.evaluation.scenarios import assessment
from tests.integration.registry.conftest import live_registry, registry_settings
from tests.support.projection_parts import shared_tables, tables_by_part

pytestmark = pytest.mark.redis
INERTIA = "/v1/wards/nerima/insights/inertia"


async def stream_events(redis: Redis, names: StreamNames, service: str) -> list[dict[str, Any]]:
    entries = await redis.xrange(names.events_for_ward(service, "nerima")) or []
    return [json.loads(fields[b"e"]) for _id, fields in entries if fields is not None]


async def open_flags(live: LiveEvaluation, count: int) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        page = await live.get_json(INERTIA, headers=live.staff())
        return list(page["items"])

    return await live.eventually(read, lambda items: len(items) >= count)


async def test_events_from_the_registry_proposals_and_fund_streams_drive_rounds_and_flags(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    registry_dir, evaluation_dir = tmp_path / "registry", tmp_path / "evaluation"
    async with (
        live_registry(registry_settings(stream_names, registry_dir)),
        live_evaluation(
            redis,
            stream_names,
            evaluation_dir,
            now=jst(date(2025, 3, 15)),
            upstream_names=("proposals", "fund"),
        ) as live,
    ):
        # The real registry onboards Nerima and Ota at start: their packs arrive by stream.
        await live.ward_known("nerima")
        upstream = live.upstream
        await upstream.open_call("nerima", "call-2024", date(2024, 1, 10))
        first = await upstream.start_project(
            "nerima", call_id="call-2024", term_start="2024-04-01", term_end="2026-03-31"
        )
        await live.project_known(first["project_id"])
        await live.caught_up()
        assert await live.rounds() == []  # fiscal year 2024 is not over on 15 March 2025

        # The clock passes the fiscal year end: the background sweep opens the round.
        live.clock.now = jst(date(2025, 4, 1), hour=0)
        [due] = await live.rounds_of(first["project_id"], 1)
        assert (due["occasion"], due["fiscal_year"]) == ("fiscal_year_end", 2024)

        # A follow-up of the same actor and department through the same call: no open call in
        # between, flagged for the lead and the partner.
        second = await upstream.start_project(
            "nerima", call_id="call-2024", term_start="2026-04-01", term_end="2027-03-31"
        )
        flags = await open_flags(live, 2)
        assert {(f["rule"], f["actor_id"]) for f in flags} == {
            ("no_open_call", first["lead_actor_id"]),
            ("no_open_call", first["partner_actor_ids"][0]),
        }
        # Grants for one purpose to that pair, over both projects, beyond the limit of three.
        lead = first["lead_actor_id"]
        for project, year in ((first, 2024), (first, 2025), (second, 2026), (second, 2026)):
            await upstream.award_grant(
                "nerima",
                recipient_id=project["project_id"],
                paid_actor_id=lead,
                amount_yen=250_000,
                fiscal_year=year,
            )
        flags = await open_flags(live, 3)
        [repeat] = [f for f in flags if f["rule"] == "repeat_grants"]
        assert (repeat["subject"], repeat["actor_id"], repeat["department"]) == (
            "actor_department",
            lead,
            "子育て支援課",
        )
        assert (repeat["observed"], repeat["fiscal_years"]) == (4, [2024, 2026])

        # The end of the first project (from the proposals stream) brings its end round.
        live.clock.now = jst(date(2026, 4, 1))
        rounds = await live.rounds_of(first["project_id"], 2)
        assert {(r["occasion"], r["fiscal_year"]) for r in rounds} == {
            ("fiscal_year_end", 2024),
            ("project_end", 2025),
        }

        # What the evaluation decided reached its own stream, with the policy version in force.
        published = await live.eventually(
            lambda: stream_events(redis, stream_names, "evaluation"),
            lambda events: (
                sum(e["event_type"] == "evaluation.RoundOpened" for e in events) >= 2
                and sum(e["event_type"] == "evaluation.InertiaFlagged" for e in events) >= 3
            ),
        )
        opened = next(e for e in published if e["event_type"] == "evaluation.RoundOpened")
        assert opened["ward"] == "nerima" and opened["policy_version"] == 1
        assert opened["actor"] == {"subject": "system", "role": "system"}
        assert opened["data"]["project"]["department"] == "子育て支援課"


async def test_the_read_model_rebuilt_from_the_events_equals_the_live_one(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    async with live_evaluation(redis, stream_names, tmp_path, now=jst(date(2026, 4, 5))) as live:
        upstream = live.upstream
        await upstream.onboard("nerima")
        await upstream.open_call("nerima", "call-2025", date(2025, 1, 10))
        started = await upstream.start_project(
            "nerima", term_start="2022-04-01", term_end="2026-03-31"
        )
        for year in (2022, 2023, 2024, 2025):
            await upstream.award_grant(
                "nerima",
                recipient_id=started["project_id"],
                paid_actor_id=started["lead_actor_id"],
                amount_yen=100_000,
                fiscal_year=year,
            )
        rounds = await live.rounds_of(started["project_id"], 4)
        await open_flags(live, 2)  # its four-year term and its four grants
        round_path = f"/v1/wards/nerima/evaluations/{rounds[-1]['round_id']}"
        await live.client.post(f"{round_path}/assessments", json=assessment(), headers=live.staff())
        await live.caught_up()

        stores = (*upstream.stores.values(), live.ctx.store)
        database = Database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
        interleaved = Database(f"sqlite:///{tmp_path / 'interleaved.sqlite3'}")
        try:
            runner = ProjectionRunner(database, projection)
            for store in stores:
                await rebuild(runner, store.iterate_all())
            # As an audit replay gives them: every source's events in one batch, in time order.
            history = sorted(
                [e async for page in _pages(stores) for e in page], key=lambda e: e.recorded_at
            )
            await ProjectionRunner(interleaved, projection).create_tables()
            touched = await interleaved.write(lambda c: tables_by_part(c, projection, history))
            assert shared_tables(touched) == {}
            assert all(touched.values()), touched
            for table in TABLES:
                rebuilt = await table_rows(database, table)
                assert rebuilt == await table_rows(live.ctx.database, table), table.name
                assert rebuilt == await table_rows(interleaved, table), table.name
                assert rebuilt
        finally:
            database.dispose()
            interleaved.dispose()


TABLES = (wards_table, projects_table, calls_table, grants_table, rounds_table, flags_table)


async def _pages(stores: Sequence[EventStore]) -> AsyncIterator[list[EventEnvelope]]:
    for store in stores:
        async for page in store.iterate_all():
            yield page


@pytest.mark.postgres
async def test_the_schedule_runs_on_postgresql(
    redis: Redis, stream_names: StreamNames, tmp_path: Path, postgres_schema: tuple[str, str]
) -> None:
    url, schema = postgres_schema
    store = EventStore(Database(url, schema=schema))
    async with live_evaluation(
        redis, stream_names, tmp_path, now=jst(date(2027, 4, 2)), store=store
    ) as live:
        await live.upstream.onboard("nerima")
        started = await live.upstream.start_project("nerima")
        rounds = await live.rounds_of(started["project_id"], 2)
        assert sorted(r["occasion"] for r in rounds) == ["fiscal_year_end", "project_end"]
        path = f"/v1/wards/nerima/evaluations/{rounds[0]['round_id']}/assessments"
        response = await live.client.post(path, json=assessment(), headers=live.staff())
        assert response.status_code == 200, response.text


async def table_rows(database: Database, table: sa.Table) -> list[dict[str, Any]]:
    key = next(iter(table.primary_key.columns))
    query = sa.select(table).order_by(key)
    return await database.read(lambda c: [dict(row) for row in c.execute(query).mappings()])
