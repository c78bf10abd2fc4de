"""One function per command: load the stream, decide, append with optimistic concurrency.

What a decision needs from other services (the ward's pack, the project) comes from the read
model; a round carries what its later steps need from the moment it opens. A repeated request
(same Idempotency-Key) returns the first outcome instead of deciding again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Generic, TypeVar

from services.evaluation import inertia, queries, rounds
from services.evaluation.commands import (
    AttachReview,
    ClearInertiaFlag,
    ConcludeRound,
    ReconcileScores,
    RoundOpening,
    SubmitAssessment,
)
from services.evaluation.events import flag_stream, round_stream, scheduled_round_id
from services.evaluation.inertia import Breach, Flag
from services.evaluation.policy import EvaluationPolicy
from services.evaluation.rounds import ProjectSnapshot, Round
from services.evaluation.schedule import (
    Occasion,
    evaluation_schedule,
    find_occasion,
    project_end_date,
)
from shared.db import Database
from shared.errors import InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent
from shared.eventstore.store import AppendContext, AppendResult, EventStore
from shared.handling import Aggregate, load
from shared.ids import new_id
from shared.policy import fiscal_year
from shared.projections.queries import Row

S = TypeVar("S")
RoundCommand = TypeVar(
    "RoundCommand", SubmitAssessment, ReconcileScores, AttachReview, ConcludeRound
)

ROUND = Aggregate(rounds.initial_round, rounds.evolve_round)
FLAG = Aggregate(inertia.initial_flag, inertia.evolve_flag)
INTERIM = "interim"


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """The aggregate after the command, its version (the ETag) and the events appended."""

    state: S
    version: int
    events: list[EventEnvelope] = field(default_factory=list)


# --- opening rounds -----------------------------------------------------------------------


async def open_round(
    store: EventStore,
    database: Database,
    ward: str,
    opening: RoundOpening,
    context: AppendContext,
    today: date,
) -> Outcome[Round | None]:
    """Staff open a round: an interim one, or a scheduled one ahead of its date."""
    if (earlier := await _earlier_result(store, context)) is not None:
        stream = next(e.stream_id for e in earlier.events)
        return await _state_after(store, ROUND, stream, earlier)
    policy = await _ward_policy(database, ward)
    row = await queries.find_project(database, ward, opening.project_id)
    if row is None:
        raise NotFound(f"no started project {opening.project_id} in ward {ward!r}", ward=ward)
    project = queries.snapshot_of(row)
    if opening.occasion == INTERIM:
        occasion = interim_occasion(project, row["ended_on"], today)
        round_id = new_id()
    else:
        occasion = _scheduled(row, policy, opening)
        round_id = scheduled_round_id(ward, project.project_id, occasion.kind, occasion.key[1])
    return await _open(store, policy, project, occasion, round_id, opening.reason, context)


def interim_occasion(project: ProjectSnapshot, ended_on: date | None, today: date) -> Occasion:
    """An interim round looks back from the start of the term to today (or the end)."""
    start = project.term_start
    end = max(start, min(today, project_end_date(project.term_end, ended_on)))
    return Occasion(INTERIM, fiscal_year(today), start, end)


async def open_round_with_id(
    store: EventStore,
    policy: EvaluationPolicy,
    project: ProjectSnapshot,
    occasion: Occasion,
    round_id: str,
    reason: str | None,
    context: AppendContext,
) -> Outcome[Round | None]:
    return await _open(store, policy, project, occasion, round_id, reason, context)


async def open_scheduled_round(
    store: EventStore,
    policy: EvaluationPolicy,
    project: ProjectSnapshot,
    occasion: Occasion,
    context: AppendContext,
) -> Outcome[Round | None]:
    round_id = scheduled_round_id(policy.ward, project.project_id, occasion.kind, occasion.key[1])
    return await _open(store, policy, project, occasion, round_id, None, context)


async def _open(
    store: EventStore,
    policy: EvaluationPolicy,
    project: ProjectSnapshot,
    occasion: Occasion,
    round_id: str,
    reason: str | None,
    context: AppendContext,
) -> Outcome[Round | None]:
    def decide(state: Round | None) -> list[NewEvent]:
        return rounds.decide_open(
            state,
            round_id=round_id,
            project=project,
            occasion=occasion.kind,
            fiscal_year=occasion.fiscal_year,
            period_start=occasion.period_start,
            period_end=occasion.period_end,
            policy=policy,
            reason=reason,
        )

    context = replace(context, ward=policy.ward, policy_version=policy.version)
    return await _decide(store, ROUND, round_stream(round_id), decide, context)


def _scheduled(row: Row, policy: EvaluationPolicy, opening: RoundOpening) -> Occasion:
    schedule = evaluation_schedule(
        row["term_start"], row["term_end"], row["ended_on"], policy.schedule
    )
    occasion = find_occasion(schedule, opening.occasion, opening.fiscal_year)
    if occasion is None:
        raise InvalidCommand(
            f"project {row['project_id']} has no {opening.occasion} round"
            + (f" for fiscal year {opening.fiscal_year}" if opening.fiscal_year else ""),
            schedule=[
                {"occasion": o.kind, "fiscal_year": o.fiscal_year, "due_on": o.due_on.isoformat()}
                for o in schedule
            ],
        )
    return occasion


# --- a round's steps ----------------------------------------------------------------------


async def submit_assessment(
    store: EventStore, database: Database, command: SubmitAssessment, context: AppendContext
) -> Outcome[Round | None]:
    return await _round_step(store, database, command, rounds.decide_submit, context)


async def reconcile_scores(
    store: EventStore, database: Database, command: ReconcileScores, context: AppendContext
) -> Outcome[Round | None]:
    return await _round_step(store, database, command, rounds.decide_reconcile, context)


async def attach_review(
    store: EventStore, database: Database, command: AttachReview, context: AppendContext
) -> Outcome[Round | None]:
    return await _round_step(store, database, command, rounds.decide_review, context)


async def conclude_round(
    store: EventStore, database: Database, command: ConcludeRound, context: AppendContext
) -> Outcome[Round | None]:
    return await _round_step(store, database, command, rounds.decide_conclude, context)


async def _round_step(
    store: EventStore,
    database: Database,
    command: RoundCommand,
    decider: Callable[[Round | None, RoundCommand], Sequence[NewEvent]],
    context: AppendContext,
) -> Outcome[Round | None]:
    policy = await queries.ward_policy(database, command.ward)
    context = replace(context, policy_version=policy.version if policy else None)

    def decide(state: Round | None) -> Sequence[NewEvent]:
        return decider(state, command)

    return await _decide(store, ROUND, round_stream(command.round_id), decide, context)


async def load_round(store: EventStore, ward: str, round_id: str) -> Outcome[Round]:
    loaded = await load(store, ROUND, round_stream(round_id))
    return Outcome(rounds.existing_round(loaded.state, ward, round_id), loaded.version)


# --- inertia flags ------------------------------------------------------------------------


async def raise_flag(
    store: EventStore, policy: EvaluationPolicy, breach: Breach, context: AppendContext
) -> Outcome[Flag | None]:
    context = replace(context, ward=policy.ward, policy_version=policy.version)
    stream = flag_stream(breach.flag_id)
    return await _decide(store, FLAG, stream, lambda s: inertia.decide_flag(s, breach), context)


async def clear_flag(
    store: EventStore, database: Database, command: ClearInertiaFlag, context: AppendContext
) -> Outcome[Flag | None]:
    policy = await queries.ward_policy(database, command.ward)
    context = replace(context, policy_version=policy.version if policy else None)
    stream = flag_stream(command.flag_id)
    return await _decide(store, FLAG, stream, lambda s: inertia.decide_clear(s, command), context)


# --- the plumbing every command shares ----------------------------------------------------


async def _ward_policy(database: Database, ward: str) -> EvaluationPolicy:
    policy = await queries.ward_policy(database, ward)
    if policy is None:
        raise NotFound(f"ward {ward!r} is not known to the evaluation (yet)", ward=ward)
    return policy


async def _decide(
    store: EventStore,
    aggregate: Aggregate[S],
    stream: str,
    decide: Callable[[S], Sequence[NewEvent]],
    context: AppendContext,
) -> Outcome[S]:
    if (earlier := await _earlier_result(store, context)) is not None:
        return await _state_after(store, aggregate, stream, earlier)
    loaded = await load(store, aggregate, stream)
    result = await store.append(stream, loaded.version, decide(loaded.state), context)
    state, version = loaded.state, loaded.version
    for event in result.events:
        state, version = aggregate.evolve(state, event), event.version
    return Outcome(state, version, result.events)


async def _earlier_result(store: EventStore, context: AppendContext) -> AppendResult | None:
    return await store.replay(context)


async def _state_after(
    store: EventStore, aggregate: Aggregate[S], stream: str, result: AppendResult
) -> Outcome[S]:
    """The aggregate as the first request left it."""
    last = max(e.version for e in result.events if e.stream_id == stream)
    state = aggregate.initial()
    for event in await store.read_stream(stream):
        if event.version <= last:
            state = aggregate.evolve(state, event)
    return Outcome(state, last, result.events)
