"""Demo data: waits (bounded) for rounds, then publishes one reflected round per ward; idempotent."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.evaluation.demo import seed_ward, seed_when_ready
from shared.bus.streams import StreamNames
from tests.integration.evaluation.conftest import LiveEvaluation, jst, live_evaluation

pytestmark = pytest.mark.redis


async def test_demo_seeding_gives_up_quietly_when_no_round_comes(
    evaluation: LiveEvaluation,
) -> None:
    count = await evaluation.event_count()
    await asyncio.wait_for(seed_when_ready(evaluation.ctx, wait=0.3), timeout=5)
    assert await evaluation.event_count() == count


async def test_demo_seeding_concludes_the_earliest_round_once(evaluation: LiveEvaluation) -> None:
    started = await evaluation.upstream.start_project("nerima")
    [round_] = await evaluation.rounds_of(started["project_id"], 1)
    assert await seed_ward(evaluation.ctx, "nerima") is True
    await evaluation.caught_up()
    published = await evaluation.get_json(f"/v1/wards/nerima/evaluations/{round_['round_id']}")
    assert published["status"] == "concluded"
    assert published["reconciliation"]["scores"] == {"equality": 3}
    assert {a["side"] for a in published["assessments"] if a["submitted"]} == {"actor", "ward"}
    count = await evaluation.event_count()
    assert await seed_ward(evaluation.ctx, "nerima") is True
    assert await evaluation.event_count() == count
    assert await seed_ward(evaluation.ctx, "ota") is False


async def test_demo_projects_not_yet_due_get_an_interim_round(evaluation: LiveEvaluation) -> None:
    evaluation.clock.now = jst(date(2026, 5, 1))
    projects = {
        ward: await evaluation.upstream.start_project(
            ward, term_start="2026-06-15", term_end="2027-06-14"
        )
        for ward in ("nerima", "ota")
    }
    await asyncio.wait_for(seed_when_ready(evaluation.ctx, wait=20), timeout=30)
    await evaluation.caught_up()
    for ward, started in projects.items():
        [round_] = await evaluation.rounds(ward, project_id=started["project_id"])
        assert (round_["occasion"], round_["status"]) == ("interim", "concluded")
        public = await evaluation.get_json(f"/v1/wards/{ward}/evaluations/{round_['round_id']}")
        assert public["conclusion"]["conclusion"] == "improve"


async def test_with_demo_data_the_service_seeds_and_stays_ready(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    async with live_evaluation(
        redis, stream_names, tmp_path, now=jst(date(2026, 4, 5)), demo_data=True
    ) as live:
        for ward in ("nerima", "ota"):
            await live.upstream.onboard(ward)
            await live.upstream.start_project(ward)
        for ward in ("nerima", "ota"):
            await live.ward_known(ward)
            await live.eventually(
                lambda w=ward: live.rounds(w, status="concluded"),  # type: ignore[misc]
                lambda items: len(items) == 1,
                timeout=20,
            )
        await asyncio.sleep(0.3)
        ready = await live.client.get("/health/ready")
        assert ready.status_code == 200, ready.text
