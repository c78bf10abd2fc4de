"""Envelope serialisation and upcasting."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.events import EventActor, EventEnvelope, EventTypeRegistry


def envelope(data: dict[str, object], schema_version: int = 1) -> EventEnvelope:
    now = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type="fund.DonationReceived",
        schema_version=schema_version,
        ward="nerima",
        stream_id="donation-1",
        version=1,
        position=7,
        occurred_at=now,
        recorded_at=now,
        actor=EventActor(subject="f1", role="finance"),
        correlation_id="c",
        data=data,
    )


@given(st.dictionaries(st.text(), st.one_of(st.integers(), st.text(), st.booleans(), st.none())))
def test_stored_body_and_position_round_trip(data: dict[str, object]) -> None:
    original = envelope(data)
    body = json.dumps(original.model_dump(mode="json", exclude={"position"}), ensure_ascii=False)
    assert EventEnvelope.from_body(body, original.position) == original


def test_naive_timestamps_are_refused() -> None:
    document = envelope({}).model_dump(mode="json")
    document["occurred_at"] = "2026-04-01T09:30:00"
    with pytest.raises(ValidationError):
        EventEnvelope.model_validate(document)


def test_old_events_are_upcast_on_read_without_touching_stored_bytes() -> None:
    registry = EventTypeRegistry()
    registry.register("fund.DonationReceived", version=3)

    @registry.upcaster("fund.DonationReceived", 1)
    def amount_in_yen(data: dict[str, object]) -> dict[str, object]:
        return {**{k: v for k, v in data.items() if k != "amount"}, "amount_yen": data["amount"]}

    @registry.upcaster("fund.DonationReceived", 2)
    def designation_default(data: dict[str, object]) -> dict[str, object]:
        return {"designation": {"kind": "general"}, **data}

    stored = envelope({"amount": 5000})
    upgraded = registry.upcast(stored)
    assert upgraded.schema_version == 3
    assert upgraded.data == {"designation": {"kind": "general"}, "amount_yen": 5000}
    assert stored.data == {"amount": 5000}
    current = envelope({"amount_yen": 1}, schema_version=3)
    assert registry.upcast(current) is current
