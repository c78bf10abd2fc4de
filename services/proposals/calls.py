"""Calls (募集): opened by the ward's staff, citizen-proposed or ward-proposed, with dates,
allowed forms, a budget limit and the rubric reviewers score.

Pure: ``evolve_call`` folds the stream; ``decide_open`` returns the new events or raises.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict

from services.proposals.commands import OpenCall
from services.proposals.events import CALL_OPENED
from services.proposals.policy import ProposalsPolicy
from shared.errors import Conflict, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent


class RubricItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    ja: str
    weight: int
    max_score: int


class Call(BaseModel):
    model_config = ConfigDict(frozen=True)

    call_id: str
    ward: str
    title: str
    kind: str
    opens_on: date
    closes_on: date
    allowed_forms: tuple[str, ...]
    budget_limit_yen: int
    rubric: tuple[RubricItem, ...]
    description: str | None = None
    opened_at: datetime | None = None

    @property
    def citizen_proposed(self) -> bool:
        return self.kind == "citizen_proposed"

    @property
    def max_weighted_total(self) -> int:
        return sum(item.weight * item.max_score for item in self.rubric)

    def is_open_on(self, day: date) -> bool:
        return self.opens_on <= day <= self.closes_on


def initial_call() -> Call | None:
    return None


def evolve_call(state: Call | None, event: EventEnvelope) -> Call | None:
    if event.event_type != CALL_OPENED:
        return state
    data = event.data
    return Call(
        call_id=data["call_id"],
        ward=event.ward,
        title=data["title"],
        kind=data["kind"],
        opens_on=data["opens_on"],
        closes_on=data["closes_on"],
        allowed_forms=tuple(data["allowed_forms"]),
        budget_limit_yen=data["budget_limit_yen"],
        rubric=tuple(RubricItem.model_validate(item) for item in data["rubric"]),
        description=data.get("description"),
        opened_at=event.occurred_at,
    )


def decide_open(state: Call | None, command: OpenCall, policy: ProposalsPolicy) -> list[NewEvent]:
    if state is not None:
        raise Conflict(f"call {command.call_id} is already open")
    _check_forms(policy, command.allowed_forms)
    rubric = (
        [item.model_dump() for item in command.rubric]
        if command.rubric is not None
        else [
            {"code": r.code, "ja": r.ja, "weight": r.weight, "max_score": r.max_score}
            for r in policy.rubric
        ]
    )
    codes = [item["code"] for item in rubric]
    if len(set(codes)) != len(codes):
        raise InvalidCommand("each rubric item has its own code")
    data = {
        "call_id": command.call_id,
        "title": command.title,
        "kind": command.kind,
        "opens_on": command.opens_on.isoformat(),
        "closes_on": command.closes_on.isoformat(),
        "allowed_forms": list(command.allowed_forms),
        "budget_limit_yen": command.budget_limit_yen,
        "rubric": rubric,
        "description": command.description,
    }
    return [NewEvent(event_type=CALL_OPENED, data=data)]


def existing_call(state: Call | None, ward: str, call_id: str) -> Call:
    """The call, if it was opened in this ward: another ward's call does not exist here."""
    if state is None or state.ward != ward:
        raise NotFound(f"no call {call_id} in ward {ward!r}", ward=ward)
    return state


def _check_forms(policy: ProposalsPolicy, forms: list[str]) -> None:
    unknown = sorted(set(forms) - set(policy.forms))
    if unknown:
        raise InvalidCommand(
            f"ward {policy.ward!r} has no collaboration form {', '.join(unknown)}",
            known=sorted(policy.forms),
        )
    side = sorted(form for form in forms if not policy.is_collaboration_form(form))
    if side:
        raise InvalidCommand(
            f"{', '.join(side)} is side support, not a collaboration project a call invites",
            side_support=side,
        )
