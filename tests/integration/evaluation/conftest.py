"""A live evaluation over real HTTP and real Redis, fed by upstream services' event streams.

``Upstream`` holds registry-, proposals- and fund-named event stores, each published by a real
OutboxRelay under that service's name on the test's stream prefix: what the evaluation receives
is exactly what it would receive from those services. The evaluation runs on a FixedClock, with a
short sweep interval, so tests move time and watch rounds open.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from redis.asyncio import Redis

from services.evaluation.app import bootstrap
from shared.bus.relay import OutboxRelay
from shared.bus.streams import StreamNames
from shared.clock import FixedClock
from shared.db import Database
from shared.events import EventActor, NewEvent
from shared.eventstore.store import AppendContext, EventStore
from shared.policy import load_builtin_pack, pack_hash
from shared.projections.inbox import inbox
from shared.service import ServiceContext
from shared.settings import Settings
from shared.testing.http import assert_problem as assert_problem
from shared.testing.http import serve
from shared.testing.services import redis_url
from shared.web.auth import issue_token

T = TypeVar("T")
PROBLEM_JSON = "application/problem+json"
JST = timezone(timedelta(hours=9))
UPSTREAM_ACTOR = EventActor(subject="upstream", role="system")
DEPARTMENT = "子育て支援課"


def jst(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=JST)


@dataclass
class Upstream:
    """Event stores of the services the evaluation learns from, relayed to Redis."""

    stores: dict[str, EventStore]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def append(
        self, service: str, ward: str, stream: str, event_type: str, data: dict[str, Any]
    ) -> None:
        event = NewEvent(event_type=event_type, data=data)
        await self.stores[service].append(
            stream, None, [event], AppendContext(ward, UPSTREAM_ACTOR, policy_version=1)
        )

    async def onboard(self, ward: str) -> None:
        pack = load_builtin_pack(ward)
        data = {
            "name": pack.name.model_dump(mode="json"),
            "lg_code": pack.lg_code,
            "policy_version": 1,
            "pack_hash": pack_hash(pack),
            "pack": pack.model_dump(mode="json"),
        }
        await self.append("registry", ward, f"ward-{ward}", "registry.WardOnboarded", data)

    async def open_call(
        self, ward: str, call_id: str, opens_on: date, *, kind: str = "citizen_proposed"
    ) -> None:
        data = {
            "call_id": call_id,
            "title": "協働事業提案 募集",
            "kind": kind,
            "opens_on": opens_on.isoformat(),
            "closes_on": (opens_on + timedelta(days=45)).isoformat(),
            "allowed_forms": ["subsidy", "co_hosting", "commission"],
            "budget_limit_yen": 3_000_000,
            "rubric": [],
            "description": None,
        }
        await self.append("proposals", ward, f"call-{call_id}", "proposals.CallOpened", data)

    async def start_project(self, ward: str, **overrides: Any) -> dict[str, Any]:
        data = project_started(**overrides)
        stream = f"project-{data['project_id']}"
        await self.append("proposals", ward, stream, "proposals.ProjectStarted", data)
        return data

    async def end_project(self, ward: str, project_id: str, ended_on: date) -> None:
        data = {
            "project_id": project_id,
            "proposal_id": f"proposal-{project_id}",
            "reason": "事業を完了した",
            "ended_on": ended_on.isoformat(),
        }
        stream = f"project-{project_id}"
        await self.append("proposals", ward, stream, "proposals.ProjectEnded", data)

    async def award_grant(
        self,
        ward: str,
        *,
        recipient_id: str,
        paid_actor_id: str,
        amount_yen: int,
        fiscal_year: int,
        field: str = "childcare",
        kind: str = "project",
    ) -> str:
        grant_id = f"grant-{uuid.uuid4().hex[:8]}"
        data = {
            "grant_id": grant_id,
            "recipient": {
                "kind": kind,
                "id": recipient_id,
                "paid_actor_id": paid_actor_id,
                "name": "光が丘こども食堂",
            },
            "purpose_field": field,
            "fiscal_year": fiscal_year,
            "amount_yen": amount_yen,
            "title": "活動助成",
            "awarded_on": date(fiscal_year, 6, 1).isoformat(),
            "allocation_rule": "most_specific_first_then_oldest",
            "lines": [{"donation_id": "d-1", "designation": "general", "amount_yen": amount_yen}],
        }
        await self.append("fund", ward, f"fund-{ward}", "fund.GrantAwarded", data)
        return grant_id


def project_started(**overrides: Any) -> dict[str, Any]:
    """``proposals.ProjectStarted`` data, as the proposals service publishes it."""
    project_id = overrides.pop("project_id", f"project-{uuid.uuid4().hex[:8]}")
    lead = overrides.pop("lead_actor_id", "npo-kodomo")
    partners = overrides.pop("partner_actor_ids", ["school-hikarigaoka"])
    data: dict[str, Any] = {
        "project_id": project_id,
        "proposal_id": f"proposal-{project_id}",
        "call_id": "call-2025",
        "title": "光が丘こども食堂",
        "form": "subsidy",
        "domain": "B",
        "lead_actor_id": lead,
        "partner_actor_ids": partners,
        "parties": [
            {"party": lead, "role": "運営", "cost_share_yen": 600_000},
            *({"party": p, "role": "会場提供", "cost_share_yen": 0} for p in partners),
            {"party": "ward", "role": "広報と助成", "cost_share_yen": 1_400_000},
        ],
        "department": DEPARTMENT,
        "fields": ["childcare"],
        "term_start": "2025-04-01",
        "term_end": "2027-03-31",
        "budget_total_yen": 2_000_000,
        "requested_yen": 1_400_000,
        "citizen_proposed": True,
        "agreement_version": 1,
        "purpose": "子どもが安心して食事できる居場所をつくる",
    }
    data.update(overrides)
    return data


@asynccontextmanager
async def upstream_services(
    redis: Redis, names: StreamNames, data_dir: Path, services: tuple[str, ...]
) -> AsyncIterator[Upstream]:
    stores = {}
    databases = []
    for service in services:
        database = Database(f"sqlite:///{data_dir / f'upstream-{service}.sqlite3'}")
        databases.append(database)
        stores[service] = EventStore(database)
        await stores[service].create_tables()
    upstream = Upstream(stores)
    for service, store in stores.items():
        relay = OutboxRelay(store, redis, names, service=service, idle_sleep=0.01)
        store.listeners.append(relay.wakeup.set)
        upstream.tasks.append(asyncio.create_task(relay.run(upstream.stop)))
    try:
        yield upstream
    finally:
        upstream.stop.set()
        await asyncio.gather(*upstream.tasks, return_exceptions=True)
        for database in databases:
            database.dispose()


@dataclass
class LiveEvaluation:
    client: httpx.AsyncClient
    ctx: ServiceContext
    settings: Settings
    clock: FixedClock
    upstream: Upstream

    def auth(self, ward: str, *roles: str, actor_id: str | None = None) -> dict[str, str]:
        token = issue_token(self.settings, ward=ward, roles=list(roles), actor_id=actor_id)
        return {"Authorization": f"Bearer {token}"}

    def staff(self, ward: str = "nerima") -> dict[str, str]:
        return self.auth(ward, "staff")

    def member(self, actor_id: str, ward: str = "nerima") -> dict[str, str]:
        return self.auth(ward, "actor", actor_id=actor_id)

    async def event_count(self) -> int:
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

    async def get_json(self, path: str, **kwargs: Any) -> Any:
        response = await self.client.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    async def caught_up(self) -> None:
        """Wait until the read model has applied every event of the evaluation's own store."""

        async def applied_own() -> set[str]:
            query = sa.select(inbox.c.event_id)
            return set(await self.ctx.database.read(lambda c: c.execute(query).scalars().all()))

        own = {str(e.event_id) for e in await self.ctx.store.read_all(limit=100_000)}
        await self.eventually(applied_own, lambda applied: own <= applied)

    async def rounds(self, ward: str = "nerima", **params: Any) -> list[dict[str, Any]]:
        page = await self.get_json(
            f"/v1/wards/{ward}/evaluations", params=params, headers=self.staff(ward)
        )
        return list(page["items"])

    async def rounds_of(self, project_id: str, count: int, ward: str = "nerima") -> list[Any]:
        await self.ward_known(ward)
        return await self.eventually(
            lambda: self.rounds(ward, project_id=project_id),
            lambda items: len(items) >= count,
        )

    async def project_known(self, project_id: str, ward: str = "nerima") -> None:
        from services.evaluation import queries

        await self.eventually(
            lambda: queries.find_project(self.ctx.database, ward, project_id),
            lambda row: row is not None,
        )

    async def grants_known(self, count: int) -> None:
        from services.evaluation.projections import grants_table

        query = sa.select(sa.func.count()).select_from(grants_table)
        await self.eventually(
            lambda: self.ctx.database.read(lambda c: int(c.execute(query).scalar_one())),
            lambda n: n >= count,
        )

    async def ward_known(self, ward: str = "nerima") -> None:
        from services.evaluation import queries

        await self.eventually(
            lambda: queries.ward_policy(self.ctx.database, ward), lambda p: p is not None
        )


def evaluation_settings(names: StreamNames, data_dir: Path) -> Settings:
    return Settings(
        redis_url=redis_url(),
        stream_prefix=names.prefix,
        partitions=names.partitions,
        data_dir=data_dir,
        claim_idle_ms=500,
        consumer_block_ms=20,
    )


@asynccontextmanager
async def live_evaluation(
    redis: Redis,
    names: StreamNames,
    data_dir: Path,
    *,
    now: datetime,
    upstream_names: tuple[str, ...] = ("registry", "proposals", "fund"),
    store: EventStore | None = None,
    demo_data: bool = False,
) -> AsyncIterator[LiveEvaluation]:
    settings = evaluation_settings(names, data_dir).model_copy(update={"demo_data": demo_data})
    clock = FixedClock(now)
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            upstream_services(redis, names, data_dir, upstream_names)
        )
        app = bootstrap(settings, clock=clock, store=store, sweep_interval=0.05)
        client = await stack.enter_async_context(serve(app))
        yield LiveEvaluation(client, app.state.ctx, settings, clock, upstream)


@pytest.fixture
async def evaluation(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> AsyncIterator[LiveEvaluation]:
    """The evaluation on 5 April 2026 (JST), after the end of fiscal year 2025; Nerima and Ota
    onboarded."""
    async with live_evaluation(redis, stream_names, tmp_path, now=jst(date(2026, 4, 5))) as live:
        await live.upstream.onboard("nerima")
        await live.upstream.onboard("ota")
        await live.ward_known("nerima")
        await live.ward_known("ota")
        yield live
