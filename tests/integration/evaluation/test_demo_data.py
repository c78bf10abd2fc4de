"""Demo data: waits (bounded) for rounds, then publishes one reflected round per ward; idempotent."""

from __future__ import annotations

import asyncio

import pytest

from services.evaluation.demo import seed_ward, seed_when_ready
from tests.integration.evaluation.conftest import LiveEvaluation

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
