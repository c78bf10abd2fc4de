"""Given events / when command / then events or error, for a round of evaluation."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given as for_all
from hypothesis import strategies as st

from services.evaluation import rounds
from services.evaluation.commands import AttachReview, Review
from services.evaluation.events import (
    ASSESSMENT_SUBMITTED,
    ASSESSMENTS_COMPARED,
    ROUND_CONCLUDED,
    ROUND_OPENED,
    SCORES_RECONCILED,
    THIRD_PARTY_REVIEW_ATTACHED,
)
from services.evaluation.rounds import CONCLUDED, OPEN, READY, RECONCILING
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import NewEvent
from tests.unit.evaluation.support import (
    PARTNER,
    ROUND_ID,
    STRANGER,
    conclude,
    nerima_policy,
    opened,
    ota_policy,
    reconcile,
    round_after,
    scores,
    submit,
    types_of,
)

NERIMA_ITEMS = [
    "equality",
    "mutual_understanding",
    "respect_for_autonomy",
    "disclosure",
    "self_reliance",
    "shared_purpose",
    "evaluation",
    "outcome",
    "method",
    "process",
]


def review() -> AttachReview:
    body = Review(reviewer_body="練馬区協働推進会議", summary="双方の振り返りは妥当。")
    return AttachReview(ward="nerima", round_id=ROUND_ID, review=body)


def actor_submitted(**each: int) -> list[NewEvent]:
    return rounds.decide_submit(round_after(opened()), submit("actor", scores(**each)))


def both_submitted(actor: dict[str, int], ward: dict[str, int]) -> list[NewEvent]:
    first = rounds.decide_submit(round_after(opened()), submit("actor", actor))
    return first + rounds.decide_submit(round_after(opened(), first), submit("ward", ward))


DIVERGING = both_submitted(scores(equality=5, disclosure=1), scores(equality=2, disclosure=3))
AGREEING = both_submitted(scores(equality=4), scores(equality=2))


# --- opening ------------------------------------------------------------------------------


def test_a_round_opens_with_the_wards_items_scale_and_threshold() -> None:
    [event] = opened()
    assert event.event_type == ROUND_OPENED
    assert [item["code"] for item in event.data["items"]] == NERIMA_ITEMS
    assert event.data["items"][0] == {
        "code": "equality",
        "ja": "対等",
        "en": "Equality",
        "basis": "equality",
    }
    assert (event.data["scale_min"], event.data["scale_max"]) == (1, 5)
    assert event.data["divergence_threshold"] == 2
    state = round_after(opened())
    assert state is not None and state.status == OPEN and state.submitted_sides == ()


def test_ota_rounds_score_otas_principles_and_viewpoints() -> None:
    [event] = opened(ota_policy())
    codes = [item["code"] for item in event.data["items"]]
    assert codes[:3] == ["self_reliance", "understanding", "disclosure"]
    assert len(codes) == 6


def test_a_round_opens_once() -> None:
    with pytest.raises(Conflict):
        rounds.decide_open(
            round_after(opened()),
            round_id=ROUND_ID,
            project=round_after(opened()).project,  # type: ignore[union-attr]
            occasion="fiscal_year_end",
            fiscal_year=2025,
            period_start=round_after(opened()).period_start,  # type: ignore[union-attr]
            period_end=round_after(opened()).period_end,  # type: ignore[union-attr]
            policy=nerima_policy(),
        )


# --- assessments --------------------------------------------------------------------------


def test_the_first_side_submits_alone_and_the_round_stays_open() -> None:
    events = actor_submitted()
    assert types_of(events) == [ASSESSMENT_SUBMITTED]
    assert events[0].data["side"] == "actor" and events[0].data["actor_id"] == "actor-lead"
    state = round_after(opened(), events)
    assert state is not None and state.status == OPEN and state.submitted_sides == ("actor",)


def test_the_second_side_brings_the_comparison_of_items_beyond_the_threshold() -> None:
    assert types_of(DIVERGING) == [ASSESSMENT_SUBMITTED, ASSESSMENT_SUBMITTED, ASSESSMENTS_COMPARED]
    compared = DIVERGING[-1].data
    # equality differs by 3 (> 2): listed; disclosure by 2 (= threshold): not.
    assert compared["divergent_items"] == [
        {"code": "equality", "actor_score": 5, "ward_score": 2, "difference": 3}
    ]
    state = round_after(opened(), DIVERGING)
    assert state is not None and state.status == RECONCILING


def test_without_divergent_items_the_round_is_ready_to_conclude() -> None:
    assert AGREEING[-1].data["divergent_items"] == []
    state = round_after(opened(), AGREEING)
    assert state is not None and state.status == READY


def test_the_ward_may_submit_first_and_a_partner_submits_the_actor_side() -> None:
    ward_first = rounds.decide_submit(round_after(opened()), submit("ward"))
    partner = submit("actor", actor_id=PARTNER)
    events = rounds.decide_submit(round_after(opened(), ward_first), partner)
    assert types_of(events) == [ASSESSMENT_SUBMITTED, ASSESSMENTS_COMPARED]
    assert events[0].data["actor_id"] == PARTNER


def test_a_side_submits_once() -> None:
    state = round_after(opened(), actor_submitted())
    with pytest.raises(Conflict, match="already submitted"):
        rounds.decide_submit(state, submit("actor", actor_id=PARTNER))


def test_an_actor_of_another_project_cannot_submit_the_actor_side() -> None:
    with pytest.raises(Forbidden):
        rounds.decide_submit(round_after(opened()), submit("actor", actor_id=STRANGER))


def test_a_side_cannot_submit_the_other_sides_assessment() -> None:
    with pytest.raises(Forbidden):
        rounds.decide_submit(round_after(opened()), submit("actor", side="ward"))
    with pytest.raises(Forbidden):
        rounds.decide_submit(round_after(opened()), submit("ward", side="actor"))


@pytest.mark.parametrize("bad", [0, 6, -1, 100])
def test_a_score_off_the_scale_is_refused(bad: int) -> None:
    with pytest.raises(InvalidCommand) as error:
        rounds.decide_submit(round_after(opened()), submit("actor", scores(disclosure=bad)))
    assert error.value.extensions["off_scale"] == ["disclosure"]


def test_every_item_is_scored_and_no_other() -> None:
    missing = scores()
    del missing["process"]
    with pytest.raises(InvalidCommand) as error:
        rounds.decide_submit(round_after(opened()), submit("actor", missing))
    assert error.value.extensions["missing"] == ["process"]
    with pytest.raises(InvalidCommand) as error:
        rounds.decide_submit(round_after(opened()), submit("actor", {**scores(), "luck": 3}))
    assert error.value.extensions["unknown"] == ["luck"]
    with pytest.raises(InvalidCommand):
        rounds.decide_submit(
            round_after(opened()), submit("actor", item_comments={"luck": "よかった"})
        )


def test_another_wards_round_does_not_exist_here() -> None:
    state = round_after(opened(), ward="ota")
    with pytest.raises(NotFound):
        rounds.decide_submit(state, submit("ward"))


# --- reconciliation -----------------------------------------------------------------------


def test_reconciliation_gives_each_divergent_item_its_agreed_score() -> None:
    events = rounds.decide_reconcile(round_after(opened(), DIVERGING), reconcile(equality=4))
    assert types_of(events) == [SCORES_RECONCILED]
    assert events[0].data["scores"] == {"equality": 4}
    state = round_after(opened(), DIVERGING, events)
    assert state is not None and state.status == READY


def test_reconciliation_covers_the_divergent_items_only_and_stays_on_the_scale() -> None:
    state = round_after(opened(), DIVERGING)
    with pytest.raises(InvalidCommand) as error:
        rounds.decide_reconcile(state, reconcile(disclosure=2))
    assert error.value.extensions["missing"] == ["equality"]
    assert error.value.extensions["not_divergent"] == ["disclosure"]
    with pytest.raises(InvalidCommand):
        rounds.decide_reconcile(state, reconcile(equality=9))


def test_nothing_is_reconciled_before_both_sides_or_without_divergence() -> None:
    with pytest.raises(Conflict, match="awaits both sides"):
        rounds.decide_reconcile(round_after(opened(), actor_submitted()), reconcile(equality=3))
    with pytest.raises(Conflict, match="nothing to reconcile"):
        rounds.decide_reconcile(round_after(opened(), AGREEING), reconcile(equality=3))


# --- conclusion ---------------------------------------------------------------------------


def test_no_conclusion_before_both_sides_have_submitted() -> None:
    with pytest.raises(Conflict, match="awaits the assessment of the actor and ward side"):
        rounds.decide_conclude(round_after(opened()), conclude())
    with pytest.raises(Conflict, match="awaits the assessment of the ward side"):
        rounds.decide_conclude(round_after(opened(), actor_submitted()), conclude())


def test_no_conclusion_while_divergent_items_await_reconciliation() -> None:
    with pytest.raises(Conflict, match="reconcile"):
        rounds.decide_conclude(round_after(opened(), DIVERGING), conclude())


def test_the_conclusion_publishes_the_result_per_item() -> None:
    reconciled = rounds.decide_reconcile(round_after(opened(), DIVERGING), reconcile(equality=4))
    events = rounds.decide_conclude(
        round_after(opened(), DIVERGING, reconciled), conclude("improve")
    )
    assert types_of(events) == [ROUND_CONCLUDED]
    data = events[0].data
    assert data["conclusion"] == "improve"
    result = {item["code"]: item for item in data["result"]}
    assert result["equality"]["result"] == "4" and result["equality"]["divergent"] is True
    disclosure = result["disclosure"]
    assert (disclosure["actor_score"], disclosure["ward_score"]) == (1, 3)
    assert disclosure["result"] == "2" and disclosure["divergent"] is False
    assert result["process"]["result"] == "3"
    state = round_after(opened(), DIVERGING, reconciled, events)
    assert state is not None and state.status == CONCLUDED
    with pytest.raises(Conflict, match="already concluded"):
        rounds.decide_conclude(state, conclude())
    with pytest.raises(Conflict):
        rounds.decide_submit(state, submit("ward"))


def test_a_mean_of_two_scores_is_an_exact_decimal_string() -> None:
    events = both_submitted(scores(equality=4), scores(equality=3))
    concluded = rounds.decide_conclude(round_after(opened(), events), conclude())
    equality = next(i for i in concluded[0].data["result"] if i["code"] == "equality")
    assert equality["result"] == "3.5"


@for_all(st.integers(0, 1000), st.integers(0, 1000))
def test_mean_of_is_exactly_half_the_sum(a: int, b: int) -> None:
    assert Decimal(rounds.mean_of(a, b)) * 2 == a + b


@for_all(
    st.lists(st.integers(1, 5), min_size=10, max_size=10),
    st.lists(st.integers(1, 5), min_size=10, max_size=10),
)
def test_exactly_the_items_beyond_the_threshold_are_divergent(
    actor: list[int], ward: list[int]
) -> None:
    events = both_submitted(
        dict(zip(NERIMA_ITEMS, actor, strict=True)), dict(zip(NERIMA_ITEMS, ward, strict=True))
    )
    listed = {d["code"] for d in events[-1].data["divergent_items"]}
    expected = {c for c, a, w in zip(NERIMA_ITEMS, actor, ward, strict=True) if abs(a - w) > 2}
    assert listed == expected
    state = round_after(opened(), events)
    assert state is not None
    assert state.status == (RECONCILING if expected else READY)


# --- third-party review -------------------------------------------------------------------


def test_a_third_party_review_is_attached_once_between_comparison_and_conclusion() -> None:
    with pytest.raises(Conflict):
        rounds.decide_review(round_after(opened(), actor_submitted()), review())
    events = rounds.decide_review(round_after(opened(), AGREEING), review())
    assert types_of(events) == [THIRD_PARTY_REVIEW_ATTACHED]
    assert events[0].data["reviewer_body"] == "練馬区協働推進会議"
    with pytest.raises(Conflict, match="already has"):
        rounds.decide_review(round_after(opened(), AGREEING, events), review())
    concluded = rounds.decide_conclude(round_after(opened(), AGREEING, events), conclude())
    with pytest.raises(Conflict):
        rounds.decide_review(round_after(opened(), AGREEING, concluded), review())


def test_the_wards_policy_decides_whether_a_review_is_allowed_or_required() -> None:
    none = replace(nerima_policy(), third_party_review="none")
    state = round_after(opened(none), both_submitted(scores(), scores()))
    # The round keeps the policy it opened under.
    assert state is not None and state.third_party_review == "none"
    with pytest.raises(Conflict, match="no third-party review"):
        rounds.decide_review(state, review())
    required = replace(nerima_policy(), third_party_review="required")
    state = round_after(opened(required), both_submitted(scores(), scores()))
    with pytest.raises(Conflict, match="requires a third-party review"):
        rounds.decide_conclude(state, conclude())
    reviewed = rounds.decide_review(state, review())
    history = [*opened(required), *both_submitted(scores(), scores()), *reviewed]
    assert types_of(rounds.decide_conclude(round_after(history), conclude())) == [ROUND_CONCLUDED]
