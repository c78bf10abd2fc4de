"""The evaluation's clock-driven work: open the rounds that fell due, flag the breaches of the
ward's limits. ``sweep`` does it once for today (tests drive it with a FixedClock); the service
runs ``sweep_forever`` in the background, which sweeps again whenever the read model has moved
(new events arrived) or the date has changed.

Each decision goes to a stream whose id follows from what it is about, so concurrent sweeps (two
instances, or a sweep and a member of staff) cannot open one round or raise one flag twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.evaluation import handlers, queries
from services.evaluation.events import scheduled_round_id
from services.evaluation.inertia import find_breaches
from services.evaluation.schedule import due_occasions
from shared.clock import Clock
from shared.db import Database
from shared.errors import Conflict
from shared.events import SYSTEM_ACTOR
from shared.eventstore.store import AppendContext, EventStore
from shared.policy.fiscal import JST
from shared.service import ServiceContext

log = logging.getLogger("kyodo.evaluation.sweep")
DEFAULT_INTERVAL = 1.0


@dataclass
class SweepReport:
    opened_rounds: list[str] = field(default_factory=list)
    raised_flags: list[str] = field(default_factory=list)


def today_in_japan(clock: Clock) -> date:
    return clock().astimezone(JST).date()


async def sweep(ctx: ServiceContext) -> SweepReport:
    today = today_in_japan(ctx.clock)
    report = SweepReport()
    report.opened_rounds = await open_due_rounds(ctx.store, ctx.database, today)
    report.raised_flags = await raise_inertia_flags(ctx.store, ctx.database)
    return report


async def open_due_rounds(store: EventStore, database: Database, today: date) -> list[str]:
    policies = await queries.ward_policies(database)
    opened = await queries.round_ids(database)
    newly: list[str] = []
    for row in await queries.all_projects(database):
        policy = policies.get(row["ward"])
        if policy is None:
            continue  # the ward's pack has not arrived yet; the next sweep sees it
        due = due_occasions(
            row["term_start"], row["term_end"], row["ended_on"], policy.schedule, today
        )
        for occasion in due:
            round_id = scheduled_round_id(
                policy.ward, row["project_id"], occasion.kind, occasion.key[1]
            )
            if round_id in opened:
                continue
            project = queries.snapshot_of(row)
            context = AppendContext(policy.ward, SYSTEM_ACTOR)
            try:
                await handlers.open_scheduled_round(store, policy, project, occasion, context)
            except Conflict:
                continue  # opened meanwhile (by staff, or another instance)
            newly.append(round_id)
    return newly


async def raise_inertia_flags(store: EventStore, database: Database) -> list[str]:
    raised: list[str] = []
    for ward, policy in (await queries.ward_policies(database)).items():
        facts = await queries.ward_facts(database, ward)
        known = await queries.flag_ids(database, ward)
        for breach in find_breaches(facts, policy.limits):
            if breach.flag_id in known:
                continue
            try:
                await handlers.raise_flag(store, policy, breach, AppendContext(ward, SYSTEM_ACTOR))
            except Conflict:
                continue
            raised.append(breach.flag_id)
    return raised


async def sweep_forever(ctx: ServiceContext, interval: float = DEFAULT_INTERVAL) -> None:
    """Sweep whenever something arrived or the date changed; stop with the service."""
    swept: tuple[Any, ...] | None = None
    while not ctx.stop.is_set():
        try:
            state = (today_in_japan(ctx.clock), await _positions(ctx))
            if state != swept:
                report = await sweep(ctx)
                swept = state
                if report.opened_rounds or report.raised_flags:
                    log.info(
                        "opened %d rounds, raised %d inertia flags",
                        len(report.opened_rounds),
                        len(report.raised_flags),
                    )
        except Exception:
            log.exception("evaluation sweep failed; retrying")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), timeout=interval)


async def _positions(ctx: ServiceContext) -> tuple[Any, ...]:
    if ctx.runner is None:
        return ()
    return await queries.applied_positions(ctx.database, ctx.runner.projection.name)


def start_sweeper(interval: float = DEFAULT_INTERVAL) -> Any:
    """An on-start hook that runs the sweep in the background for the service's lifetime."""

    def start(ctx: ServiceContext) -> None:
        ctx.tasks.append(asyncio.create_task(sweep_forever(ctx, interval)))

    return start
