"""Eligibility at submission: given a draft and what the registry told us, when it is
submitted, then EligibilityAssessed records every failing rule as a reason."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.proposals import eligibility, proposal
from services.proposals.commands import SubmitProposal
from services.proposals.events import ELIGIBILITY_ASSESSED, PROPOSAL_SUBMITTED
from services.proposals.proposal import INELIGIBLE, UNDER_REVIEW
from shared.errors import Conflict
from tests.unit.proposals.support import (
    ACTIVE,
    LEAD,
    PARTNER,
    POLICY,
    drafted,
    open_call,
    submitted,
    types_of,
)


def assessment(history: Any) -> dict[str, Any]:
    event = history.events[-1]
    assert event.event_type == ELIGIBILITY_ASSESSED
    data: dict[str, Any] = event.data
    return data


def reason_codes(history: Any) -> list[str]:
    return [reason["code"] for reason in assessment(history)["reasons"]]


def test_an_eligible_proposal_goes_under_review_with_every_check_recorded() -> None:
    history = submitted()
    assert types_of(history.events[-2:]) == [PROPOSAL_SUBMITTED, ELIGIBILITY_ASSESSED]
    data = assessment(history)
    assert data["eligible"] is True and data["reasons"] == []
    rules = {check["rule"] for check in data["checks"]}
    assert {"actor_in_good_standing", "call_open", "form_allowed", "budget_within_limit"} <= rules
    assert all(check["passed"] for check in data["checks"])
    assert len([c for c in data["checks"] if c["rule"] == "exclusion"]) == len(POLICY.exclusions)
    state = history.state
    assert state is not None and state.status == UNDER_REVIEW and state.domain == "B"
    submitted_data = history.events[-2].data
    assert submitted_data["fields"] == ["childcare"] and submitted_data["citizen_proposed"] is True


@pytest.mark.parametrize(
    ("standings", "expected"),
    [
        ({LEAD: "suspended", PARTNER: "active"}, ["actor_suspended"]),
        ({LEAD: "active", PARTNER: "pending"}, ["actor_not_verified"]),
        ({LEAD: "active"}, ["actor_not_registered"]),
        ({LEAD: "deregistered", PARTNER: "suspended"}, ["actor_deregistered", "actor_suspended"]),
    ],
)
def test_lead_and_partners_are_registered_verified_and_not_suspended(
    standings: dict[str, str], expected: list[str]
) -> None:
    history = submitted(standings=standings)
    assert reason_codes(history) == expected
    state = history.state
    assert state is not None and state.status == INELIGIBLE
    reasons = assessment(history)["reasons"]
    assert all(reason["actor_id"] in (LEAD, PARTNER) for reason in reasons)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 3, 31), ["call_not_yet_open"]),
        (date(2026, 4, 1), []),
        (date(2026, 5, 31), []),
        (date(2026, 6, 1), ["call_closed"]),
    ],
)
def test_the_call_is_open_on_the_day_of_submission(today: date, expected: list[str]) -> None:
    assert reason_codes(submitted(today=today)) == expected


def test_a_form_the_call_does_not_invite_is_a_reason() -> None:
    history = submitted(drafted(form="joint_committee"))
    reasons = assessment(history)["reasons"]
    assert [r["code"] for r in reasons] == ["form_not_allowed"]
    assert reasons[0]["allowed_forms"] == ["subsidy", "co_hosting", "commission"]


def test_a_form_the_ward_does_not_know_and_side_support_are_reasons() -> None:
    call = open_call(allowed_forms=["subsidy"])
    unknown = submitted(drafted(form="guild_support"), call=call)
    assert reason_codes(unknown) == ["form_unknown", "form_not_allowed", "not_collaboration_domain"]
    side = submitted(drafted(form="other_support"), call=call)
    assert reason_codes(side) == ["form_not_allowed", "not_collaboration_domain"]


def test_the_requested_budget_is_within_the_calls_limit() -> None:
    within = submitted(drafted(requested_yen=3_000_000, budget_total_yen=3_500_000))
    assert reason_codes(within) == []
    over = submitted(drafted(requested_yen=3_000_001, budget_total_yen=3_500_000))
    assert reason_codes(over) == ["budget_over_limit"]
    assert assessment(over)["reasons"][0]["requested_yen"] == 3_000_001


def test_the_term_is_within_the_packs_years() -> None:
    three_years = drafted(term_start=date(2026, 6, 1), term_end=date(2029, 5, 31))
    assert reason_codes(submitted(three_years)) == []
    a_day_more = drafted(term_start=date(2026, 6, 1), term_end=date(2029, 6, 1))
    assert reason_codes(submitted(a_day_more)) == ["term_too_long"]


def test_a_declared_exclusion_or_an_undeclared_one_makes_it_ineligible() -> None:
    declared = {code: False for code in POLICY.exclusions}
    political = submitted(drafted(exclusions={**declared, "political": True}))
    assert reason_codes(political) == ["exclusion_applies"]
    assert assessment(political)["reasons"][0]["exclusion"] == "political"
    del declared["religious"]
    silent = submitted(drafted(exclusions=declared))
    assert reason_codes(silent) == ["exclusion_not_declared"]


def test_every_failing_rule_is_a_reason_at_once() -> None:
    history = submitted(
        drafted(form="joint_committee", requested_yen=3_500_000, budget_total_yen=3_500_000),
        standings={LEAD: "pending", PARTNER: "active"},
        today=date(2026, 7, 1),
    )
    assert reason_codes(history) == [
        "actor_not_verified",
        "call_closed",
        "form_not_allowed",
        "budget_over_limit",
    ]


def test_an_ineligible_proposal_stops_there() -> None:
    history = submitted(standings={LEAD: "suspended", PARTNER: "active"})
    again = SubmitProposal(ward="nerima", proposal_id="proposal-1", by_actor=LEAD)
    with pytest.raises(Conflict):
        proposal.decide_submit(history.state, again, open_call(), POLICY, ACTIVE, date(2026, 5, 2))


@pytest.mark.parametrize(
    ("start", "end", "years", "exceeded"),
    [
        (date(2026, 4, 1), date(2027, 3, 31), 1, False),
        (date(2026, 4, 1), date(2027, 4, 1), 1, True),
        (date(2024, 2, 29), date(2025, 2, 28), 1, False),
        (date(2024, 2, 29), date(2025, 3, 1), 1, True),
    ],
)
def test_a_term_of_n_years_ends_the_day_before_the_same_date(
    start: date, end: date, years: int, exceeded: bool
) -> None:
    assert eligibility.term_years_exceeded(start, end, years) is exceeded
