"""The registry and the audit service running together over real HTTP and real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.registry.app import bootstrap as registry_bootstrap
from shared.audit.app import bootstrap as audit_bootstrap
from shared.bus.streams import StreamNames
from shared.eventstore.schema import events
from shared.service import ServiceContext
from shared.settings import Settings
from shared.testing.http import assert_problem as assert_problem
from shared.testing.http import serve
from shared.testing.services import redis_url
from shared.web.auth import issue_token
from tests.integration.registry.conftest import LiveRegistry

PROBLEM_JSON = "application/problem+json"


@dataclass
class LiveAudit:
    client: httpx.AsyncClient
    ctx: ServiceContext
    settings: Settings

    def auth(self, ward: str, *roles: str) -> dict[str, str]:
        token = issue_token(self.settings, ward=ward, roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    async def checkpoint(self, ward: str) -> dict[str, Any] | None:
        response = await self.client.get(f"/v1/wards/{ward}/audit/checkpoint")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def get_json(self, path: str, ward: str = "*", **params: Any) -> Any:
        response = await self.client.get(path, params=params, headers=self.auth(ward, "auditor"))
        assert response.status_code == 200, response.text
        return response.json()


@dataclass
class Platform:
    registry: LiveRegistry
    audit: LiveAudit
    settings: Settings

    async def registry_events(self, ward: str) -> int:
        query = sa.select(sa.func.count()).select_from(events).where(events.c.ward == ward)
        database = self.registry.ctx.database
        return int(await database.read(lambda c: c.execute(query).scalar_one()))

    async def audited(self, ward: str, timeout: float = 10.0) -> dict[str, Any]:
        """Wait until the ward's latest checkpoint covers every event the registry stored."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            expected = await self.registry_events(ward)
            latest = await self.audit.checkpoint(ward)
            if latest is not None and latest["tree_size"] == expected:
                return latest
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"audit of {ward} not caught up: {latest}, want {expected}")
            await asyncio.sleep(0.05)


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
async def live_platform(settings: Settings) -> AsyncIterator[Platform]:
    registry_app = registry_bootstrap(settings)
    audit_app = audit_bootstrap(settings)
    async with serve(registry_app) as registry_client, serve(audit_app) as audit_client:
        registry = LiveRegistry(registry_client, registry_app.state.ctx, settings)
        audit = LiveAudit(audit_client, audit_app.state.ctx, settings)
        yield Platform(registry, audit, settings)


@pytest.fixture
async def platform(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[Platform]:
    async with live_platform(platform_settings(stream_names, tmp_path)) as live:
        yield live
