"""Given events / when command / then events or error, for drafting, editing, submitting and
withdrawing a proposal."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.proposals import proposal
from services.proposals.commands import EditProposal, ProposalChanges, WithdrawProposal
from services.proposals.events import PROPOSAL_DRAFTED, PROPOSAL_EDITED, PROPOSAL_WITHDRAWN
from services.proposals.proposal import DRAFT, UNDER_REVIEW, WITHDRAWN
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from tests.unit.proposals.support import (
    LEAD,
    OUTSIDER,
    PARTNER,
    POLICY,
    PROPOSAL_ID,
    adopted,
    draft,
    drafted,
    open_call,
    submitted,
    types_of,
)


def edit(by_actor: str = LEAD, **changes: Any) -> EditProposal:
    return EditProposal(
        ward="nerima",
        proposal_id=PROPOSAL_ID,
        by_actor=by_actor,
        changes=ProposalChanges.model_validate(changes),
    )


def withdraw(by_actor: str = LEAD) -> WithdrawProposal:
    return WithdrawProposal(
        ward="nerima", proposal_id=PROPOSAL_ID, by_actor=by_actor, reason="体制が整わない"
    )


def test_a_member_of_the_lead_actor_drafts_a_proposal() -> None:
    history = drafted()
    assert types_of(history.events) == [PROPOSAL_DRAFTED]
    data = history.events[0].data
    assert data["lead_actor_id"] == LEAD and data["partner_actor_ids"] == [PARTNER]
    assert data["budget_total_yen"] == 2_400_000 and data["fields"] == ["childcare"]
    state = history.state
    assert state is not None and state.status == DRAFT and state.round == 0
    assert not state.is_public


def test_an_actor_cannot_propose_for_another_actor() -> None:
    with pytest.raises(Forbidden):
        proposal.decide_draft(None, draft(by_actor=OUTSIDER), open_call(), POLICY, "active")


@pytest.mark.parametrize("status", ["suspended", "deregistered"])
def test_a_suspended_or_deregistered_actor_cannot_draft(status: str) -> None:
    with pytest.raises(Conflict, match=status):
        proposal.decide_draft(None, draft(), open_call(), POLICY, status)


@pytest.mark.parametrize("status", [None, "pending", "active"])
def test_an_unknown_or_unverified_lead_may_draft_and_learns_why_at_submission(
    status: str | None,
) -> None:
    assert proposal.decide_draft(None, draft(), open_call(), POLICY, status)


def test_a_draft_names_a_call_of_its_ward() -> None:
    with pytest.raises(InvalidCommand):
        proposal.decide_draft(None, draft(), None, POLICY, "active")
    ota_call = open_call().model_copy(update={"ward": "ota"})
    with pytest.raises(InvalidCommand):
        proposal.decide_draft(None, draft(), ota_call, POLICY, "active")


BAD_CONTENT = [
    ("requested over total", {"requested_yen": 2_500_000}),
    ("term ends before it starts", {"term_start": date(2026, 6, 1), "term_end": date(2026, 5, 1)}),
    ("lead is also a partner", {"partner_actor_ids": [LEAD]}),
    ("role of a stranger", {"roles": [{"party": OUTSIDER, "role": "x"}]}),
    (
        "two roles of one party",
        {"roles": [{"party": LEAD, "role": "a"}, {"party": LEAD, "role": "b"}]},
    ),
    ("field of the other ward", {"fields": ["tourism"]}),
    ("unknown exclusion", {"exclusions": {"gambling": False}}),
]


@pytest.mark.parametrize(("case", "overrides"), BAD_CONTENT, ids=[c[0] for c in BAD_CONTENT])
def test_content_that_does_not_add_up_is_refused(case: str, overrides: dict[str, Any]) -> None:
    with pytest.raises(InvalidCommand):
        proposal.decide_draft(None, draft(**overrides), open_call(), POLICY, "active")


def test_the_proposer_edits_a_draft_and_only_changes_are_recorded() -> None:
    history = drafted()
    events = proposal.decide_edit(
        history.state, edit(title="民設子育てのひろば事業（拡充）", form="subsidy"), POLICY
    )
    assert types_of(events) == [PROPOSAL_EDITED]
    assert events[0].data["changes"] == {"title": "民設子育てのひろば事業（拡充）"}
    state = history.then(events).state
    assert state is not None and state.content.title.endswith("（拡充）")
    assert proposal.decide_edit(state, edit(form="subsidy"), POLICY) == []


def test_an_edit_is_checked_as_a_whole() -> None:
    with pytest.raises(InvalidCommand):
        proposal.decide_edit(drafted().state, edit(requested_yen=9_000_000), POLICY)


def test_only_the_lead_actor_edits_and_only_while_draft() -> None:
    with pytest.raises(Forbidden):
        proposal.decide_edit(drafted().state, edit(by_actor=PARTNER, title="x"), POLICY)
    with pytest.raises(Conflict):
        proposal.decide_edit(submitted().state, edit(title="x"), POLICY)


def test_a_proposal_of_another_ward_does_not_exist_here() -> None:
    ota_edit = edit(title="x").model_copy(update={"ward": "ota"})
    with pytest.raises(NotFound):
        proposal.decide_edit(drafted().state, ota_edit, POLICY)


@pytest.mark.parametrize("history", [drafted, submitted], ids=["draft", "under review"])
def test_the_proposer_withdraws_before_the_decision(history: Any) -> None:
    given = history()
    events = proposal.decide_withdraw(given.state, withdraw())
    assert types_of(events) == [PROPOSAL_WITHDRAWN]
    assert events[0].data["reason"] == "体制が整わない"
    state = given.then(events).state
    assert state is not None and state.status == WITHDRAWN


def test_no_withdrawal_after_the_decision_or_by_another_actor() -> None:
    with pytest.raises(Conflict):
        proposal.decide_withdraw(adopted().state, withdraw())
    with pytest.raises(Forbidden):
        proposal.decide_withdraw(submitted().state, withdraw(by_actor=OUTSIDER))


def test_submission_is_refused_to_other_actors_and_after_submission() -> None:
    from services.proposals.commands import SubmitProposal

    state = submitted().state
    assert state is not None and state.status == UNDER_REVIEW
    command = SubmitProposal(ward="nerima", proposal_id=PROPOSAL_ID, by_actor=LEAD)
    with pytest.raises(Conflict):
        proposal.decide_submit(state, command, open_call(), POLICY, {}, date(2026, 5, 2))
    other = SubmitProposal(ward="nerima", proposal_id=PROPOSAL_ID, by_actor=PARTNER)
    with pytest.raises(Forbidden):
        proposal.decide_submit(drafted().state, other, open_call(), POLICY, {}, date(2026, 5, 2))
