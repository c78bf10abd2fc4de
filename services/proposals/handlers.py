"""One function per command: read what the registry told us, load the stream, decide, append.

A repeated request (same Idempotency-Key) returns the first outcome before anything is decided
or read, so a retried submission is not assessed twice. Every append records the ward's policy
version in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Generic, TypeVar

from services.proposals import agreement, calls, proposal, queries, screening
from services.proposals.agreement import Project
from services.proposals.calls import Call
from services.proposals.commands import (
    WARD_PARTY,
    DecideProposal,
    DraftAgreement,
    DraftProposal,
    EditProposal,
    EndProject,
    OpenCall,
    SignAgreement,
    SubmitProposal,
    SubmitReview,
    WithdrawProposal,
)
from services.proposals.events import (
    call_stream,
    project_id_of,
    project_stream,
    proposal_stream,
)
from services.proposals.policy import ProposalsPolicy
from services.proposals.proposal import Proposal
from shared.db import Database
from shared.errors import Conflict
from shared.events import EventEnvelope, NewEvent
from shared.eventstore.store import AppendContext, AppendResult, EventStore
from shared.handling import Aggregate, Loaded, load

S = TypeVar("S")

CALL = Aggregate(calls.initial_call, calls.evolve_call)
PROPOSAL = Aggregate(proposal.initial_proposal, proposal.evolve_proposal)
PROJECT = Aggregate(agreement.initial_project, agreement.evolve_project)


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """The aggregate after the command, its version (the ETag) and the events appended."""

    state: S
    version: int
    events: list[EventEnvelope] = field(default_factory=list)


# --- calls ----------------------------------------------------------------------------------


async def open_call(
    store: EventStore, database: Database, command: OpenCall, context: AppendContext
) -> Outcome[Call | None]:
    if (earlier := await _earlier(store, CALL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    loaded = await load(store, CALL, call_stream(command.call_id))
    events = calls.decide_open(loaded.state, command, policy)
    return await _append(store, CALL, call_stream(command.call_id), loaded, events, context, policy)


# --- proposals ------------------------------------------------------------------------------


async def draft_proposal(
    store: EventStore, database: Database, command: DraftProposal, context: AppendContext
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    call = (await load(store, CALL, call_stream(command.call_id))).state
    standings = await queries.actor_standings(database, command.ward, [command.lead_actor_id])
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    lead_status = standings.get(command.lead_actor_id)
    events = proposal.decide_draft(loaded.state, command, call, policy, lead_status)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


async def edit_proposal(
    store: EventStore, database: Database, command: EditProposal, context: AppendContext
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    events = proposal.decide_edit(loaded.state, command, policy)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


async def submit_proposal(
    store: EventStore,
    database: Database,
    command: SubmitProposal,
    context: AppendContext,
    *,
    today: date,
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    current = proposal.existing_proposal(loaded.state, command.ward, command.proposal_id)
    call = await _existing_call(store, command.ward, current.call_id)
    standings = await queries.actor_standings(database, command.ward, current.actor_ids)
    events = proposal.decide_submit(loaded.state, command, call, policy, standings, today)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


async def withdraw_proposal(
    store: EventStore, database: Database, command: WithdrawProposal, context: AppendContext
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    events = proposal.decide_withdraw(loaded.state, command)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


# --- screening ------------------------------------------------------------------------------


async def submit_review(
    store: EventStore, database: Database, command: SubmitReview, context: AppendContext
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    current = proposal.existing_proposal(loaded.state, command.ward, command.proposal_id)
    call = await _existing_call(store, command.ward, current.call_id)
    events = screening.decide_review(loaded.state, command, call)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


async def decide_proposal(
    store: EventStore, database: Database, command: DecideProposal, context: AppendContext
) -> Outcome[Proposal | None]:
    if (earlier := await _earlier(store, PROPOSAL, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = proposal_stream(command.proposal_id)
    loaded = await load(store, PROPOSAL, stream)
    events = screening.decide_decision(loaded.state, command, policy)
    return await _append(store, PROPOSAL, stream, loaded, events, context, policy)


# --- agreements and projects ----------------------------------------------------------------


async def draft_agreement(
    store: EventStore, database: Database, command: DraftAgreement, context: AppendContext
) -> Outcome[Project | None]:
    if (earlier := await _earlier(store, PROJECT, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    adopted = (await load(store, PROPOSAL, proposal_stream(command.proposal_id))).state
    stream = project_stream(project_id_of(command.proposal_id))
    loaded = await load(store, PROJECT, stream)
    events = agreement.decide_draft(loaded.state, adopted, command, policy)
    return await _append(store, PROJECT, stream, loaded, events, context, policy)


async def sign_agreement(
    store: EventStore, database: Database, command: SignAgreement, context: AppendContext
) -> Outcome[Project | None]:
    if (earlier := await _earlier(store, PROJECT, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = project_stream(project_id_of(command.proposal_id))
    loaded = await load(store, PROJECT, stream)
    events = agreement.decide_sign(loaded.state, command)
    if command.party != WARD_PARTY:
        await _require_usable(database, command.ward, command.party)
    return await _append(store, PROJECT, stream, loaded, events, context, policy)


async def end_project(
    store: EventStore, database: Database, command: EndProject, context: AppendContext
) -> Outcome[Project | None]:
    if (earlier := await _earlier(store, PROJECT, context)) is not None:
        return earlier
    policy = await queries.ward_policy(database, command.ward)
    stream = project_stream(command.project_id)
    loaded = await load(store, PROJECT, stream)
    events = agreement.decide_end(loaded.state, command)
    return await _append(store, PROJECT, stream, loaded, events, context, policy)


# --- the plumbing every command shares ------------------------------------------------------


async def _existing_call(store: EventStore, ward: str, call_id: str) -> Call:
    loaded = await load(store, CALL, call_stream(call_id))
    return calls.existing_call(loaded.state, ward, call_id)


async def _require_usable(database: Database, ward: str, actor_id: str) -> None:
    status = (await queries.actor_standings(database, ward, [actor_id])).get(actor_id)
    if status != "active":
        raise Conflict(
            f"actor {actor_id} is {status or 'not registered'} in ward {ward!r} and cannot sign",
            actor_status=status,
        )


async def _append(
    store: EventStore,
    aggregate: Aggregate[S],
    stream: str,
    loaded: Loaded[S],
    events: Sequence[NewEvent],
    context: AppendContext,
    policy: ProposalsPolicy,
) -> Outcome[S]:
    if not events:
        return Outcome(loaded.state, loaded.version)
    context = replace(context, policy_version=policy.version)
    result = await store.append(stream, loaded.version, events, context)
    state, version = loaded.state, loaded.version
    for event in result.events:
        state, version = aggregate.evolve(state, event), event.version
    return Outcome(state, version, result.events)


async def _earlier(
    store: EventStore, aggregate: Aggregate[S], context: AppendContext
) -> Outcome[S] | None:
    """The aggregate as the first request with this idempotency key left it."""
    result = await store.replay(context)
    if result is None or not result.events:
        return None
    return await _state_after(store, aggregate, result)


async def _state_after(
    store: EventStore, aggregate: Aggregate[S], result: AppendResult
) -> Outcome[S]:
    stream = result.events[0].stream_id
    last = max(e.version for e in result.events if e.stream_id == stream)
    state = aggregate.initial()
    for event in await store.read_stream(stream):
        if event.version <= last:
            state = aggregate.evolve(state, event)
    return Outcome(state, last, result.events)
