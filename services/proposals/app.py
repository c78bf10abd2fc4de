"""The proposals service (協働事業提案制度): calls, proposals, screening, agreements, projects.

It knows wards, policies and actors only from the registry's events, kept in its own read
model. ``bootstrap`` is the one place that builds clients; importing this module creates none.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from redis.asyncio import Redis

from services.proposals.api import router as proposals_router
from services.proposals.api_projects import router as projects_router
from services.proposals.demo import start_demo_seeding
from services.proposals.projections import projection
from shared.clock import Clock
from shared.eventstore.store import EventStore
from shared.service import ServiceSpec, build_service
from shared.settings import Settings

SERVICE_NAME = "proposals"

SPEC = ServiceSpec(
    name=SERVICE_NAME,
    title="Kyōdō proposals: calls, screening and collaboration agreements (協働事業提案制度)",
    routers=[proposals_router, projects_router],
    projections=[projection],
    consumes=["registry", SERVICE_NAME],
)


def service_spec(settings: Settings) -> ServiceSpec:
    """The proposals spec; with ``demo_data`` it also loads demo calls and proposals once the
    registry's demo actors have arrived (in the background, bounded)."""
    if settings.demo_data:
        return replace(SPEC, on_start=[start_demo_seeding])
    return SPEC


def bootstrap(
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    workers: bool = True,
) -> FastAPI:
    spec = service_spec(settings)
    return build_service(spec, settings, store=store, redis=redis, clock=clock, workers=workers)
