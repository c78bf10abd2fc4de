"""Demo data: every designation kind in both wards, a grant with lineage, a tranche, a return;
loaded once however often it runs, and patient with the registry's events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.fund.demo import DEMO, designate_a_project, registry_actor_id, seed_ward
from shared.bus.streams import StreamNames
from tests.integration.fund.conftest import (
    World,
    eventually,
    fund_settings,
    live_fund,
    proposals_relay,
)
from tests.integration.registry.conftest import live_registry

pytestmark = pytest.mark.redis

LEADS = {"ota": "tamagawa-clean", "nerima": "kosodate-net"}


@pytest.fixture
async def demo_world(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[World]:
    settings = fund_settings(stream_names, tmp_path, demo_data=True)
    # The fund starts first: it waits for the registry's wards and actors.
    async with (
        live_fund(settings) as fund,
        proposals_relay(settings, tmp_path) as proposals,
        live_registry(settings) as registry,
    ):
        for ward, lead in LEADS.items():
            await proposals.start_project(ward, registry_actor_id(ward, lead), ["environment"])
        yield World(fund, registry, proposals)


async def test_demo_data_fills_both_wards_once(demo_world: World) -> None:
    fund = demo_world.fund
    for ward in DEMO:

        async def donations(ward: str = ward) -> list[str]:
            response = await fund.client.get(f"/v1/wards/{ward}/donations")
            items = response.json().get("items", []) if response.status_code == 200 else []
            return sorted({item["designation"]["kind"] for item in items})

        await eventually(donations, lambda kinds: len(kinds) == 4, timeout=30)
        # The demo awards, pays a tranche and takes a return in turn: wait for the return.
        await eventually(
            lambda ward=ward: fund.client.get(f"/v1/wards/{ward}/grants"),
            lambda response: (
                response.json().get("total") == 1
                and response.json()["items"][0]["balances"]["returns"] >= 1
            ),
        )
        await fund.caught_up()
        (grant,) = (await fund.get_json(f"/v1/wards/{ward}/grants"))["items"]
        assert grant["recipient"]["id"] == registry_actor_id(ward, LEADS[ward])
        assert grant["balances"]["tranches"] == 1 and grant["balances"]["returns"] == 1
        lineage = await fund.get_json(f"/v1/wards/{ward}/grants/{grant['grant_id']}/lineage")
        assert [line["designation"]["kind"] for line in lineage["lines"]] == ["actor", "field"]
        report = await fund.reconciliation(ward)
        assert report["exact"], report

    count = await fund.event_count()
    for ward in DEMO:
        assert await seed_ward(fund.fund, ward, fund.fund.today())
        assert await designate_a_project(fund.fund, ward, fund.fund.today())
    assert await fund.event_count() == count
