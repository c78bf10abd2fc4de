"""One record per corporation per ward: a 法人番号 is claimed by the actor that registers it.

The claim stream is appended in the same transaction as the actor's own event, so two
concurrent registrations of one corporation in one ward cannot both succeed.
"""

from __future__ import annotations

from services.registry.events import CORPORATE_NUMBER_CLAIMED, CORPORATE_NUMBER_RELEASED
from shared.errors import Conflict
from shared.events import EventEnvelope, NewEvent

Holder = str | None


def initial_claim() -> Holder:
    return None


def evolve_claim(_holder: Holder, event: EventEnvelope) -> Holder:
    if event.event_type == CORPORATE_NUMBER_CLAIMED:
        return str(event.data["actor_id"])
    return None


def decide_claim(holder: Holder, ward: str, number: str, actor_id: str) -> list[NewEvent]:
    if holder is not None:
        raise Conflict(
            f"a corporation with 法人番号 {number} is already registered in ward {ward!r}",
            corporate_number=number,
        )
    data = {"corporate_number": number, "actor_id": actor_id}
    return [NewEvent(event_type=CORPORATE_NUMBER_CLAIMED, data=data)]


def decide_release(holder: Holder, number: str, actor_id: str) -> list[NewEvent]:
    if holder != actor_id:
        return []
    data = {"corporate_number": number, "actor_id": actor_id}
    return [NewEvent(event_type=CORPORATE_NUMBER_RELEASED, data=data)]
