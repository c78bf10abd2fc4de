"""A live registry and a live proposals service over real HTTP and real Redis, sharing one
stream prefix, so the registry's events reach the proposals service over the real stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.proposals import queries
from services.proposals.app import bootstrap as proposals_app
from services.registry.app import bootstrap as registry_app
from shared.bus.streams import StreamNames
from shared.clock import FixedClock
from shared.db import Database
from shared.eventstore.store import EventStore
from shared.projections.inbox import inbox
from shared.service import ServiceContext
from shared.settings import Settings
from shared.testing.http import assert_problem as assert_problem
from shared.testing.http import serve
from shared.testing.services import redis_url
from shared.web.auth import issue_token

T = TypeVar("T")
PROBLEM_JSON = "application/problem+json"
# 10:00 in Tokyo on 1 May 2026: inside the calls the tests open.
NOW = datetime(2026, 5, 1, 1, 0, tzinfo=UTC)


@dataclass
class LivePlatform:
    registry: httpx.AsyncClient
    proposals: httpx.AsyncClient
    registry_ctx: ServiceContext
    ctx: ServiceContext
    settings: Settings
    clock: FixedClock

    def auth(
        self, ward: str, *roles: str, actor_id: str | None = None, subject: str | None = None
    ) -> dict[str, str]:
        token = issue_token(
            self.settings, ward=ward, roles=list(roles), actor_id=actor_id, subject=subject
        )
        return {"Authorization": f"Bearer {token}"}

    async def event_count(self) -> int:
        """Events in the proposals service's own store."""
        return await self.ctx.store.max_position()

    async def eventually(
        self, probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 8.0
    ) -> T:
        """Poll a read until the asynchronous projection shows what a write did."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = await probe()
            if accept(value):
                return value
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"not reached within {timeout}s; last: {value!r}")
            await asyncio.sleep(0.05)

    async def actor_known(self, ward: str, actor_id: str, status: str = "active") -> None:
        """Wait until the proposals read model has seen the registry's event for the actor."""
        await self.eventually(
            lambda: queries.actor_standings(self.ctx.database, ward, [actor_id]),
            lambda found: found.get(actor_id) == status,
        )

    async def wards_known(self) -> None:
        async def known() -> int:
            query = sa.select(sa.func.count()).select_from(sa.table("proposals_wards"))
            return int(await self.ctx.database.read(lambda c: c.execute(query).scalar_one()))

        await self.eventually(known, lambda n: n >= 2)

    async def caught_up(self) -> None:
        """Wait until the proposals projection has applied every event of both services."""

        async def applied() -> int:
            query = sa.select(sa.func.count()).select_from(inbox)
            return int(await self.ctx.database.read(lambda c: c.execute(query).scalar_one()))

        total = await self.event_count() + await self.registry_ctx.store.max_position()
        await self.eventually(applied, lambda n: n >= total)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self.proposals.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


def platform_settings(stream_names: StreamNames, data_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_url(),
        stream_prefix=stream_names.prefix,
        partitions=stream_names.partitions,
        data_dir=data_dir,
        claim_idle_ms=500,
        consumer_block_ms=20,
    )


@asynccontextmanager
async def live_platform(
    settings: Settings, proposals_store: EventStore | None = None
) -> AsyncIterator[LivePlatform]:
    clock = FixedClock(NOW)
    registry = registry_app(settings)
    proposals = proposals_app(settings, store=proposals_store, clock=clock)
    async with serve(registry) as registry_client, serve(proposals) as proposals_client:
        live = LivePlatform(
            registry_client,
            proposals_client,
            registry.state.ctx,
            proposals.state.ctx,
            settings,
            clock,
        )
        await live.wards_known()
        yield live


@pytest.fixture
async def platform(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LivePlatform]:
    async with live_platform(platform_settings(stream_names, tmp_path)) as live:
        yield live


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_platform(
    request: pytest.FixtureRequest, redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LivePlatform]:
    """The proposals service on each store backend (the registry stays on SQLite)."""
    store = None
    if request.param == "postgres":
        url, schema = request.getfixturevalue("postgres_schema")
        store = EventStore(Database(url, schema=schema))
    async with live_platform(platform_settings(stream_names, tmp_path), store) as live:
        yield live
