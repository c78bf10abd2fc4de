"""Demo data: one reflected, reconciled and published round per built-in ward; idempotent.

The evaluation has no projects of its own: it waits (bounded) in the background until the
proposals service's projects have reached it, takes the earliest round of each ward (opening an
interim one for the earliest project when none is due yet), has both sides reflect on it and
concludes it. A second run finds that round concluded and does nothing; when no project arrives
in time it gives up quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import sqlalchemy as sa

from services.evaluation import handlers, queries
from services.evaluation.commands import (
    Assessment,
    ConcludeRound,
    Outcomes,
    ReconcileScores,
    Reconciliation,
    RoundConclusion,
    SubmitAssessment,
)
from services.evaluation.events import derived_id
from services.evaluation.projections import projects_table, rounds_table
from services.evaluation.rounds import ACTOR_SIDE, OPEN, READY, RECONCILING, WARD_SIDE, Round
from services.evaluation.sweep import today_in_japan
from shared.errors import Conflict
from shared.events import EventActor
from shared.eventstore.store import AppendContext
from shared.policy import builtin_wards
from shared.service import ServiceContext

log = logging.getLogger("kyodo.evaluation.demo")
DEMO_ACTOR = EventActor(subject="demo-data", role="system")
WAIT_SECONDS = 120.0
POLL_SECONDS = 1.0


def seed_demo_data(ctx: ServiceContext) -> None:
    """On-start hook: seeding waits for other services' events, so it runs in the background."""
    ctx.tasks.append(asyncio.create_task(_seed_then_idle(ctx)))


async def _seed_then_idle(ctx: ServiceContext) -> None:
    await seed_when_ready(ctx)
    # A worker task that ends looks unhealthy; this one stays until the service stops.
    await ctx.stop.wait()


async def seed_when_ready(ctx: ServiceContext, wait: float = WAIT_SECONDS) -> None:
    deadline = asyncio.get_running_loop().time() + wait
    pending = set(builtin_wards())
    while pending and not ctx.stop.is_set():
        for ward in sorted(pending):
            try:
                if await seed_ward(ctx, ward):
                    pending.discard(ward)
            except Exception:
                log.exception("demo evaluation of ward %s failed", ward)
                pending.discard(ward)
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            log.info("no demo rounds for %s within %.0fs; giving up", sorted(pending), wait)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), timeout=POLL_SECONDS)


async def seed_ward(ctx: ServiceContext, ward: str) -> bool:
    """Reflect on and conclude the ward's earliest round; False while it has none yet.

    When the ward has projects but none has a round due yet (demo projects start in the near
    future), the earliest project gets an interim round, as its department would open one.
    """
    context = AppendContext(ward, DEMO_ACTOR)
    row = await _earliest_round(ctx, ward)
    if row is None:
        await _open_interim_round(ctx, ward, context)
        return False
    state = Round.model_validate(row["document"])
    if state.status == OPEN:
        state = await _assess(ctx, state, context)
    if state.status == RECONCILING:
        state = await _reconcile(ctx, state, context)
    if state.status == READY:
        command = ConcludeRound(
            ward=ward,
            round_id=state.round_id,
            conclusion=RoundConclusion(
                conclusion="improve",
                reasons="双方の振り返りから、情報公開の進め方を改める必要があると判断した。",
                improvements="活動報告を区のホームページで四半期ごとに公開する。",
            ),
        )
        await handlers.conclude_round(ctx.store, ctx.database, command, context)
    return True


async def _open_interim_round(ctx: ServiceContext, ward: str, context: AppendContext) -> None:
    policy = await queries.ward_policy(ctx.database, ward)
    query = (
        sa.select(projects_table)
        .where(projects_table.c.ward == ward)
        .order_by(projects_table.c.started_at, projects_table.c.project_id)
        .limit(1)
    )
    rows = await ctx.database.read(lambda c: [dict(r) for r in c.execute(query).mappings()])
    if policy is None or not rows:
        return
    project = queries.snapshot_of(rows[0])
    occasion = handlers.interim_occasion(project, rows[0]["ended_on"], today_in_japan(ctx.clock))
    round_id = derived_id("demo-round", ward, project.project_id)
    reason = "デモ: 事業開始時の振り返り（目標と役割分担の確認）"
    with contextlib.suppress(Conflict):
        await handlers.open_round_with_id(
            ctx.store, policy, project, occasion, round_id, reason, context
        )


async def _earliest_round(ctx: ServiceContext, ward: str) -> dict[str, Any] | None:
    query = (
        sa.select(rounds_table)
        .where(rounds_table.c.ward == ward)
        .order_by(rounds_table.c.opened_at, rounds_table.c.round_id)
        .limit(1)
    )
    rows = await ctx.database.read(lambda c: [dict(r) for r in c.execute(query).mappings()])
    return rows[0] if rows else None


async def _assess(ctx: ServiceContext, state: Round, context: AppendContext) -> Round:
    outcome = None
    for side in (ACTOR_SIDE, WARD_SIDE):
        if side in state.submitted_sides:
            continue
        scores = {item.code: _demo_score(state, side, i) for i, item in enumerate(state.items)}
        assessment = Assessment(
            scores=scores,
            outcomes=Outcomes.model_validate(
                {
                    "targets": [
                        {"target": "講座の開催", "unit": "回", "planned": 4, "achieved": 0},
                        {"target": "参加者", "unit": "人", "planned": 120, "achieved": 0},
                    ],
                    "beneficiaries": 0,
                    "note": "開始時の目標を双方で確認した。",
                }
            ),
            comments=(
                "区と目的を共有し、役割分担を確認できた。"
                if side == ACTOR_SIDE
                else "区の広報への掲載時期の調整が必要である。"
            ),
        )
        command = SubmitAssessment(
            ward=state.ward,
            round_id=state.round_id,
            side=side,
            actor_id=state.project.lead_actor_id if side == ACTOR_SIDE else None,
            assessment=assessment,
        )
        outcome = await handlers.submit_assessment(ctx.store, ctx.database, command, context)
    assert outcome is not None and outcome.state is not None
    return outcome.state


def _demo_score(state: Round, side: str, index: int) -> int:
    """Mostly close scores; the first item far apart, so the round shows a reconciliation."""
    if index == 0:
        return state.scale_max if side == ACTOR_SIDE else state.scale_min
    leaning = 1 if side == ACTOR_SIDE and index % 2 else 0
    return min(state.scale_max, state.scale_min + 2 + leaning)


async def _reconcile(ctx: ServiceContext, state: Round, context: AppendContext) -> Round:
    assert state.divergent is not None
    scores = {d.code: (d.actor_score + d.ward_score) // 2 for d in state.divergent}
    command = ReconcileScores(
        ward=state.ward,
        round_id=state.round_id,
        reconciliation=Reconciliation(scores=scores, note="協議の上、中間の評価で合意した。"),
    )
    outcome = await handlers.reconcile_scores(ctx.store, ctx.database, command, context)
    assert outcome.state is not None
    return outcome.state
