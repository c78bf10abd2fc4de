"""One function per command: load the streams, decide, append with optimistic concurrency.

A repeated request (same Idempotency-Key) returns the first outcome instead of deciding again,
so a retried registration or verification does not turn into a conflict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar

from services.registry import claims, domain, wards
from services.registry.commands import (
    AnnounceActivity,
    ChangeWardPolicy,
    DeregisterActor,
    OnboardWard,
    RegisterActor,
    ReinstateActor,
    SuspendActor,
    UpdateActorProfile,
    VerifyActor,
)
from services.registry.domain import Actor
from services.registry.events import (
    ACTOR_DEREGISTERED,
    ACTOR_REGISTERED,
    actor_stream,
    claim_stream,
    ward_stream,
)
from services.registry.policy import RegistryPolicy, policy_from_document
from services.registry.wards import Ward
from shared.errors import Conflict
from shared.events import EventEnvelope, NewEvent
from shared.eventstore.store import AppendContext, AppendResult, EventStore, StreamAppend
from shared.handling import Aggregate, Loaded, load

S = TypeVar("S")

ACTOR = Aggregate(domain.initial_actor, domain.evolve_actor)
WARD = Aggregate(wards.initial_ward, wards.evolve_ward)
CLAIM = Aggregate(claims.initial_claim, claims.evolve_claim)


class PreconditionFailed(Conflict):
    """If-Match named a version the stream has moved past."""

    status = 412
    title = "Precondition failed"
    type_slug = "precondition-failed"


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """The aggregate after the command, its version (the ETag) and the events appended."""

    state: S
    version: int
    events: list[EventEnvelope] = field(default_factory=list)


# --- wards --------------------------------------------------------------------------------


async def onboard_ward(
    store: EventStore, command: OnboardWard, context: AppendContext
) -> Outcome[Ward | None]:
    ward = command.pack.ward
    context = replace(context, ward=ward, policy_version=wards.FIRST_POLICY_VERSION)
    return await _decide(
        store, WARD, ward_stream(ward), lambda s: wards.decide_onboard(s, command), context
    )


async def change_ward_policy(
    store: EventStore,
    command: ChangeWardPolicy,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Ward | None]:
    stream = ward_stream(command.ward)
    if (earlier := await _earlier_result(store, context)) is not None:
        return await _state_after(store, WARD, stream, earlier)
    loaded = await load(store, WARD, stream)
    current = wards.existing_ward(loaded.state, command.ward)
    _check_precondition(loaded, expected_version)
    # Decided under the policy in force; the event itself installs the next version.
    context = replace(context, policy_version=current.policy_version)
    events = wards.decide_change_policy(loaded.state, command)
    result = await store.append(stream, loaded.version, events, context)
    return _folded(WARD, loaded, stream, result)


async def current_policy(store: EventStore, ward: str) -> RegistryPolicy:
    loaded = await load(store, WARD, ward_stream(ward))
    current = wards.existing_ward(loaded.state, ward)
    return policy_from_document(current.pack, current.pack_hash, current.policy_version)


# --- actors -------------------------------------------------------------------------------

ActorDecider = Callable[[Actor | None, RegistryPolicy], Sequence[NewEvent]]


async def register_actor(
    store: EventStore, command: RegisterActor, context: AppendContext, *, by_staff: bool
) -> Outcome[Actor | None]:
    def decide(state: Actor | None, policy: RegistryPolicy) -> list[NewEvent]:
        return domain.decide_register(state, command, policy, by_staff=by_staff)

    return await _decide_actor(store, command.ward, command.actor_id, decide, context, None)


async def verify_actor(
    store: EventStore,
    command: VerifyActor,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, _p: domain.decide_verify(s, command),
        context,
        expected_version,
    )


async def update_actor_profile(
    store: EventStore,
    command: UpdateActorProfile,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, p: domain.decide_update_profile(s, command, p),
        context,
        expected_version,
    )


async def suspend_actor(
    store: EventStore,
    command: SuspendActor,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, _p: domain.decide_suspend(s, command),
        context,
        expected_version,
    )


async def reinstate_actor(
    store: EventStore,
    command: ReinstateActor,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, _p: domain.decide_reinstate(s, command),
        context,
        expected_version,
    )


async def deregister_actor(
    store: EventStore,
    command: DeregisterActor,
    context: AppendContext,
    *,
    expected_version: int | None = None,
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, _p: domain.decide_deregister(s, command),
        context,
        expected_version,
    )


async def announce_activity(
    store: EventStore, command: AnnounceActivity, context: AppendContext
) -> Outcome[Actor | None]:
    return await _decide_actor(
        store,
        command.ward,
        command.actor_id,
        lambda s, p: domain.decide_announce(s, command, p),
        context,
        None,
    )


async def _decide_actor(
    store: EventStore,
    ward: str,
    actor_id: str,
    decide: ActorDecider,
    context: AppendContext,
    expected_version: int | None,
) -> Outcome[Actor | None]:
    stream = actor_stream(actor_id)
    if (earlier := await _earlier_result(store, context)) is not None:
        return await _state_after(store, ACTOR, _stream_of(earlier, "actor-"), earlier)
    policy = await current_policy(store, ward)
    loaded = await load(store, ACTOR, stream)
    if expected_version is not None:
        domain.existing_actor(loaded.state, ward, actor_id)
        _check_precondition(loaded, expected_version)
    events = list(decide(loaded.state, policy))
    appends = [StreamAppend(stream, loaded.version, events)]
    appends += await _claim_appends(store, ward, events)
    result = await store.append_many(appends, replace(context, policy_version=policy.version))
    return _folded(ACTOR, loaded, stream, result)


async def _claim_appends(
    store: EventStore, ward: str, events: Sequence[NewEvent]
) -> list[StreamAppend]:
    """Registering a corporation claims its number in the ward; deregistering releases it."""
    appends = []
    for event in events:
        number = event.data.get("corporate_number")
        if number is None or event.event_type not in (ACTOR_REGISTERED, ACTOR_DEREGISTERED):
            continue
        stream = claim_stream(ward, number)
        loaded = await load(store, CLAIM, stream)
        actor_id = str(event.data["actor_id"])
        decided = (
            claims.decide_claim(loaded.state, ward, number, actor_id)
            if event.event_type == ACTOR_REGISTERED
            else claims.decide_release(loaded.state, number, actor_id)
        )
        if decided:
            appends.append(StreamAppend(stream, loaded.version, decided))
    return appends


# --- the plumbing every command shares ----------------------------------------------------


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
    return _folded(aggregate, loaded, stream, result)


async def _earlier_result(store: EventStore, context: AppendContext) -> AppendResult | None:
    if context.idempotency_key is None:
        return None
    # Appending nothing only looks the key up: the store answers a known key with its result.
    result = await store.append_many([], context)
    return result if result.replayed else None


def _check_precondition(loaded: Loaded[S], expected_version: int | None) -> None:
    if expected_version is not None and expected_version != loaded.version:
        raise PreconditionFailed(
            f"the resource is at version {loaded.version}, not {expected_version}",
            current_version=loaded.version,
        )


def _folded(
    aggregate: Aggregate[S], loaded: Loaded[S], stream: str, result: AppendResult
) -> Outcome[S]:
    state, version = loaded.state, loaded.version
    for event in result.events:
        if event.stream_id == stream:
            state, version = aggregate.evolve(state, event), event.version
    return Outcome(state, version, result.events)


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


def _stream_of(result: AppendResult, prefix: str) -> str:
    return next(e.stream_id for e in result.events if e.stream_id.startswith(prefix))
