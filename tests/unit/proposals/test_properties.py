"""Properties of the money and the scores: cost shares always sum to the total of a version
that was accepted, the budget rule follows the call's limit exactly, and recused reviewers
never count, whatever the order of reviews and recusals."""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.proposals import agreement, eligibility, screening
from services.proposals.commands import MAX_YEN
from services.proposals.events import PROJECT_STARTED
from shared.errors import Conflict, InvalidCommand
from tests.unit.proposals.support import (
    LEAD,
    PARTNER,
    POLICY,
    ProjectHistory,
    adopted,
    agreement_terms,
    open_call,
    review,
    sign,
    submitted,
)

shares = st.integers(min_value=0, max_value=5_000_000)
totals = st.integers(min_value=1, max_value=15_000_000)


@given(shares, shares, shares, totals)
@settings(max_examples=150, deadline=None)
def test_a_version_is_accepted_exactly_when_its_shares_sum_to_the_total(
    lead: int, partner: int, ward: int, total: int
) -> None:
    parties = [
        {"party": LEAD, "role": "運営", "cost_share_yen": lead},
        {"party": PARTNER, "role": "会場", "cost_share_yen": partner},
        {"party": "ward", "role": "補助", "cost_share_yen": ward},
    ]
    terms = agreement_terms(parties=parties, budget_total_yen=total, requested_yen=0)
    try:
        events = agreement.decide_draft(None, adopted().state, terms, POLICY)
    except InvalidCommand:
        assert lead + partner + ward != total
        return
    assert lead + partner + ward == total
    history = ProjectHistory(*events)
    for party in (LEAD, PARTNER, "ward"):
        history.then(agreement.decide_sign(history.state, sign(party)))
    started = next(e for e in history.events if e.event_type == PROJECT_STARTED).data
    assert sum(p["cost_share_yen"] for p in started["parties"]) == started["budget_total_yen"]
    assert all(isinstance(p["cost_share_yen"], int) for p in started["parties"])


@given(st.integers(min_value=0, max_value=MAX_YEN), st.integers(min_value=1, max_value=MAX_YEN))
def test_the_budget_rule_is_the_calls_limit_exactly(requested: int, limit: int) -> None:
    application = eligibility.Application(
        lead_actor_id=LEAD,
        partner_actor_ids=(),
        form="subsidy",
        fields=("childcare",),
        requested_yen=requested,
        term_start=date(2026, 6, 1),
        term_end=date(2027, 5, 31),
        exclusions={code: False for code in POLICY.exclusions},
    )
    call = open_call(budget_limit_yen=limit)
    checks = eligibility.assess(application, call, POLICY, {LEAD: "active"}, date(2026, 5, 1))
    codes = [reason["code"] for reason in eligibility.reasons(checks)]
    assert ("budget_over_limit" in codes) == (requested > limit)


REVIEWERS = ("r1", "r2", "r3", "r4")
WEIGHTS = {item.code: item.weight for item in POLICY.rubric}


class Screening(RuleBasedStateMachine):
    """Reviews, replacements and recusals in any order; the model is what should count."""

    def __init__(self) -> None:
        super().__init__()
        self.history = submitted()
        self.counted: dict[str, int] = {}
        self.recused: set[str] = set()

    def _apply(self, command: object) -> None:
        try:
            events = screening.decide_review(self.history.state, command, open_call())  # type: ignore[arg-type]
        except Conflict:
            return
        self.history.then(events)

    @rule(reviewer=st.sampled_from(REVIEWERS), score=st.integers(0, 5))
    def score(self, reviewer: str, score: int) -> None:
        self._apply(review(reviewer, score=score))
        if reviewer not in self.recused:
            self.counted[reviewer] = score * sum(WEIGHTS.values())

    @rule(reviewer=st.sampled_from(REVIEWERS))
    def declare_conflict(self, reviewer: str) -> None:
        self._apply(review(reviewer, scores={}, conflict_of_interest=True))
        self.recused.add(reviewer)
        self.counted.pop(reviewer, None)

    @rule(reviewer=st.sampled_from(REVIEWERS), score=st.integers(0, 5))
    def review_as_a_member_of_the_lead(self, reviewer: str, score: int) -> None:
        self._apply(review(reviewer, score=score, reviewer_actor_id=LEAD))
        self.recused.add(reviewer)
        self.counted.pop(reviewer, None)

    @invariant()
    def only_unrecused_reviews_count(self) -> None:
        state = self.history.state
        assert state is not None
        assert set(state.reviews) == set(self.counted)
        assert not set(state.reviews) & set(state.recusals)
        assert state.weighted_score_sum == sum(self.counted.values())
        last = self.history.events[-1].data
        if "counted_reviews" in last:
            assert last["counted_reviews"] == state.counted_reviews
            assert last["weighted_score_sum"] == state.weighted_score_sum


TestScreening = Screening.TestCase
TestScreening.settings = settings(max_examples=60, stateful_step_count=15, deadline=None)
