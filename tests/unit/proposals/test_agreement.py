"""Agreements: versioned terms whose cost shares sum to the total; every party signs; the
project starts when all have signed; an amendment is a new version signed again."""

from __future__ import annotations

from datetime import date

import pytest

from services.proposals import agreement
from services.proposals.agreement import DRAFTING, ENDED, STARTED
from services.proposals.commands import EndProject
from services.proposals.events import (
    AGREEMENT_AMENDED,
    AGREEMENT_DRAFTED,
    AGREEMENT_SIGNED,
    PROJECT_ENDED,
    PROJECT_STARTED,
    project_id_of,
)
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from tests.unit.proposals.support import (
    LEAD,
    OUTSIDER,
    PARTNER,
    POLICY,
    PROPOSAL_ID,
    ProjectHistory,
    adopted,
    agreement_terms,
    drafted_agreement,
    sign,
    submitted,
    types_of,
)

PROJECT_ID = project_id_of(PROPOSAL_ID)


def signed_by_all(history: ProjectHistory) -> ProjectHistory:
    for party in (LEAD, PARTNER, "ward"):
        history.then(agreement.decide_sign(history.state, sign(party)))
    return history


def test_an_adopted_proposal_gets_a_first_version_with_the_proposals_facts() -> None:
    history = drafted_agreement()
    assert types_of(history.events) == [AGREEMENT_DRAFTED]
    data = history.events[0].data
    assert data["project_id"] == PROJECT_ID and data["agreement_version"] == 1
    assert data["form"] == "subsidy" and data["domain"] == "B"
    assert data["term_start"] == "2026-06-01" and data["budget_total_yen"] == 2_400_000
    state = history.state
    assert state is not None and state.status == DRAFTING
    assert state.current.unsigned_parties == [LEAD, PARTNER, "ward"]


def test_only_an_adopted_proposal_gets_an_agreement() -> None:
    with pytest.raises(Conflict):
        agreement.decide_draft(None, submitted().state, agreement_terms(), POLICY)
    with pytest.raises(NotFound):
        agreement.decide_draft(None, None, agreement_terms(), POLICY)


def test_cost_shares_sum_to_the_total() -> None:
    parties = [
        {"party": LEAD, "role": "運営", "cost_share_yen": 500_000},
        {"party": PARTNER, "role": "会場", "cost_share_yen": 100_000},
        {"party": "ward", "role": "補助", "cost_share_yen": 1_799_999},
    ]
    with pytest.raises(InvalidCommand, match="sum"):
        agreement.decide_draft(None, adopted().state, agreement_terms(parties=parties), POLICY)
    smaller = agreement_terms(parties=parties, budget_total_yen=2_399_999, requested_yen=1_000_000)
    assert agreement.decide_draft(None, adopted().state, smaller, POLICY)


def test_the_parties_are_the_lead_every_partner_and_the_ward() -> None:
    without_partner = [
        {"party": LEAD, "role": "運営", "cost_share_yen": 600_000},
        {"party": "ward", "role": "補助", "cost_share_yen": 1_800_000},
    ]
    with pytest.raises(InvalidCommand):
        agreement.decide_draft(
            None, adopted().state, agreement_terms(parties=without_partner), POLICY
        )
    with_outsider = [*without_partner, {"party": OUTSIDER, "role": "x", "cost_share_yen": 0}]
    with pytest.raises(InvalidCommand):
        agreement.decide_draft(
            None, adopted().state, agreement_terms(parties=with_outsider), POLICY
        )


def test_a_term_beyond_the_packs_years_is_refused() -> None:
    long_term = agreement_terms(term_start=date(2026, 6, 1), term_end=date(2029, 6, 1))
    with pytest.raises(InvalidCommand, match="3 years"):
        agreement.decide_draft(None, adopted().state, long_term, POLICY)


def test_each_party_signs_and_the_last_signature_starts_the_project() -> None:
    history = drafted_agreement()
    first = agreement.decide_sign(history.state, sign(LEAD))
    assert types_of(first) == [AGREEMENT_SIGNED]
    assert first[0].data["unsigned_parties"] == [PARTNER, "ward"]
    history.then(first).then(agreement.decide_sign(history.state, sign("ward")))
    last = agreement.decide_sign(history.state, sign(PARTNER))
    assert types_of(last) == [AGREEMENT_SIGNED, PROJECT_STARTED]
    started = last[1].data
    assert started == {
        "project_id": PROJECT_ID,
        "proposal_id": PROPOSAL_ID,
        "call_id": "call-1",
        "title": "民設子育てのひろば事業",
        "form": "subsidy",
        "domain": "B",
        "lead_actor_id": LEAD,
        "partner_actor_ids": [PARTNER],
        "parties": [
            {"party": LEAD, "role": "ひろばの運営", "cost_share_yen": 500_000},
            {"party": PARTNER, "role": "会場の提供", "cost_share_yen": 100_000},
            {"party": "ward", "role": "経費の一部補助", "cost_share_yen": 1_800_000},
        ],
        "department": "子育て支援課",
        "fields": ["childcare"],
        "term_start": "2026-06-01",
        "term_end": "2027-05-31",
        "budget_total_yen": 2_400_000,
        "requested_yen": 1_800_000,
        "citizen_proposed": True,
        "agreement_version": 1,
        "purpose": "子育てひろばで親子の交流と相談の場をつくる。",
    }
    state = history.then(last).state
    assert state is not None and state.status == STARTED and state.in_force_version == 1


def test_a_party_outside_the_agreement_cannot_sign() -> None:
    with pytest.raises(Forbidden):
        agreement.decide_sign(drafted_agreement().state, sign(OUTSIDER))


def test_a_party_signs_once_and_only_the_current_version() -> None:
    history = drafted_agreement()
    history.then(agreement.decide_sign(history.state, sign(LEAD)))
    with pytest.raises(Conflict, match="already signed"):
        agreement.decide_sign(history.state, sign(LEAD))
    with pytest.raises(Conflict, match="current"):
        agreement.decide_sign(history.state, sign(PARTNER, version=2))


def test_a_corrected_draft_is_a_new_version_whose_signatures_start_afresh() -> None:
    history = drafted_agreement()
    history.then(agreement.decide_sign(history.state, sign(LEAD)))
    corrected = agreement.decide_draft(
        history.state, adopted().state, agreement_terms(purpose="子育てひろばを週5日開く。"), POLICY
    )
    assert corrected[0].data["agreement_version"] == 2
    assert corrected[0].data["amends_version"] is None
    state = history.then(corrected).state
    assert state is not None and state.current.unsigned_parties == [LEAD, PARTNER, "ward"]
    assert len(state.versions) == 2


def test_an_amendment_is_a_new_version_all_parties_sign_again() -> None:
    history = signed_by_all(drafted_agreement())
    with pytest.raises(InvalidCommand, match="amendment_reason"):
        agreement.decide_draft(history.state, adopted().state, agreement_terms(), POLICY)
    amended_terms = agreement_terms(
        amendment_reason="利用者の増加に合わせて期間を延ばす",
        term_end=date(2028, 5, 31),
    )
    amendment = agreement.decide_draft(history.state, adopted().state, amended_terms, POLICY)
    assert amendment[0].data["agreement_version"] == 2
    assert amendment[0].data["amends_version"] == 1
    history.then(amendment)
    state = history.state
    assert state is not None and state.in_force_version == 1 and state.status == STARTED
    for party in (LEAD, "ward"):
        history.then(agreement.decide_sign(history.state, sign(party)))
    last = agreement.decide_sign(history.state, sign(PARTNER))
    assert types_of(last) == [AGREEMENT_SIGNED, AGREEMENT_AMENDED]
    assert last[1].data["agreement_version"] == 2 and last[1].data["term_end"] == "2028-05-31"
    state = history.then(last).state
    assert state is not None and state.in_force_version == 2
    with pytest.raises(Conflict, match="nothing awaits"):
        agreement.decide_sign(state, sign(LEAD))


def test_staff_end_a_started_project() -> None:
    end = EndProject(
        ward="nerima", project_id=PROJECT_ID, reason="事業期間の満了", ended_on=date(2027, 5, 31)
    )
    with pytest.raises(Conflict):
        agreement.decide_end(drafted_agreement().state, end)
    history = signed_by_all(drafted_agreement())
    events = agreement.decide_end(history.state, end)
    assert types_of(events) == [PROJECT_ENDED]
    assert events[0].data == {
        "project_id": PROJECT_ID,
        "proposal_id": PROPOSAL_ID,
        "reason": "事業期間の満了",
        "ended_on": "2027-05-31",
    }
    state = history.then(events).state
    assert state is not None and state.status == ENDED
    with pytest.raises(Conflict):
        agreement.decide_draft(
            state, adopted().state, agreement_terms(amendment_reason="x"), POLICY
        )
    with pytest.raises(Conflict):
        agreement.decide_end(state, end)
