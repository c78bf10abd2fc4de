"""Events other services consume, and a read model rebuilt from the events alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.registry.demo import seed_demo_data
from services.registry.projections import activities_table, actors_table, projection, wards_table
from shared.bus.streams import StreamNames
from shared.db import Database
from shared.projections.runner import ProjectionRunner, rebuild
from tests.integration.registry.conftest import LiveRegistry
from tests.integration.registry.scenarios import neighbourhood_association, register_verified
from tests.integration.registry.test_wards_api import nerima_pack

pytestmark = pytest.mark.redis


async def stream_events(redis: Redis, names: StreamNames, ward: str) -> list[dict[str, Any]]:
    entries = await redis.xrange(names.events_for_ward("registry", ward)) or []
    return [json.loads(fields[b"e"]) for _id, fields in entries if fields is not None]


async def test_verified_suspended_and_policy_events_reach_the_registry_stream(
    registry: LiveRegistry, redis: Redis, stream_names: StreamNames
) -> None:
    actor_id = await register_verified(registry, "nerima", neighbourhood_association())
    staff = registry.auth("nerima", "staff")
    await registry.client.post(
        f"/v1/wards/nerima/actors/{actor_id}/suspend", json={"reason": "確認中"}, headers=staff
    )
    admin = registry.auth("nerima", "ward_admin")
    response = await registry.client.put(
        "/v1/wards/nerima/policy", json={"pack": nerima_pack(2)}, headers=admin
    )
    assert response.status_code == 200

    wanted = {"registry.ActorVerified", "registry.ActorSuspended", "registry.WardPolicyChanged"}
    events = await registry.eventually(
        lambda: stream_events(redis, stream_names, "nerima"),
        lambda found: wanted <= {e["event_type"] for e in found},
    )
    by_type = {e["event_type"]: e for e in events}
    verified = by_type["registry.ActorVerified"]
    assert verified["ward"] == "nerima" and verified["data"]["actor_id"] == actor_id
    assert verified["data"]["kind"] == "neighbourhood_association"
    assert verified["policy_version"] == 1
    assert by_type["registry.ActorSuspended"]["data"]["reason"] == "確認中"
    assert by_type["registry.WardPolicyChanged"]["data"]["policy_version"] == 2
    ota = await stream_events(redis, stream_names, "ota")
    assert all(e["ward"] == "ota" for e in ota)


async def test_the_directory_rebuilt_from_events_equals_the_live_one(
    any_registry: LiveRegistry, tmp_path: Path
) -> None:
    live = any_registry
    await seed_demo_data(live.ctx)
    actor_id = await register_verified(live, "nerima", neighbourhood_association(name="早宮町会"))
    staff = live.auth("nerima", "staff")
    base = f"/v1/wards/nerima/actors/{actor_id}"
    await live.client.patch(
        base, json={"area": "早宮", "website": "https://h.example.jp"}, headers=staff
    )
    await live.client.post(f"{base}/suspend", json={"reason": "r"}, headers=staff)
    await live.client.post(f"{base}/reinstate", headers=staff)
    admin = live.auth("nerima", "ward_admin")
    await live.client.put("/v1/wards/nerima/policy", json={"pack": nerima_pack(2)}, headers=admin)
    await live.caught_up()

    database = Database(f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}")
    try:
        applied = await rebuild(
            ProjectionRunner(database, projection), live.ctx.store.iterate_all()
        )
        assert applied == await live.event_count()
        for table in (wards_table, actors_table, activities_table):
            assert await table_rows(database, table) == await table_rows(live.ctx.database, table)
    finally:
        database.dispose()
    directory = await live.get_json("/v1/wards/nerima/actors", headers=staff)
    assert directory["total"] >= 8


async def table_rows(database: Database, table: sa.Table) -> list[dict[str, Any]]:
    key = next(iter(table.primary_key.columns))
    query = sa.select(table).order_by(key)
    return await database.read(lambda c: [dict(row) for row in c.execute(query).mappings()])
