"""Holds designated money as soon as its target is gone.

The fund learns that an actor was deregistered or a project ended from the read model (fed by
the registry's and proposals' events); this loop then appends the hold, through the same
decider and serialisation as every other movement. It runs in every instance: a hold decided
twice is appended once (the second decision finds nothing new to hold).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from services.fund import queries
from services.fund.handlers import FundService
from shared.service import ServiceContext

log = logging.getLogger("kyodo.fund.watcher")
INTERVAL_SECONDS = 0.5


async def hold_gone_targets_once(fund: FundService) -> int:
    held = 0
    for ward in await queries.ward_names(fund.ctx.database):
        held += await fund.hold_gone_targets(ward)
    return held


async def watch(fund: FundService, stop: asyncio.Event, interval: float = INTERVAL_SECONDS) -> None:
    while not stop.is_set():
        try:
            await hold_gone_targets_once(fund)
        except Exception:
            log.exception("holding the money of gone targets failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def start_watcher(fund: FundService) -> Callable[[ServiceContext], None]:
    def hook(ctx: ServiceContext) -> None:
        ctx.tasks.append(asyncio.create_task(watch(fund, ctx.stop)))

    return hook
