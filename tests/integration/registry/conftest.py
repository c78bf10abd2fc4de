"""A live registry over real HTTP, real Redis and its own SQLite file (or PostgreSQL schema)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.registry.app import bootstrap
from shared.bus.streams import StreamNames
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


@dataclass
class LiveRegistry:
    client: httpx.AsyncClient
    ctx: ServiceContext
    settings: Settings

    def auth(self, ward: str, *roles: str, actor_id: str | None = None) -> dict[str, str]:
        token = issue_token(self.settings, ward=ward, roles=list(roles), actor_id=actor_id)
        return {"Authorization": f"Bearer {token}"}

    async def event_count(self) -> int:
        return await self.ctx.store.max_position()

    async def eventually(
        self, probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 5.0
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

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self.client.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def caught_up(self) -> None:
        """Wait until the projection has applied every appended event."""

        async def applied() -> int:
            query = sa.select(sa.func.count()).select_from(inbox)
            return int(await self.ctx.database.read(lambda c: c.execute(query).scalar_one()))

        total = await self.event_count()
        await self.eventually(applied, lambda n: n >= total)


def registry_settings(stream_names: StreamNames, data_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_url(),
        stream_prefix=stream_names.prefix,
        partitions=stream_names.partitions,
        data_dir=data_dir,
        claim_idle_ms=200,
        consumer_block_ms=20,
    )


@asynccontextmanager
async def live_registry(
    settings: Settings, store: EventStore | None = None
) -> AsyncIterator[LiveRegistry]:
    app = bootstrap(settings, store=store)
    async with serve(app) as client:
        live = LiveRegistry(client, app.state.ctx, settings)
        await live.caught_up()  # the built-in wards, onboarded at start, are in the read model
        yield live


@pytest.fixture
async def registry(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LiveRegistry]:
    async with live_registry(registry_settings(stream_names, tmp_path)) as live:
        yield live


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_registry(
    request: pytest.FixtureRequest, redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LiveRegistry]:
    """The registry on each store backend: its own SQLite file, or its own PostgreSQL schema."""
    store = None
    if request.param == "postgres":
        url, schema = request.getfixturevalue("postgres_schema")
        store = EventStore(Database(url, schema=schema))
    async with live_registry(registry_settings(stream_names, tmp_path), store) as live:
        yield live
