"""Command handling for event-sourced aggregates: load the stream, decide, append.

Domains stay pure: ``evolve(state, event) -> state`` folds history and a decider returns the new
events; this module only does the I/O around them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.events.envelope import EventEnvelope, NewEvent
from shared.eventstore.store import AppendContext, AppendResult, EventStore

State = TypeVar("State")


@dataclass(frozen=True)
class Aggregate(Generic[State]):
    initial: Callable[[], State]
    evolve: Callable[[State, EventEnvelope], State]


@dataclass(frozen=True)
class Loaded(Generic[State]):
    state: State
    version: int
    ward: str | None


async def load(store: EventStore, aggregate: Aggregate[State], stream_id: str) -> Loaded[State]:
    state = aggregate.initial()
    history = await store.read_stream(stream_id)
    for envelope in history:
        state = aggregate.evolve(state, envelope)
    ward = history[0].ward if history else None
    return Loaded(state, len(history) and history[-1].version, ward)


async def execute(
    store: EventStore,
    aggregate: Aggregate[State],
    stream_id: str,
    decide: Callable[[State], Sequence[NewEvent]],
    context: AppendContext,
) -> AppendResult:
    """Decide against the current state and append with optimistic concurrency.

    A retried request (same idempotency key) gets its first result before anything is decided.
    """
    replay = await store.replay(context)
    if replay is not None:
        return replay
    loaded = await load(store, aggregate, stream_id)
    return await store.append(stream_id, loaded.version, decide(loaded.state), context)
