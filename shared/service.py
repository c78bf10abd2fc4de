"""What every service process shares: engine, event store, relay, consumer group, HTTP app.

A service describes itself with a ServiceSpec; ``build_service`` is the one place that creates
clients, and nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from redis.asyncio import Redis

from shared.bus.consumer import ConsumerConfig, GroupConsumer, default_consumer_name
from shared.bus.notices import AppendListener
from shared.bus.relay import OutboxRelay
from shared.bus.streams import StreamNames
from shared.clock import Clock, utc_now
from shared.db import Database
from shared.eventstore.store import EventStore
from shared.projections.composite import CompositeProjection
from shared.projections.runner import Projection, ProjectionRunner
from shared.settings import Settings
from shared.telemetry.http import TraceMiddleware
from shared.telemetry.sampling import sample_forever
from shared.telemetry.tracing import (
    build_tracer_provider,
    install_meter_provider,
    install_tracer_provider,
)
from shared.web.auth import TokenVerifier
from shared.web.bodies import add_documented_schemas
from shared.web.hot import HotRoutes
from shared.web.limits import BodySizeLimit
from shared.web.problems import install_problem_handlers

log = logging.getLogger("kyodo.service")


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    routers: Sequence[APIRouter] = ()
    projections: Sequence[Projection] = ()
    consumes: Sequence[str] = ()
    """Services whose event streams this one reads (its own included when it projects them)."""
    on_start: Sequence[Callable[[ServiceContext], Any]] = ()
    pace: float = 0.0
    """Under steady load, the shortest time between two batches of the relay and of the consumer
    (:mod:`shared.bus.pacing`): fewer, larger batches, for a read model up to about twice this
    much later."""


@dataclass
class ServiceContext:
    """Everything a route or handler may need, held on ``app.state.ctx``."""

    name: str
    settings: Settings
    database: Database
    store: EventStore
    redis: Redis
    names: StreamNames
    clock: Clock
    runner: ProjectionRunner | None = None
    relay: OutboxRelay | None = None
    consumer: GroupConsumer | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def healthy_workers(self) -> bool:
        return all(not task.done() for task in self.tasks)


async def service_context(request: Request) -> ServiceContext:
    """Dependency: the service's context (async, so FastAPI calls it without a thread hop)."""
    context: ServiceContext = request.app.state.ctx
    return context


def build_context(
    spec: ServiceSpec,
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
) -> ServiceContext:
    database = (
        store.database
        if store
        else Database(settings.database_url_for(spec.name), schema=settings.schema_for(spec.name))
    )
    the_clock = clock or utc_now
    context = ServiceContext(
        name=spec.name,
        settings=settings,
        database=database,
        store=store or EventStore(database, clock=the_clock),
        redis=redis or Redis.from_url(settings.redis_url),
        names=StreamNames(settings.stream_prefix, settings.partitions),
        clock=the_clock,
    )
    if spec.projections:
        projection = CompositeProjection(spec.name, spec.projections)
        context.runner = ProjectionRunner(database, projection)
    return context


async def start_context(
    spec: ServiceSpec, context: ServiceContext, *, workers: bool = True
) -> None:
    await context.store.create_tables()
    if context.runner is not None:
        await context.runner.create_tables()
    context.relay = OutboxRelay(
        context.store,
        context.redis,
        context.names,
        service=spec.name,
        batch=context.settings.relay_batch,
        idle_sleep=context.settings.relay_idle_sleep,
        trim_interval=context.settings.stream_trim_interval,
        pace=spec.pace,
        notified_poll=context.settings.relay_notified_poll,
    )
    if context.database.is_postgres:  # appends made by other processes wake the relay
        context.relay.notices = AppendListener(
            context.database.url, context.database.schema, context.relay.wakeup
        )
    context.store.listeners.append(context.relay.wakeup.set)
    if context.runner is not None and spec.consumes:
        streams = [s for source in spec.consumes for s in context.names.all_events(source)]
        config = ConsumerConfig(
            group=spec.name,
            streams=streams,
            consumer=default_consumer_name(),
            batch=context.settings.consumer_batch,
            block_ms=context.settings.consumer_block_ms,
            claim_idle_ms=context.settings.claim_idle_ms,
            max_deliveries=context.settings.max_deliveries,
            pace=spec.pace,
        )
        runner = context.runner
        context.consumer = GroupConsumer(
            context.redis, context.names, config, runner.handle_messages, prepare=runner.decode
        )
    for hook in spec.on_start:
        result = hook(context)
        if asyncio.iscoroutine(result):
            await result
    if workers:
        if context.relay.notices is not None:
            context.tasks.append(asyncio.create_task(context.relay.notices.run(context.stop)))
        context.tasks.append(asyncio.create_task(context.relay.run(context.stop)))
        if context.consumer is not None:
            context.tasks.append(asyncio.create_task(context.consumer.run(context.stop)))
        sampler = sample_forever(
            context.redis, context.names, context.relay, context.consumer, context.stop
        )
        context.tasks.append(asyncio.create_task(sampler))


async def stop_context(context: ServiceContext) -> None:
    context.stop.set()
    for task in context.tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(task, timeout=5)
    await context.redis.aclose()
    context.database.dispose()


def build_service(
    spec: ServiceSpec,
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    workers: bool = True,
) -> FastAPI:
    context = build_context(spec, settings, store=store, redis=redis, clock=clock)
    install_tracer_provider(build_tracer_provider(spec.name, otlp_endpoint=settings.otlp_endpoint))
    if settings.otlp_endpoint:
        install_meter_provider(spec.name, settings.otlp_endpoint)

    role = settings.process_role
    runs_workers = workers and role != "api"

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await start_context(spec, context, workers=runs_workers)
        try:
            yield
        finally:
            await stop_context(context)

    # The platform's own middleware traces requests; FastAPI's built-in telemetry would add
    # several spans per request on top.
    native_telemetry_off: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
    app = FastAPI(
        title=spec.title, lifespan=lifespan, docs_url="/docs", telemetry=native_telemetry_off
    )
    app.state.ctx = context
    app.state.token_verifier = TokenVerifier(settings)
    install_problem_handlers(app)
    served = [*spec.routers] if role != "workers" else []
    hot_routes = [route for router in served for route in router.routes]
    app.add_middleware(HotRoutes, routes=hot_routes, handlers=app.exception_handlers)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(TraceMiddleware, service=spec.name)
    app.include_router(health_router())
    for router in served:
        app.include_router(router)
    _document_hot_route_bodies(app)
    return app


def _document_hot_route_bodies(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_documented_schemas(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def freeze_startup_heap() -> None:
    """For a server process, once its app is built: leave what was built (modules, schemas,
    routes: most of the heap) out of every later collection. Otherwise each full collection
    walks all of it again, a pause that the requests arriving then wait through."""
    gc.collect()
    gc.freeze()


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/health/ready")
    async def ready(request: Request) -> JSONResponse:
        context: ServiceContext = request.app.state.ctx
        checks = {
            "database": await _database_ok(context.database),
            "redis": await _redis_ok(context.redis),
            "workers": context.healthy_workers(),
        }
        status = 200 if all(checks.values()) else 503
        return JSONResponse({"ready": status == 200, "checks": checks}, status_code=status)

    return router


async def _database_ok(database: Database) -> bool:
    try:
        await database.read(lambda connection: connection.execute(sa.text("SELECT 1")))
    except Exception:
        return False
    return True


async def _redis_ok(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:
        return False
