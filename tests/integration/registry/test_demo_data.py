"""Demo data: a populated directory for both wards, loaded once however often it runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.registry.demo import DEMO_ACTORS, seed_demo_data
from shared.bus.streams import StreamNames
from tests.integration.registry.conftest import LiveRegistry, live_registry, registry_settings
from tests.integration.registry.scenarios import listed_ids

pytestmark = pytest.mark.redis


@pytest.fixture
async def demo_registry(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LiveRegistry]:
    settings = registry_settings(stream_names, tmp_path).model_copy(update={"demo_data": True})
    async with live_registry(settings) as live:
        yield live


async def test_demo_data_fills_both_directories_once(demo_registry: LiveRegistry) -> None:
    live = demo_registry
    await live.caught_up()
    count = await live.event_count()
    again = await seed_demo_data(live.ctx)
    assert (again.registered, again.verified, again.announced) == (0, 0, 0)
    assert await live.event_count() == count

    for ward, actors in DEMO_ACTORS.items():
        verified = sum(actor.verified for actor in actors)
        assert len(await listed_ids(live, ward)) == verified
        staff = live.auth(ward, "staff")
        everything = await live.get_json(f"/v1/wards/{ward}/actors", headers=staff)
        assert everything["total"] == len(actors)
        activities = await live.get_json(f"/v1/wards/{ward}/activities")
        assert activities["total"] == sum(len(a.activities) for a in actors if a.verified)

    assert await listed_ids(live, "nerima", q="コソダテ") != []
    assert await listed_ids(live, "ota", field="children") != []
