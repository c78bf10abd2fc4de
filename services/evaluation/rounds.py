"""A round of evaluation (協働の振り返り) of one project, for one occasion.

Both sides reflect on their own: the actor side (a member of the lead or a partner actor) and
the ward side (the department in charge). Neither sees the other's scores until both have
submitted; then items whose scores differ by more than the ward's threshold are listed for
reconciliation. A conclusion (continue / improve / end) closes the round and publishes it; a
third party may review it before that.

    open ──(both sides submitted)──► reconciling ──(reconciled)──► ready ──(concluded)──► concluded
                                 └── (no item diverges) ─────────► ready

Pure: ``evolve_round`` folds the stream; each ``decide_*`` returns new events or raises
InvalidCommand (bad input), Forbidden (the wrong side), Conflict (not in this state) or NotFound.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.evaluation.commands import (
    AttachReview,
    ConcludeRound,
    ReconcileScores,
    SubmitAssessment,
)
from services.evaluation.events import (
    ASSESSMENT_SUBMITTED,
    ASSESSMENTS_COMPARED,
    ROUND_CONCLUDED,
    ROUND_OPENED,
    SCORES_RECONCILED,
    THIRD_PARTY_REVIEW_ATTACHED,
)
from services.evaluation.policy import EvaluationPolicy
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent

ACTOR_SIDE = "actor"
WARD_SIDE = "ward"
SIDES = (ACTOR_SIDE, WARD_SIDE)

OPEN = "open"
RECONCILING = "reconciling"
READY = "ready"
CONCLUDED = "concluded"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProjectSnapshot(_Frozen):
    """The project as the round found it (from the proposals service's events)."""

    project_id: str
    title: str
    form: str
    domain: str
    lead_actor_id: str
    partner_actor_ids: tuple[str, ...]
    department: str
    fields: tuple[str, ...]
    term_start: date
    term_end: date
    citizen_proposed: bool

    @property
    def actor_ids(self) -> tuple[str, ...]:
        return (self.lead_actor_id, *self.partner_actor_ids)


class RoundItem(_Frozen):
    code: str
    ja: str
    en: str
    basis: str | None


class SubmittedAssessment(_Frozen):
    side: str
    actor_id: str | None
    scores: dict[str, int]
    item_comments: dict[str, str]
    outcomes: dict[str, Any]
    comments: str
    submitted_at: datetime


class Divergence(_Frozen):
    code: str
    actor_score: int
    ward_score: int
    difference: int


class ThirdPartyReview(_Frozen):
    reviewer_body: str
    summary: str
    recommendation: str | None
    attached_at: datetime


class Closing(_Frozen):
    conclusion: str
    reasons: str
    improvements: str | None
    concluded_at: datetime


class Round(_Frozen):
    round_id: str
    ward: str
    project: ProjectSnapshot
    occasion: str
    fiscal_year: int
    period_start: date
    period_end: date
    reason: str | None
    items: tuple[RoundItem, ...]
    scale_min: int
    scale_max: int
    divergence_threshold: int
    third_party_review: str
    opened_at: datetime
    assessments: tuple[SubmittedAssessment, ...] = ()
    divergent: tuple[Divergence, ...] | None = None
    reconciled_scores: dict[str, int] | None = None
    reconciliation_note: str | None = None
    review: ThirdPartyReview | None = None
    closing: Closing | None = None

    @property
    def status(self) -> str:
        if self.closing is not None:
            return CONCLUDED
        if self.divergent is None:
            return OPEN
        if self.divergent and self.reconciled_scores is None:
            return RECONCILING
        return READY

    @property
    def submitted_sides(self) -> tuple[str, ...]:
        return tuple(a.side for a in self.assessments)

    def assessment_of(self, side: str) -> SubmittedAssessment | None:
        return next((a for a in self.assessments if a.side == side), None)

    @property
    def item_codes(self) -> tuple[str, ...]:
        return tuple(item.code for item in self.items)


def initial_round() -> Round | None:
    return None


# --- evolve -------------------------------------------------------------------------------


def evolve_round(state: Round | None, event: EventEnvelope) -> Round | None:
    data = event.data
    if event.event_type == ROUND_OPENED:
        return _opened(event)
    assert state is not None, f"{event.event_type} before {ROUND_OPENED}"
    if event.event_type == ASSESSMENT_SUBMITTED:
        assessment = SubmittedAssessment.model_validate(
            {**_without(data, "round_id", "project_id"), "submitted_at": event.occurred_at}
        )
        return state.model_copy(update={"assessments": (*state.assessments, assessment)})
    if event.event_type == ASSESSMENTS_COMPARED:
        divergent = tuple(Divergence.model_validate(d) for d in data["divergent_items"])
        return state.model_copy(update={"divergent": divergent})
    if event.event_type == SCORES_RECONCILED:
        return state.model_copy(
            update={"reconciled_scores": dict(data["scores"]), "reconciliation_note": data["note"]}
        )
    if event.event_type == THIRD_PARTY_REVIEW_ATTACHED:
        review = ThirdPartyReview.model_validate(
            {**_without(data, "round_id", "project_id"), "attached_at": event.occurred_at}
        )
        return state.model_copy(update={"review": review})
    if event.event_type == ROUND_CONCLUDED:
        closing = Closing(
            conclusion=data["conclusion"],
            reasons=data["reasons"],
            improvements=data.get("improvements"),
            concluded_at=event.occurred_at,
        )
        return state.model_copy(update={"closing": closing})
    return state


def _opened(event: EventEnvelope) -> Round:
    data = event.data
    return Round.model_validate(
        {
            **_without(data, "project_id", "policy_version"),
            "ward": event.ward,
            "opened_at": event.occurred_at,
        }
    )


def _without(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in keys}


# --- decide -------------------------------------------------------------------------------


def decide_open(
    state: Round | None,
    *,
    round_id: str,
    project: ProjectSnapshot,
    occasion: str,
    fiscal_year: int,
    period_start: date,
    period_end: date,
    policy: EvaluationPolicy,
    reason: str | None = None,
) -> list[NewEvent]:
    if state is not None:
        raise Conflict(
            f"round {round_id} of project {project.project_id} is already open",
            round_id=round_id,
        )
    data = {
        "round_id": round_id,
        "project_id": project.project_id,
        "project": project.model_dump(mode="json"),
        "occasion": occasion,
        "fiscal_year": fiscal_year,
        "period_start": period_start.isoformat(),
        "period_end": period_end.isoformat(),
        "reason": reason,
        "items": [item.document() for item in policy.items],
        "scale_min": policy.scale_min,
        "scale_max": policy.scale_max,
        "divergence_threshold": policy.divergence_threshold,
        "third_party_review": policy.third_party_review,
    }
    return [NewEvent(event_type=ROUND_OPENED, data=data)]


def decide_submit(state: Round | None, command: SubmitAssessment) -> list[NewEvent]:
    round_ = existing_round(state, command.ward, command.round_id)
    _check_side(round_, command)
    if round_.status != OPEN:
        raise Conflict(f"round {round_.round_id} is {round_.status}; both sides have submitted")
    if command.side in round_.submitted_sides:
        raise Conflict(
            f"the {command.side} side has already submitted its assessment of this round",
            side=command.side,
        )
    body = command.assessment
    _check_scores(round_, body.scores, every_item=True)
    _check_item_codes(round_, body.item_comments)
    data = {
        "round_id": round_.round_id,
        "project_id": round_.project.project_id,
        "side": command.side,
        "actor_id": command.actor_id if command.side == ACTOR_SIDE else None,
        "scores": dict(sorted(body.scores.items())),
        "item_comments": dict(sorted(body.item_comments.items())),
        "outcomes": body.outcomes.model_dump(mode="json"),
        "comments": body.comments,
    }
    events = [NewEvent(event_type=ASSESSMENT_SUBMITTED, data=data)]
    other = round_.assessment_of(WARD_SIDE if command.side == ACTOR_SIDE else ACTOR_SIDE)
    if other is not None:
        events.append(_comparison(round_, body.scores, command.side, other))
    return events


def decide_reconcile(state: Round | None, command: ReconcileScores) -> list[NewEvent]:
    round_ = existing_round(state, command.ward, command.round_id)
    if round_.status != RECONCILING:
        raise Conflict(_not_reconcilable(round_), round_status=round_.status)
    assert round_.divergent is not None
    scores = command.reconciliation.scores
    _check_scores(round_, scores, every_item=False)
    divergent = {d.code for d in round_.divergent}
    missing, extra = sorted(divergent - set(scores)), sorted(set(scores) - divergent)
    if missing or extra:
        raise InvalidCommand(
            "a reconciliation gives an agreed score for each divergent item, and only for those",
            missing=missing,
            not_divergent=extra,
        )
    data = {
        "round_id": round_.round_id,
        "project_id": round_.project.project_id,
        "scores": dict(sorted(scores.items())),
        "note": command.reconciliation.note,
    }
    return [NewEvent(event_type=SCORES_RECONCILED, data=data)]


def decide_review(state: Round | None, command: AttachReview) -> list[NewEvent]:
    round_ = existing_round(state, command.ward, command.round_id)
    if round_.third_party_review == "none":
        raise Conflict("the ward's policy has no third-party review of its rounds")
    if round_.status in (OPEN, CONCLUDED):
        raise Conflict(
            f"round {round_.round_id} is {round_.status}; a third party reviews a round once "
            "both sides have submitted and before it is concluded",
            round_status=round_.status,
        )
    if round_.review is not None:
        raise Conflict(f"round {round_.round_id} already has a third-party review")
    data = {
        "round_id": round_.round_id,
        "project_id": round_.project.project_id,
        **command.review.model_dump(mode="json"),
    }
    return [NewEvent(event_type=THIRD_PARTY_REVIEW_ATTACHED, data=data)]


def decide_conclude(state: Round | None, command: ConcludeRound) -> list[NewEvent]:
    round_ = existing_round(state, command.ward, command.round_id)
    if round_.status != READY:
        raise Conflict(_not_concludable(round_), round_status=round_.status)
    if round_.third_party_review == "required" and round_.review is None:
        raise Conflict("the ward's policy requires a third-party review before the conclusion")
    body = command.conclusion
    data = {
        "round_id": round_.round_id,
        "project_id": round_.project.project_id,
        "conclusion": body.conclusion,
        "reasons": body.reasons,
        "improvements": body.improvements,
        "result": result_items(round_),
    }
    return [NewEvent(event_type=ROUND_CONCLUDED, data=data)]


# --- the result ---------------------------------------------------------------------------


def result_items(round_: Round) -> list[dict[str, Any]]:
    """Per item: both sides' scores and the result — the reconciled score, else their mean.

    The mean of two integers is exact in one decimal place, so it is a decimal string.
    """
    actor, ward = round_.assessment_of(ACTOR_SIDE), round_.assessment_of(WARD_SIDE)
    assert actor is not None and ward is not None
    reconciled = round_.reconciled_scores or {}
    divergent = {d.code for d in round_.divergent or ()}
    items = []
    for item in round_.items:
        a, w = actor.scores[item.code], ward.scores[item.code]
        agreed = reconciled.get(item.code)
        items.append(
            {
                **item.model_dump(mode="json"),
                "actor_score": a,
                "ward_score": w,
                "divergent": item.code in divergent,
                "result": str(agreed) if agreed is not None else mean_of(a, w),
            }
        )
    return items


def mean_of(a: int, b: int) -> str:
    total = a + b
    return str(total // 2) if total % 2 == 0 else f"{total // 2}.5"


# --- rules --------------------------------------------------------------------------------


def existing_round(state: Round | None, ward: str, round_id: str) -> Round:
    """The round, if it is one of this ward's: another ward's round does not exist here."""
    if state is None or state.ward != ward:
        raise NotFound(f"no evaluation round {round_id} in ward {ward!r}", ward=ward)
    return state


def _check_side(round_: Round, command: SubmitAssessment) -> None:
    sent = command.assessment.side
    if sent is not None and sent != command.side:
        raise Forbidden(
            f"the {sent} side's assessment is submitted by the {sent} side only",
            ward=round_.ward,
        )
    if command.side == ACTOR_SIDE and command.actor_id not in round_.project.actor_ids:
        raise Forbidden(
            f"only the lead or a partner of project {round_.project.project_id} "
            "submits its actor side",
            ward=round_.ward,
        )


def _check_scores(round_: Round, scores: Mapping[str, int], *, every_item: bool) -> None:
    codes = set(round_.item_codes)
    unknown = sorted(set(scores) - codes)
    missing = sorted(codes - set(scores)) if every_item else []
    if unknown or missing:
        raise InvalidCommand(
            "scores are given for each of the round's evaluation items",
            unknown=unknown,
            missing=missing,
            items=list(round_.item_codes),
        )
    off_scale = sorted(
        code for code, score in scores.items() if not round_.scale_min <= score <= round_.scale_max
    )
    if off_scale:
        raise InvalidCommand(
            f"scores lie on the ward's scale {round_.scale_min}–{round_.scale_max}",
            off_scale=off_scale,
            scale_min=round_.scale_min,
            scale_max=round_.scale_max,
        )


def _check_item_codes(round_: Round, comments: Mapping[str, str]) -> None:
    unknown = sorted(set(comments) - set(round_.item_codes))
    if unknown:
        raise InvalidCommand("item comments name the round's evaluation items", unknown=unknown)


def _comparison(
    round_: Round, scores: Mapping[str, int], side: str, other: SubmittedAssessment
) -> NewEvent:
    actor = scores if side == ACTOR_SIDE else other.scores
    ward = other.scores if side == ACTOR_SIDE else scores
    divergent = [
        {
            "code": code,
            "actor_score": actor[code],
            "ward_score": ward[code],
            "difference": abs(actor[code] - ward[code]),
        }
        for code in round_.item_codes
        if abs(actor[code] - ward[code]) > round_.divergence_threshold
    ]
    data = {
        "round_id": round_.round_id,
        "project_id": round_.project.project_id,
        "divergence_threshold": round_.divergence_threshold,
        "divergent_items": divergent,
    }
    return NewEvent(event_type=ASSESSMENTS_COMPARED, data=data)


def _not_reconcilable(round_: Round) -> str:
    if round_.status == OPEN:
        return f"round {round_.round_id} awaits both sides' assessments before reconciliation"
    if round_.status == READY and not round_.divergent:
        return f"no item of round {round_.round_id} diverges; there is nothing to reconcile"
    return f"round {round_.round_id} is {round_.status}; its scores cannot be reconciled now"


def _not_concludable(round_: Round) -> str:
    if round_.status == OPEN:
        missing = [side for side in SIDES if side not in round_.submitted_sides]
        return (
            f"round {round_.round_id} awaits the assessment of the {' and '.join(missing)} side; "
            "it is concluded once both sides have submitted"
        )
    if round_.status == RECONCILING:
        return f"round {round_.round_id} has divergent items to reconcile before its conclusion"
    return f"round {round_.round_id} is already concluded"
