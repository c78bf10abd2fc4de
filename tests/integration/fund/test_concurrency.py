"""Concurrent requests: receipt numbers stay consecutive, and money is never taken twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from shared.bus.streams import StreamNames
from shared.db import Database
from shared.eventstore.store import EventStore
from tests.integration.fund.conftest import (
    LiveFund,
    World,
    donation_body,
    eventually,
    fund_settings,
    live_fund,
    publish_builtin_wards,
)
from tests.integration.fund.scenarios import field, general, grant_body, verified_actor

pytestmark = pytest.mark.redis


async def donate_concurrently(funds: list[LiveFund], ward: str, n: int) -> list[int]:
    async def one(i: int) -> int:
        fund = funds[i % len(funds)]
        response = await fund.client.post(
            f"/v1/wards/{ward}/donations",
            json=donation_body(1_000 + i, general(), received_on="2025-07-01"),
            headers=fund.finance(ward),
        )
        assert response.status_code == 201, response.text
        return int(response.json()["receipt"]["number"])

    return await asyncio.gather(*(one(i) for i in range(n)))


async def test_fifty_concurrent_donations_get_receipts_one_to_fifty(any_world: World) -> None:
    fund = any_world.fund
    numbers = await donate_concurrently([fund], "ota", 50)
    assert sorted(numbers) == list(range(1, 51))
    report = await fund.reconciliation("ota")
    assert report["exact"] and report["receipt_gaps"] == {}
    await fund.caught_up()
    page = await fund.get_json("/v1/wards/ota/donations", params={"limit": 200})
    assert [d["receipt"]["number"] for d in page["items"]] == list(range(1, 51))


@pytest.fixture
async def two_instances(
    redis: Redis, stream_names: StreamNames, tmp_path: Path, postgres_schema: tuple[str, str]
) -> AsyncIterator[list[LiveFund]]:
    """Two fund processes' worth of state (caches, locks) on one PostgreSQL store."""
    url, schema = postgres_schema
    settings = fund_settings(stream_names, tmp_path)
    async with AsyncExitStack() as stack:
        funds = []
        for _ in range(2):
            store = EventStore(Database(url, schema=schema))
            funds.append(await stack.enter_async_context(live_fund(settings, store)))
        yield funds


@pytest.mark.postgres
async def test_two_instances_share_one_gapless_receipt_sequence(
    two_instances: list[LiveFund],
) -> None:
    first = two_instances[0]
    await publish_builtin_wards(first.settings)
    await eventually(lambda: first.client.get("/v1/wards/ota/fund/balances"), _ok)
    numbers = await donate_concurrently(two_instances, "ota", 60)
    assert sorted(numbers) == list(range(1, 61))


async def test_concurrent_grants_never_take_the_same_money_twice(world: World) -> None:
    fund = world.fund
    group = await verified_actor(world, "ota")
    await fund.donate("ota", 100_000, field("environment"))
    finance = fund.auth("ota", "finance")
    recipient = {"kind": "actor", "actor_id": group}

    async def award() -> int:
        body = grant_body(recipient, "environment", 30_000)
        response = await fund.client.post("/v1/wards/ota/grants", json=body, headers=finance)
        return response.status_code

    statuses = await asyncio.gather(*(award() for _ in range(5)))
    assert sorted(statuses) == [201, 201, 201, 409, 409]
    report = await fund.reconciliation("ota")
    assert report["exact"]
    assert report["totals"]["committed"] == 90_000 and report["totals"]["available"] == 10_000


def _ok(response: httpx.Response) -> bool:
    return response.status_code == 200
