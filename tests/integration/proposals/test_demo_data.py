"""Demo data: a call per ward and proposals at every stage, loaded once the registry's demo
actors arrive, even when the proposals service starts first; a second run adds nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.proposals.app import bootstrap as proposals_app
from services.proposals.demo import DEMO_CALLS, seed_demo_data
from services.registry.app import bootstrap as registry_app
from services.registry.demo import demo_id as registry_demo_id
from shared.bus.streams import StreamNames
from shared.clock import FixedClock
from shared.testing.http import serve
from shared.web.auth import issue_token
from tests.integration.proposals.conftest import NOW, LivePlatform, platform_settings

pytestmark = pytest.mark.redis


async def test_demo_data_waits_for_the_registry_and_loads_once(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    settings = platform_settings(stream_names, tmp_path).model_copy(update={"demo_data": True})
    clock = FixedClock(NOW)
    proposals = proposals_app(settings, clock=clock)
    async with serve(proposals) as proposals_client:
        await asyncio.sleep(0.5)  # the registry is not there yet
        ready = await proposals_client.get("/health/ready")
        assert ready.status_code == 200, ready.text
        registry = registry_app(settings)
        async with serve(registry) as registry_client:
            live = LivePlatform(
                registry_client,
                proposals_client,
                registry.state.ctx,
                proposals.state.ctx,
                settings,
                clock,
            )
            await live.wards_known()
            for ward in DEMO_CALLS:
                page = await live.eventually(
                    lambda w=ward: live.get_json(f"/v1/wards/{w}/projects"),  # type: ignore[misc]
                    lambda found: found["total"] == 1,
                    timeout=60,
                )
                assert page["items"][0]["status"] == "started"
            # Ota's last demo proposal is the last record seeded.
            await live.eventually(
                lambda: live.get_json("/v1/wards/ota/proposals", headers=staff(live, "ota")),
                lambda page: page["total"] == len(DEMO_CALLS["ota"].proposals),
                timeout=30,
            )
            await live.caught_up()
            await check_what_each_ward_shows(live)
            count = await live.event_count()
            again = await seed_demo_data(live.ctx)
            assert (again.calls, again.steps) == (0, 0)
            assert await live.event_count() == count
            assert (await proposals_client.get("/health/ready")).status_code == 200


async def check_what_each_ward_shows(live: LivePlatform) -> None:
    nerima_staff = staff(live, "nerima")
    nerima = await live.get_json("/v1/wards/nerima/proposals", headers=nerima_staff)
    statuses = sorted(item["status"] for item in nerima["items"])
    assert statuses == ["adopted", "ineligible", "under_review", "under_review"]
    forms = {item["form"] for item in nerima["items"]}
    assert {"subsidy", "co_hosting", "commission"} <= forms
    ineligible = next(i for i in nerima["items"] if i["status"] == "ineligible")
    assert ineligible["eligibility"]["reasons"][0]["code"] == "actor_not_verified"
    recused = next(i for i in nerima["items"] if i["screening"]["recused_reviewers"])
    assert recused["screening"]["counted_reviews"] == 2

    ota_staff = staff(live, "ota")
    ota = await live.get_json("/v1/wards/ota/proposals", headers=ota_staff)
    over = next(i for i in ota["items"] if i["status"] == "ineligible")
    assert over["eligibility"]["reasons"][0]["code"] == "budget_over_limit"
    public = await live.get_json("/v1/wards/ota/proposals")
    assert [item["status"] for item in public["items"]] == ["adopted"]
    project = (await live.get_json("/v1/wards/ota/projects"))["items"][0]
    assert project["lead_actor_id"] == registry_demo_id("ota", "kodomo-shokudo-net")
    assert project["form"] == "subsidy" and project["domain"] == "B"
    calls = await live.get_json("/v1/wards/ota/calls")
    ranking = await live.get_json(
        f"/v1/wards/ota/calls/{calls[0]['call_id']}/ranking", headers=ota_staff
    )
    assert ranking["entries"][0]["rank"] == 1
    assert ranking["entries"][0]["proposal_id"] == project["proposal_id"]


def staff(live: LivePlatform, ward: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(live.settings, ward=ward, roles=['staff'])}"}
