"""Commands (imperative names) and the request bodies they are built from.

Text is stripped and bounded and scores and counts are strict integers here, so an empty,
oversized or fractional value never reaches the domain. Whether a score lies on the ward's scale
depends on the round, so the domain checks that.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
WardCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Score = Annotated[int, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=0, le=10**9)]
FiscalYear = Annotated[int, Field(strict=True, ge=1989, le=9999)]
MAX_ITEMS = 50
MAX_TARGETS = 20

Side = Literal["actor", "ward"]
Conclusion = Literal["continue", "improve", "end"]
OpeningOccasion = Literal["interim", "fiscal_year_end", "project_end"]
Scores = Annotated[dict[Code, Score], Field(min_length=1, max_length=MAX_ITEMS)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- request bodies -----------------------------------------------------------------------


class RoundOpening(_Strict):
    """Staff open a round: an interim one, or a scheduled one before it falls due."""

    project_id: Identifier
    occasion: OpeningOccasion = "interim"
    fiscal_year: FiscalYear | None = Field(
        default=None, description="For a fiscal_year_end round: which year it looks back on."
    )
    reason: Reason | None = None


class Target(_Strict):
    """A target agreed at the start, and what was achieved against it."""

    target: Name
    unit: ShortText | None = None
    planned: Count
    achieved: Count


class Outcomes(_Strict):
    targets: Annotated[list[Target], Field(max_length=MAX_TARGETS)] = []
    beneficiaries: Count
    note: LongText | None = None


class Assessment(_Strict):
    """One side's reflection (振り返り): a score per evaluation item, outcomes and comments.

    ``side`` may be left out: it follows from who sends it; when sent, it must agree.
    """

    side: Side | None = None
    scores: Scores
    item_comments: Annotated[dict[Code, LongText], Field(max_length=MAX_ITEMS)] = {}
    outcomes: Outcomes
    comments: LongText


class Reconciliation(_Strict):
    """The score both sides agreed on for each item whose scores diverged."""

    scores: Scores
    note: LongText


class Review(_Strict):
    """A third party's review (e.g. the ward's 区民協働推進会議), attached to a round."""

    reviewer_body: Name
    summary: LongText
    recommendation: Conclusion | None = None


class RoundConclusion(_Strict):
    conclusion: Conclusion
    reasons: LongText
    improvements: LongText | None = None


class FlagClearance(_Strict):
    """The recorded decision that clears an inertia flag."""

    decision: Name
    reason: Reason


# --- commands -----------------------------------------------------------------------------


class SubmitAssessment(_Strict):
    ward: WardCode
    round_id: str
    side: Side
    actor_id: str | None
    """For the actor side: the actor the submitter acts for."""
    assessment: Assessment


class ReconcileScores(_Strict):
    ward: WardCode
    round_id: str
    reconciliation: Reconciliation


class AttachReview(_Strict):
    ward: WardCode
    round_id: str
    review: Review


class ConcludeRound(_Strict):
    ward: WardCode
    round_id: str
    conclusion: RoundConclusion


class ClearInertiaFlag(_Strict):
    ward: WardCode
    flag_id: str
    clearance: FlagClearance
