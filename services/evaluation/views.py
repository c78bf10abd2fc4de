"""What the HTTP API answers about rounds and flags, shaped by who is looking.

Before both sides have submitted, a side sees its own assessment and only whether the other
side has submitted; observers (reviewers, auditors) see neither's scores; the public sees
concluded rounds only, with everything in them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.evaluation.inertia import Flag
from services.evaluation.rounds import CONCLUDED, SIDES, Round, result_items
from services.evaluation.web import Viewer


class AssessmentView(BaseModel):
    side: str
    submitted: bool
    actor_id: str | None = None
    scores: dict[str, int] | None = Field(
        default=None, description="Hidden from the other side until both have submitted."
    )
    item_comments: dict[str, str] | None = None
    outcomes: dict[str, Any] | None = None
    comments: str | None = None
    submitted_at: datetime | None = None


class RoundView(BaseModel):
    round_id: str
    ward: str
    status: str
    project: dict[str, Any]
    occasion: str
    fiscal_year: int
    period_start: date
    period_end: date
    reason: str | None
    items: list[dict[str, Any]]
    scale_min: int
    scale_max: int
    divergence_threshold: int
    third_party_review: str
    opened_at: datetime
    assessments: list[AssessmentView]
    divergent_items: list[dict[str, Any]] | None
    reconciliation: dict[str, Any] | None
    review: dict[str, Any] | None
    conclusion: dict[str, Any] | None
    result: list[dict[str, Any]] | None = Field(
        description="Per item: both scores and the result (reconciled, else the mean)."
    )
    version: int


class RoundSummary(BaseModel):
    round_id: str
    project_id: str
    title: str
    occasion: str
    fiscal_year: int
    status: str
    opened_at: datetime
    concluded_at: datetime | None
    conclusion: str | None


class RoundPage(BaseModel):
    items: list[RoundSummary]
    total: int
    limit: int
    offset: int


class FlagView(BaseModel):
    flag_id: str
    ward: str
    status: str
    subject: str
    rule: str
    project_id: str | None
    actor_id: str | None
    department: str | None
    limit: int | None
    observed: int | None
    fiscal_years: list[int]
    evidence: dict[str, Any]
    decision: str | None
    reason: str | None
    flagged_at: datetime | None = None
    cleared_at: datetime | None = None


class FlagPage(BaseModel):
    items: list[FlagView]
    total: int


def round_view(state: Round, version: int, viewer: Viewer) -> RoundView:
    both_in = len(state.assessments) == len(SIDES)
    return RoundView(
        round_id=state.round_id,
        ward=state.ward,
        status=state.status,
        project=state.project.model_dump(mode="json"),
        occasion=state.occasion,
        fiscal_year=state.fiscal_year,
        period_start=state.period_start,
        period_end=state.period_end,
        reason=state.reason,
        items=[item.model_dump(mode="json") for item in state.items],
        scale_min=state.scale_min,
        scale_max=state.scale_max,
        divergence_threshold=state.divergence_threshold,
        third_party_review=state.third_party_review,
        opened_at=state.opened_at,
        assessments=[_assessment(state, side, viewer, both_in) for side in SIDES],
        divergent_items=(
            [d.model_dump(mode="json") for d in state.divergent]
            if state.divergent is not None
            else None
        ),
        reconciliation=(
            {"scores": state.reconciled_scores, "note": state.reconciliation_note}
            if state.reconciled_scores is not None
            else None
        ),
        review=state.review.model_dump(mode="json") if state.review else None,
        conclusion=state.closing.model_dump(mode="json") if state.closing else None,
        result=result_items(state) if state.status == CONCLUDED else None,
        version=version,
    )


def _assessment(state: Round, side: str, viewer: Viewer, both_in: bool) -> AssessmentView:
    submitted = state.assessment_of(side)
    if submitted is None:
        return AssessmentView(side=side, submitted=False)
    if not (both_in or viewer.side == side):
        return AssessmentView(side=side, submitted=True, submitted_at=submitted.submitted_at)
    return AssessmentView(submitted=True, **submitted.model_dump())


def round_summary(row: dict[str, Any]) -> RoundSummary:
    return RoundSummary(
        round_id=row["round_id"],
        project_id=row["project_id"],
        title=row["document"]["project"]["title"],
        occasion=row["occasion"],
        fiscal_year=row["fiscal_year"],
        status=row["status"],
        opened_at=row["opened_at"],
        concluded_at=row["concluded_at"],
        conclusion=row["conclusion"],
    )


def flag_view(state: Flag, row: dict[str, Any] | None = None) -> FlagView:
    return FlagView(
        **state.model_dump(mode="json"),
        flagged_at=row["flagged_at"] if row else None,
        cleared_at=row["cleared_at"] if row else None,
    )
