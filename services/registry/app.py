"""The registry service: wards with versioned policy packs, and the actor data bank.

``bootstrap`` is the one place that builds clients; importing this module creates none.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from redis.asyncio import Redis

from services.registry import handlers
from services.registry.api import router
from services.registry.commands import OnboardWard
from services.registry.demo import seed_demo_data
from services.registry.events import ward_stream
from services.registry.policy import builtin_pack
from services.registry.projections import projection
from shared.clock import Clock
from shared.errors import ConcurrencyError
from shared.events import SYSTEM_ACTOR
from shared.eventstore.store import AppendContext, EventStore
from shared.handling import load
from shared.policy import builtin_wards
from shared.service import ServiceContext, ServiceSpec, build_service
from shared.settings import Settings

SERVICE_NAME = "registry"


async def seed_builtin_wards(ctx: ServiceContext) -> list[str]:
    """Onboard every ward whose pack ships with the platform, once; returns those onboarded now."""
    return await onboard_builtin_wards(ctx.store)


async def onboard_builtin_wards(store: EventStore) -> list[str]:
    onboarded = []
    for ward in builtin_wards():
        if (await load(store, handlers.WARD, ward_stream(ward))).state is not None:
            continue
        command = OnboardWard(pack=builtin_pack(ward))
        try:
            await handlers.onboard_ward(store, command, AppendContext(ward, SYSTEM_ACTOR))
        except ConcurrencyError:
            continue  # another instance onboarded it at the same moment
        onboarded.append(ward)
    return onboarded


SPEC = ServiceSpec(
    name=SERVICE_NAME,
    title="Kyōdō registry: wards, policy packs and the actor data bank (区民活動データバンク)",
    routers=[router],
    projections=[projection],
    consumes=[SERVICE_NAME],
    on_start=[seed_builtin_wards],
)


def service_spec(settings: Settings) -> ServiceSpec:
    """The registry's spec; with ``demo_data`` set it also loads the demo directory at start."""
    if settings.demo_data:
        return replace(SPEC, on_start=[seed_builtin_wards, seed_demo_data])
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
