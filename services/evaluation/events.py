"""Names of the events the evaluation appends (``evaluation.``), of those it learns from, and of
its streams.

Rounds opened on schedule and inertia flags have ids derived from what they are about, so two
instances (or two ticks) deciding the same thing reach the same stream and only one append wins.
"""

from __future__ import annotations

import uuid

ROUND_OPENED = "evaluation.RoundOpened"
ASSESSMENT_SUBMITTED = "evaluation.AssessmentSubmitted"
ASSESSMENTS_COMPARED = "evaluation.AssessmentsCompared"
SCORES_RECONCILED = "evaluation.ScoresReconciled"
THIRD_PARTY_REVIEW_ATTACHED = "evaluation.ThirdPartyReviewAttached"
ROUND_CONCLUDED = "evaluation.RoundConcluded"
ROUND_EVENTS = (
    ROUND_OPENED,
    ASSESSMENT_SUBMITTED,
    ASSESSMENTS_COMPARED,
    SCORES_RECONCILED,
    THIRD_PARTY_REVIEW_ATTACHED,
    ROUND_CONCLUDED,
)

INERTIA_FLAGGED = "evaluation.InertiaFlagged"
INERTIA_FLAG_CLEARED = "evaluation.InertiaFlagCleared"
FLAG_EVENTS = (INERTIA_FLAGGED, INERTIA_FLAG_CLEARED)

# What the evaluation learns from other services (their event names are their public contract).
WARD_ONBOARDED = "registry.WardOnboarded"
WARD_POLICY_CHANGED = "registry.WardPolicyChanged"
CALL_OPENED = "proposals.CallOpened"
PROJECT_STARTED = "proposals.ProjectStarted"
AGREEMENT_AMENDED = "proposals.AgreementAmended"
PROJECT_ENDED = "proposals.ProjectEnded"
GRANT_AWARDED = "fund.GrantAwarded"
GRANT_FUNDS_RETURNED = "fund.GrantFundsReturned"

_NAMESPACE = uuid.UUID("6b796f64-6f2d-4576-816c-756174696f6e")


def round_stream(round_id: str) -> str:
    return f"round-{round_id}"


def flag_stream(flag_id: str) -> str:
    return f"inertia-flag-{flag_id}"


def scheduled_round_id(ward: str, project_id: str, occasion: str, fiscal_year: int | None) -> str:
    """The one id a scheduled round of a project has, whoever opens it."""
    return derived_id("round", ward, project_id, occasion, str(fiscal_year or ""))


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(parts)))
