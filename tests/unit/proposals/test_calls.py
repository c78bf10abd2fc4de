"""Opening a call: the ward's forms and rubric, or the call's own rubric."""

from __future__ import annotations

from typing import Any

import pytest

from services.proposals import calls, proposal
from services.proposals.commands import OpenCall, SubmitProposal
from services.proposals.events import CALL_OPENED
from shared.errors import Conflict, InvalidCommand
from tests.unit.proposals.support import (
    ACTIVE,
    LEAD,
    POLICY,
    PROPOSAL_ID,
    TODAY,
    drafted,
    open_call,
    types_of,
)


def opening(**overrides: Any) -> OpenCall:
    values: dict[str, Any] = {
        "ward": "nerima",
        "call_id": "call-9",
        "title": "区提案型 協働事業",
        "kind": "ward_proposed",
        "opens_on": "2026-04-01",
        "closes_on": "2026-05-31",
        "allowed_forms": ["commission"],
        "budget_limit_yen": 1_000_000,
    }
    values.update(overrides)
    return OpenCall.model_validate(values)


def test_a_call_takes_the_wards_rubric_unless_it_gives_its_own() -> None:
    events = calls.decide_open(None, opening(), POLICY)
    assert types_of(events) == [CALL_OPENED]
    assert [item["code"] for item in events[0].data["rubric"]] == [r.code for r in POLICY.rubric]
    own = [{"code": "feasibility", "ja": "実現可能性", "weight": 2, "max_score": 10}]
    data = calls.decide_open(None, opening(rubric=own), POLICY)[0].data
    assert data["rubric"] == own and data["kind"] == "ward_proposed"


def test_a_call_invites_known_collaboration_forms_only() -> None:
    with pytest.raises(InvalidCommand, match="no collaboration form"):
        calls.decide_open(None, opening(allowed_forms=["lottery"]), POLICY)
    with pytest.raises(InvalidCommand, match="side support"):
        calls.decide_open(None, opening(allowed_forms=["other_support"]), POLICY)
    with pytest.raises(Conflict):
        calls.decide_open(open_call(), opening(call_id="call-1"), POLICY)


def test_a_proposal_to_a_ward_proposed_call_is_not_citizen_proposed() -> None:
    call = open_call(kind="ward_proposed")
    history = drafted()
    command = SubmitProposal(ward="nerima", proposal_id=PROPOSAL_ID, by_actor=LEAD)
    events = proposal.decide_submit(history.state, command, call, POLICY, ACTIVE, TODAY)
    assert events[0].data["citizen_proposed"] is False
