"""The fund service (区民活動基金): donations with the donor's designation, grants with lineage,
a double-entry ledger, receipts, statements and reconciliation.

It knows wards, actors and projects only from the registry's and proposals' events.
``bootstrap`` is the one place that builds clients; importing this module creates none.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from redis.asyncio import Redis

from services.fund import api_donations, api_grants, api_reports
from services.fund.demo import start_demo
from services.fund.handlers import FundService
from services.fund.projections import projection
from services.fund.watcher import start_watcher
from shared.clock import Clock
from shared.eventstore.store import EventStore
from shared.service import ServiceSpec, build_service
from shared.settings import Settings

SERVICE_NAME = "fund"
# Donations arrive hundreds a second at peak, and each projected batch writes four tables: at
# 500 donations/s, batches gathered over 50 ms halve the workers' CPU per donation, and the
# read model shows a donation up to about 0.1 s later.
PACE = 0.05


SPEC = ServiceSpec(
    name=SERVICE_NAME,
    title="Kyōdō fund (区民活動基金): donations, grants, ledger, receipts and statements",
    routers=[api_donations.router, api_grants.router, api_reports.router],
    projections=[projection],
    consumes=["registry", "proposals", SERVICE_NAME],
    pace=PACE,
)
"""The read models and the streams they consume, as audit replay finds them; the running
service adds hooks bound to its FundService (``service_spec``)."""


def service_spec(settings: Settings, fund: FundService) -> ServiceSpec:
    hooks = [start_watcher(fund)]
    if settings.demo_data:
        hooks.append(start_demo(fund))
    return replace(SPEC, on_start=hooks)


def bootstrap(
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    workers: bool = True,
) -> FastAPI:
    fund = FundService()
    spec = service_spec(settings, fund)
    app = build_service(spec, settings, store=store, redis=redis, clock=clock, workers=workers)
    fund.attach(app.state.ctx)
    app.state.fund = fund
    return app
