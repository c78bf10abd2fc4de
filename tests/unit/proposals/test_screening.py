"""Review with recusal, weighted totals, and the decision that needs enough counted reviews."""

from __future__ import annotations

import pytest

from services.proposals import proposal, screening
from services.proposals.commands import SubmitProposal
from services.proposals.events import (
    PROPOSAL_DECIDED,
    REVIEW_SUBMITTED,
    REVIEWER_RECUSED,
)
from services.proposals.proposal import ADOPTED, REVISE, UNDER_REVIEW
from shared.errors import Conflict, InvalidCommand
from tests.unit.proposals.support import (
    ACTIVE,
    LEAD,
    PARTNER,
    POLICY,
    PROPOSAL_ID,
    TODAY,
    decision,
    drafted,
    open_call,
    review,
    reviewed,
    submitted,
    types_of,
)

# Nerima's rubric: weights 3, 3, 2, 2, 1, 1, 2 (sum 14) over scores of at most 5.
WEIGHTS = sum(item.weight for item in POLICY.rubric)


def test_a_review_counts_with_its_weighted_total() -> None:
    history = submitted()
    events = screening.decide_review(history.state, review("r1", score=4), open_call())
    assert types_of(events) == [REVIEW_SUBMITTED]
    data = events[0].data
    assert data["weighted_total"] == 4 * WEIGHTS
    assert data["max_weighted_total"] == 5 * WEIGHTS
    assert (data["counted_reviews"], data["weighted_score_sum"]) == (1, 4 * WEIGHTS)


def test_a_reviewer_declaring_a_conflict_is_recused_and_their_score_never_counts() -> None:
    command = review("r1", score=5, conflict_of_interest=True)
    history = submitted()
    events = screening.decide_review(history.state, command, open_call())
    assert types_of(events) == [REVIEWER_RECUSED]
    assert events[0].data["reason"] == "conflict_of_interest"
    state = history.then(events).state
    assert state is not None and state.counted_reviews == 0 and state.weighted_score_sum == 0
    with pytest.raises(Conflict):
        screening.decide_review(state, review("r1", score=5), open_call())


@pytest.mark.parametrize("actor_id", [LEAD, PARTNER])
def test_a_reviewer_who_is_a_member_of_a_proposing_actor_is_recused(actor_id: str) -> None:
    command = review("r1", score=5, reviewer_actor_id=actor_id)
    events = screening.decide_review(submitted().state, command, open_call())
    assert types_of(events) == [REVIEWER_RECUSED]
    assert events[0].data["reason"] == "member_of_proposing_actor"
    assert events[0].data["actor_id"] == actor_id


def test_a_member_of_an_unrelated_actor_reviews() -> None:
    command = review("r1", reviewer_actor_id="actor-elsewhere")
    assert types_of(screening.decide_review(submitted().state, command, open_call())) == [
        REVIEW_SUBMITTED
    ]


def test_recusal_after_a_review_drops_that_score() -> None:
    history = reviewed(submitted(), review("r1", score=5), review("r2", score=3))
    late = review("r1", scores={}, conflict_of_interest=True)
    events = screening.decide_review(history.state, late, open_call())
    assert events[0].data["dropped_review"] is True
    assert events[0].data["counted_reviews"] == 1
    state = history.then(events).state
    assert state is not None
    assert state.counted_reviews == 1 and state.weighted_score_sum == 3 * WEIGHTS


def test_a_second_review_by_the_same_reviewer_replaces_the_first() -> None:
    history = reviewed(submitted(), review("r1", score=2), review("r1", score=4))
    state = history.state
    assert state is not None
    assert state.counted_reviews == 1 and state.weighted_score_sum == 4 * WEIGHTS


def test_scores_cover_the_rubric_and_stay_within_each_maximum() -> None:
    state = submitted().state
    with pytest.raises(InvalidCommand, match="missing"):
        screening.decide_review(state, review("r1", scores={"public_benefit": 3}), open_call())
    extra = {item.code: 3 for item in POLICY.rubric} | {"charm": 3}
    with pytest.raises(InvalidCommand, match="no item"):
        screening.decide_review(state, review("r1", scores=extra), open_call())
    with pytest.raises(InvalidCommand, match="maximum"):
        screening.decide_review(state, review("r1", score=6), open_call())


def test_only_a_proposal_under_review_is_reviewed() -> None:
    with pytest.raises(Conflict):
        screening.decide_review(drafted().state, review("r1"), open_call())


def test_a_decision_needs_the_packs_minimum_of_counted_reviews() -> None:
    assert POLICY.min_counted_reviews == 3
    history = reviewed(
        submitted(),
        review("r1"),
        review("r2"),
        review("r3", conflict_of_interest=True),
        review("r4", reviewer_actor_id=LEAD),
    )
    with pytest.raises(Conflict) as refused:
        screening.decide_decision(history.state, decision(), POLICY)
    assert refused.value.extensions["counted_reviews"] == 2
    assert refused.value.extensions["recused_reviewers"] == 2
    reviewed(history, review("r5"))
    events = screening.decide_decision(history.state, decision(), POLICY)
    assert types_of(events) == [PROPOSAL_DECIDED]
    data = events[0].data
    assert data["outcome"] == "adopted" and data["reasons"] == ["公益性が高い"]
    assert data["counted_reviews"] == 3
    state = history.then(events).state
    assert state is not None and state.status == ADOPTED and state.is_public


def test_a_proposal_sent_back_for_revision_is_edited_and_reviewed_afresh() -> None:
    history = reviewed(
        submitted(),
        review("r1"),
        review("r2"),
        review("r3", conflict_of_interest=True),
        review("r4"),
    )
    history.then(screening.decide_decision(history.state, decision("revise"), POLICY))
    state = history.state
    assert state is not None and state.status == REVISE and state.is_public
    command = SubmitProposal(ward="nerima", proposal_id=PROPOSAL_ID, by_actor=LEAD)
    history.then(proposal.decide_submit(state, command, open_call(), POLICY, ACTIVE, TODAY))
    again = history.state
    assert again is not None and again.status == UNDER_REVIEW and again.round == 2
    assert again.counted_reviews == 0 and "r3" in again.recusals
    assert not again.is_public
    with pytest.raises(Conflict):
        screening.decide_review(again, review("r3"), open_call())


def test_a_decided_proposal_is_not_decided_again() -> None:
    history = reviewed(submitted(), review("r1"), review("r2"), review("r3"))
    history.then(screening.decide_decision(history.state, decision("rejected"), POLICY))
    with pytest.raises(Conflict):
        screening.decide_decision(history.state, decision("adopted"), POLICY)
