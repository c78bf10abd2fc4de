"""A live fund over real HTTP and real Redis, with the real registry beside it for wards and
actors, and a proposals-named event store relayed to Redis for projects."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.fund.app import bootstrap
from services.fund.designations import Designation, DesignationKind
from services.fund.handlers import FundService
from services.fund.queries import targets
from services.registry.app import onboard_builtin_wards
from shared.bus.relay import OutboxRelay
from shared.bus.streams import StreamNames
from shared.db import Database
from shared.events import EventActor, NewEvent
from shared.eventstore.schema import events as events_table
from shared.eventstore.store import AppendContext, EventStore
from shared.projections.inbox import projection_positions
from shared.service import ServiceContext
from shared.settings import Settings
from shared.testing.http import assert_problem as assert_problem
from shared.testing.http import serve
from shared.testing.services import redis_url
from shared.web.auth import issue_token
from tests.integration.registry.conftest import LiveRegistry, live_registry

T = TypeVar("T")
PROBLEM_JSON = "application/problem+json"


async def eventually(
    probe: Callable[[], Awaitable[T]], accept: Callable[[T], bool], timeout: float = 8.0
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


@dataclass
class LiveFund:
    client: httpx.AsyncClient
    ctx: ServiceContext
    settings: Settings
    fund: FundService

    def auth(self, ward: str, *roles: str) -> dict[str, str]:
        token = issue_token(self.settings, ward=ward, roles=list(roles))
        return {"Authorization": f"Bearer {token}"}

    def finance(self, ward: str, key: str | None = None) -> dict[str, str]:
        headers = self.auth(ward, "finance")
        headers["Idempotency-Key"] = key or str(uuid.uuid4())
        return headers

    async def event_count(self) -> int:
        return await self.ctx.store.max_position()

    async def caught_up(self) -> None:
        """Wait until the read model has applied every event of the fund's own store."""
        query = sa.select(events_table.c.ward, sa.func.max(events_table.c.position)).group_by(
            events_table.c.ward
        )
        wanted = dict(await self.ctx.database.read(lambda c: c.execute(query).all()))

        async def applied() -> dict[str, int]:
            table = projection_positions
            query = sa.select(table.c.ward, table.c.position).where(
                table.c.projection == "fund", table.c.source == "fund"
            )
            return dict(await self.ctx.database.read(lambda c: c.execute(query).all()))

        await eventually(applied, lambda got: all(got.get(w, 0) >= p for w, p in wanted.items()))

    async def knows(self, ward: str, kind: str, target_id: str, status: str = "active") -> None:
        """Wait until the fund has learnt of an actor or project (from the other services)."""

        async def statuses() -> dict[str, str]:
            found = await targets(self.ctx.database, ward)
            return {t.target_id: t.status.value for t in found if t.kind.value == kind}

        await eventually(statuses, lambda got: got.get(target_id) == status)

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self.client.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def post_json(self, path: str, body: Any, headers: dict[str, str]) -> Any:
        response = await self.client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    async def donate(
        self, ward: str, amount: int, designation: dict[str, Any], **extra: Any
    ) -> Any:
        body = donation_body(amount, designation, **extra)
        return await self.post_json(f"/v1/wards/{ward}/donations", body, self.finance(ward))

    async def reconciliation(self, ward: str) -> Any:
        await self.caught_up()
        return await self.get_json(
            f"/v1/wards/{ward}/fund/reconciliation", headers=self.auth(ward, "auditor")
        )


def donation_body(amount: Any, designation: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "amount_yen": amount,
        "received_on": extra.pop("received_on", date.today().isoformat()),
        "designation": designation,
        "donor": extra.pop(
            "donor",
            {
                "kind": "person",
                "name": "大田 花子",
                "name_kana": "オオタ ハナコ",
                "address": "東京都大田区蒲田5-13-14",
                "email": "hanako@example.jp",
                "publish_name": False,
            },
        ),
    }
    return {**body, **extra}


class Proposals:
    """Stands in for the proposals service: its events, in its own store, relayed to Redis."""

    ACTOR = EventActor(subject="proposals-test", role="staff")

    def __init__(self, store: EventStore, relay: OutboxRelay) -> None:
        self.store = store
        self.relay = relay

    async def start_project(
        self, ward: str, lead_actor_id: str, fields: list[str], title: str = "地域の協働事業"
    ) -> str:
        project_id = str(uuid.uuid4())
        data = {
            "project_id": project_id,
            "proposal_id": str(uuid.uuid4()),
            "call_id": str(uuid.uuid4()),
            "title": title,
            "form": "joint_hosting",
            "domain": "C",
            "lead_actor_id": lead_actor_id,
            "partner_actor_ids": [],
            "parties": [lead_actor_id, "ward"],
            "department": "地域力推進課",
            "fields": fields,
            "term_start": "2025-04-01",
            "term_end": "2026-03-31",
            "budget_total_yen": 1_000_000,
            "requested_yen": 500_000,
            "citizen_proposed": True,
            "agreement_version": 1,
        }
        await self._append(ward, project_id, "proposals.ProjectStarted", data)
        return project_id

    async def end_project(self, ward: str, project_id: str) -> None:
        data = {"project_id": project_id, "reason": "completed", "ended_on": "2026-03-31"}
        await self._append(ward, project_id, "proposals.ProjectEnded", data)

    async def _append(self, ward: str, project_id: str, event_type: str, data: Any) -> None:
        event = NewEvent(event_type=event_type, data=data)
        await self.store.append(
            f"project-{project_id}", None, [event], AppendContext(ward, self.ACTOR)
        )


@asynccontextmanager
async def proposals_relay(settings: Settings, path: Path) -> AsyncIterator[Proposals]:
    store = EventStore(Database(f"sqlite:///{path / 'proposals.sqlite3'}"))
    await store.create_tables()
    redis = Redis.from_url(settings.redis_url)
    names = StreamNames(settings.stream_prefix, settings.partitions)
    relay = OutboxRelay(store, redis, names, service="proposals", idle_sleep=0.01)
    store.listeners.append(relay.wakeup.set)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield Proposals(store, relay)
    finally:
        stop.set()
        await task
        await redis.aclose()
        store.database.dispose()


async def publish_builtin_wards(settings: Settings) -> None:
    """What a registry publishes when it starts: the built-in wards, onboarded."""
    store = EventStore(Database(f"sqlite:///{settings.data_dir / 'registry.sqlite3'}"))
    await store.create_tables()
    await onboard_builtin_wards(store)
    redis = Redis.from_url(settings.redis_url)
    names = StreamNames(settings.stream_prefix, settings.partitions)
    relay = OutboxRelay(store, redis, names, service="registry")
    await relay.start()
    while await relay.publish_once():
        pass
    await redis.aclose()
    store.database.dispose()


def fund_settings(stream_names: StreamNames, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        redis_url=redis_url(),
        stream_prefix=stream_names.prefix,
        partitions=stream_names.partitions,
        data_dir=data_dir,
        claim_idle_ms=500,
        consumer_block_ms=20,
        **overrides,
    )


@asynccontextmanager
async def live_fund(settings: Settings, store: EventStore | None = None) -> AsyncIterator[LiveFund]:
    app = bootstrap(settings, store=store)
    async with serve(app) as client:
        yield LiveFund(client, app.state.ctx, settings, app.state.fund)


@dataclass
class World:
    fund: LiveFund
    registry: LiveRegistry
    proposals: Proposals


@asynccontextmanager
async def world_of(
    stream_names: StreamNames, tmp_path: Path, store: EventStore | None = None
) -> AsyncIterator[World]:
    settings = fund_settings(stream_names, tmp_path)
    async with (
        live_registry(settings) as registry,
        proposals_relay(settings, tmp_path) as proposals,
        live_fund(settings, store) as fund,
    ):
        for ward in ("nerima", "ota"):
            await eventually(lambda w=ward: _onboarded(fund, w), bool)
        yield World(fund, registry, proposals)


async def _onboarded(fund: LiveFund, ward: str) -> bool:
    response = await fund.client.get(f"/v1/wards/{ward}/fund/balances")
    return response.status_code == 200


@pytest.fixture
async def world(redis: Redis, stream_names: StreamNames, tmp_path: Path) -> AsyncIterator[World]:
    async with world_of(stream_names, tmp_path) as live:
        yield live


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def any_world(
    request: pytest.FixtureRequest, redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[World]:
    """The fund on each store backend: its own SQLite file, or its own PostgreSQL schema."""
    store = None
    if request.param == "postgres":
        url, schema = request.getfixturevalue("postgres_schema")
        store = EventStore(Database(url, schema=schema))
    async with world_of(stream_names, tmp_path, store) as live:
        yield live


def designation(kind: DesignationKind, target: str | None = None) -> Designation:
    return Designation(kind, target)
