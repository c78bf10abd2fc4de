"""Given-when-then helpers for the registry's aggregates."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from services.registry.commands import PersonalData, RegisterActor
from services.registry.corporate_number import with_check_digit
from services.registry.policy import RegistryPolicy, registry_policy
from shared.events import EventActor, EventEnvelope, NewEvent
from shared.policy import load_builtin_pack

S = TypeVar("S")
STAFF = EventActor(subject="staff@nerima", role="staff")
NPO_NUMBER = with_check_digit("011105001234")


def nerima_policy() -> RegistryPolicy:
    return registry_policy(load_builtin_pack("nerima"), 1)


def ota_policy() -> RegistryPolicy:
    return registry_policy(load_builtin_pack("ota"), 1)


def envelopes(
    events: Sequence[NewEvent], *, ward: str = "nerima", stream_id: str = "s", first: int = 1
) -> list[EventEnvelope]:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    return [
        EventEnvelope(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            ward=ward,
            stream_id=stream_id,
            version=first + offset,
            position=first + offset,
            occurred_at=now,
            recorded_at=now,
            actor=STAFF,
            correlation_id="c",
            policy_version=1,
            data=event.data,
        )
        for offset, event in enumerate(events)
    ]


def given(
    initial: Callable[[], S],
    evolve: Callable[[S, EventEnvelope], S],
    *histories: Sequence[NewEvent],
    ward: str = "nerima",
) -> S:
    """The state after the given events (in order), as the handler would load it."""
    state = initial()
    history = [event for events in histories for event in events]
    for envelope in envelopes(history, ward=ward):
        state = evolve(state, envelope)
    return state


def registration(**overrides: Any) -> RegisterActor:
    values: dict[str, Any] = {
        "ward": "nerima",
        "actor_id": str(uuid.uuid4()),
        "kind": "neighbourhood_association",
        "name": "光が丘第一町会",
        "name_kana": "ヒカリガオカダイイチチョウカイ",
        "fields": ["safety", "community_development"],
        "area": "光が丘",
        "description": "防災訓練と見守り活動をしています。",
        "personal": PersonalData.model_validate(
            {
                "representative": {"name": "田中 一郎", "name_kana": "タナカ イチロウ"},
                "contact": {"email": "tanaka@example.jp", "phone": "03-1234-5678"},
            }
        ),
    }
    values.update(overrides)
    return RegisterActor(**values)


def data_of(events: Sequence[NewEvent]) -> list[tuple[str, dict[str, Any]]]:
    return [(event.event_type, event.data) for event in events]
