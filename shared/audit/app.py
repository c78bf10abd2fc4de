"""The audit service (``kyodo serve audit``): consumes every service's events into per-ward
Merkle logs with a signed checkpoint per batch, and serves checkpoints, entries and proofs.

``bootstrap`` is the one place that builds clients and loads the signing key; importing this
module creates nothing.
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import FastAPI
from redis.asyncio import Redis

from shared.audit.api import router
from shared.audit.keys import AuditKeys, load_audit_keys
from shared.audit.projection import AuditProjection
from shared.clock import Clock
from shared.eventstore.store import EventStore
from shared.service import ServiceSpec, build_service
from shared.settings import Settings

SERVICE_NAME = "audit"
AUDITED_SERVICES = ("registry", "proposals", "fund", "evaluation")
"""Every service whose events are logged; streams of services not yet running are empty."""


SPEC = ServiceSpec(
    name=SERVICE_NAME,
    title="Kyōdō audit log: per-ward Merkle logs, signed checkpoints and proofs",
    routers=[router],
    consumes=AUDITED_SERVICES,
)
"""Without projections: the log is what a replay reads, not a read model it rebuilds. The
running service adds the projection that signs with its key (``service_spec``)."""


def service_spec(settings: Settings, keys: AuditKeys) -> ServiceSpec:
    projection = AuditProjection(
        [keys.signer], settings.audit_origin_prefix, trusted=keys.verifiers
    )
    return replace(SPEC, projections=[projection])


def bootstrap(
    settings: Settings,
    *,
    store: EventStore | None = None,
    redis: Redis | None = None,
    clock: Clock | None = None,
    workers: bool = True,
) -> FastAPI:
    keys = load_audit_keys(settings)
    spec = service_spec(settings, keys)
    app = build_service(spec, settings, store=store, redis=redis, clock=clock, workers=workers)
    app.state.audit_keys = keys
    return app
