"""The evaluation service (協働事業評価制度): rounds of joint reflection, inertia flags and
portfolio figures, learnt from the registry's, proposals' and fund's events.

``bootstrap`` is the one place that builds clients; importing this module creates none.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from redis.asyncio import Redis

from services.evaluation.api import router
from services.evaluation.demo import seed_demo_data
from services.evaluation.projections import projection
from services.evaluation.sweep import DEFAULT_INTERVAL, start_sweeper
from shared.clock import Clock
from shared.eventstore.store import EventStore
from shared.service import ServiceSpec, build_service
from shared.settings import Settings

SERVICE_NAME = "evaluation"

SPEC = ServiceSpec(
    name=SERVICE_NAME,
    title="Kyōdō evaluation: joint reflection, inertia limits and portfolio (協働事業評価制度)",
    routers=[router],
    projections=[projection],
    consumes=["registry", "proposals", "fund", SERVICE_NAME],
)


def service_spec(
    settings: Settings, *, workers: bool = True, sweep_interval: float = DEFAULT_INTERVAL
) -> ServiceSpec:
    """The spec; with workers it sweeps in the background, with ``demo_data`` it seeds rounds."""
    hooks = [start_sweeper(sweep_interval)] if workers else []
    if settings.demo_data and workers:
        hooks.append(seed_demo_data)
    return replace(SPEC, on_start=hooks)


def bootstrap(
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    workers: bool = True,
    sweep_interval: float = DEFAULT_INTERVAL,
) -> FastAPI:
    spec = service_spec(settings, workers=workers, sweep_interval=sweep_interval)
    return build_service(spec, settings, store=store, redis=redis, clock=clock, workers=workers)
