"""What the HTTP API answers. Views are built from the domain's state, whether a write just
produced it or a read loaded it from the read model's JSON document, so both answer alike."""

from __future__ import annotations

from datetime import date, datetime
from fractions import Fraction
from typing import Any

from pydantic import BaseModel

from services.proposals.agreement import AgreementParty, AgreementVersion, Project
from services.proposals.calls import Call, RubricItem
from services.proposals.events import project_id_of
from services.proposals.proposal import ADOPTED, Proposal, Role


class CallView(BaseModel):
    call_id: str
    ward: str
    title: str
    kind: str
    citizen_proposed: bool
    opens_on: date
    closes_on: date
    allowed_forms: list[str]
    budget_limit_yen: int
    rubric: list[RubricItem]
    max_weighted_total: int
    description: str | None
    opened_at: datetime | None
    version: int


class EligibilityView(BaseModel):
    round: int
    eligible: bool
    reasons: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    assessed_at: datetime
    policy_version: int | None


class ScreeningView(BaseModel):
    counted_reviews: int
    weighted_score_sum: int
    average_weighted_score: float | None
    recused_reviewers: int


class DecisionView(BaseModel):
    round: int
    outcome: str
    reasons: list[str]
    counted_reviews: int
    weighted_score_sum: int
    decided_at: datetime


class ProposalView(BaseModel):
    proposal_id: str
    ward: str
    call_id: str
    lead_actor_id: str
    status: str
    round: int
    title: str
    local_issue: str
    purpose: str
    form: str
    domain: str | None
    partner_actor_ids: list[str]
    department: str
    fields: list[str]
    roles: list[Role]
    budget_total_yen: int
    requested_yen: int
    term_start: date
    term_end: date
    exclusions: dict[str, bool]
    citizen_proposed: bool | None
    eligibility: EligibilityView | None
    screening: ScreeningView
    decision: DecisionView | None
    project_id: str | None
    drafted_at: datetime
    submitted_at: datetime | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    version: int


class ProposalPage(BaseModel):
    items: list[ProposalView]
    total: int
    limit: int
    offset: int


class ReviewOutcome(BaseModel):
    proposal_id: str
    reviewer: str
    counted: bool
    recusal_reason: str | None
    weighted_total: int | None
    counted_reviews: int
    weighted_score_sum: int


class ReviewView(BaseModel):
    reviewer: str
    scores: dict[str, int]
    weighted_total: int
    comment: str | None
    submitted_at: datetime


class RecusalView(BaseModel):
    reviewer: str
    reason: str
    actor_id: str | None
    recused_at: datetime


class ReviewsView(BaseModel):
    proposal_id: str
    round: int
    counted_reviews: int
    weighted_score_sum: int
    reviews: list[ReviewView]
    recusals: list[RecusalView]


class RankingEntry(BaseModel):
    rank: int
    proposal_id: str
    title: str
    lead_actor_id: str
    form: str
    status: str
    counted_reviews: int
    weighted_score_sum: int
    average_weighted_score: float | None


class RankingView(BaseModel):
    call_id: str
    max_weighted_total: int
    entries: list[RankingEntry]


class SignatureView(BaseModel):
    party: str
    signed_by: str
    signed_at: datetime


class AgreementVersionView(BaseModel):
    agreement_version: int
    purpose: str
    term_start: date
    term_end: date
    parties: list[AgreementParty]
    budget_total_yen: int
    requested_yen: int
    information_sharing: str
    disclosure: str
    amendment_reason: str | None
    drafted_at: datetime
    signatures: list[SignatureView]
    unsigned_parties: list[str]


class AgreementView(BaseModel):
    project_id: str
    proposal_id: str
    ward: str
    status: str
    title: str
    current_version: int
    in_force_version: int | None
    awaiting_signatures: bool
    versions: list[AgreementVersionView]
    started_at: datetime | None
    ended_on: date | None
    end_reason: str | None
    version: int


class ProjectView(BaseModel):
    project_id: str
    proposal_id: str
    ward: str
    call_id: str
    title: str
    form: str
    domain: str
    status: str
    lead_actor_id: str
    partner_actor_ids: list[str]
    parties: list[AgreementParty]
    department: str
    fields: list[str]
    term_start: date
    term_end: date
    budget_total_yen: int
    requested_yen: int
    citizen_proposed: bool
    agreement_version: int
    started_at: datetime | None
    ended_on: date | None
    end_reason: str | None


class ProjectPage(BaseModel):
    items: list[ProjectView]
    total: int
    limit: int
    offset: int


def average(weighted_score_sum: int, counted_reviews: int) -> Fraction | None:
    return Fraction(weighted_score_sum, counted_reviews) if counted_reviews else None


def _rounded(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value), 2)


def call_view(call: Call, version: int) -> CallView:
    return CallView(
        **call.model_dump(exclude={"allowed_forms", "rubric"}),
        citizen_proposed=call.citizen_proposed,
        allowed_forms=list(call.allowed_forms),
        rubric=list(call.rubric),
        max_weighted_total=call.max_weighted_total,
        version=version,
    )


def proposal_view(proposal: Proposal, version: int) -> ProposalView:
    content = proposal.content
    assessed = proposal.eligibility
    decision = proposal.decision
    return ProposalView(
        **proposal.model_dump(
            include={
                "proposal_id",
                "ward",
                "call_id",
                "lead_actor_id",
                "status",
                "round",
                "domain",
                "citizen_proposed",
                "drafted_at",
                "submitted_at",
                "withdrawn_at",
                "withdrawal_reason",
            }
        ),
        **content.model_dump(exclude={"roles", "partner_actor_ids", "fields"}),
        roles=list(content.roles),
        partner_actor_ids=list(content.partner_actor_ids),
        fields=list(content.fields),
        eligibility=EligibilityView.model_validate(assessed.model_dump()) if assessed else None,
        screening=ScreeningView(
            counted_reviews=proposal.counted_reviews,
            weighted_score_sum=proposal.weighted_score_sum,
            average_weighted_score=_rounded(
                average(proposal.weighted_score_sum, proposal.counted_reviews)
            ),
            recused_reviewers=len(proposal.recusals),
        ),
        decision=DecisionView.model_validate(decision.model_dump()) if decision else None,
        project_id=project_id_of(proposal.proposal_id) if proposal.status == ADOPTED else None,
        version=version,
    )


def review_outcome(proposal: Proposal, reviewer: str) -> ReviewOutcome:
    review = proposal.reviews.get(reviewer)
    recusal = proposal.recusals.get(reviewer)
    return ReviewOutcome(
        proposal_id=proposal.proposal_id,
        reviewer=reviewer,
        counted=review is not None,
        recusal_reason=recusal.reason if recusal else None,
        weighted_total=review.weighted_total if review else None,
        counted_reviews=proposal.counted_reviews,
        weighted_score_sum=proposal.weighted_score_sum,
    )


def reviews_view(proposal: Proposal) -> ReviewsView:
    return ReviewsView(
        proposal_id=proposal.proposal_id,
        round=proposal.round,
        counted_reviews=proposal.counted_reviews,
        weighted_score_sum=proposal.weighted_score_sum,
        reviews=[ReviewView.model_validate(r.model_dump()) for r in proposal.reviews.values()],
        recusals=[RecusalView.model_validate(r.model_dump()) for r in proposal.recusals.values()],
    )


def ranking(call: Call, proposals: list[Proposal]) -> RankingView:
    """Highest average weighted score first; proposals without counted reviews last; ties share
    a rank. Averages compare exactly (as fractions), never as rounded floats."""
    scored = sorted(
        proposals,
        key=lambda p: (
            average(p.weighted_score_sum, p.counted_reviews) is None,
            -(average(p.weighted_score_sum, p.counted_reviews) or 0),
            p.submitted_at or p.drafted_at,
            p.proposal_id,
        ),
    )
    entries: list[RankingEntry] = []
    previous: tuple[Fraction | None, int] | None = None
    for position, proposal in enumerate(scored, start=1):
        mean = average(proposal.weighted_score_sum, proposal.counted_reviews)
        rank = previous[1] if previous is not None and previous[0] == mean else position
        previous = (mean, rank)
        entries.append(
            RankingEntry(
                rank=rank,
                proposal_id=proposal.proposal_id,
                title=proposal.content.title,
                lead_actor_id=proposal.lead_actor_id,
                form=proposal.content.form,
                status=proposal.status,
                counted_reviews=proposal.counted_reviews,
                weighted_score_sum=proposal.weighted_score_sum,
                average_weighted_score=_rounded(mean),
            )
        )
    return RankingView(
        call_id=call.call_id, max_weighted_total=call.max_weighted_total, entries=entries
    )


def _version_view(version: AgreementVersion) -> AgreementVersionView:
    return AgreementVersionView(
        **version.model_dump(exclude={"parties", "signatures"}),
        parties=list(version.parties),
        signatures=[SignatureView.model_validate(s.model_dump()) for s in version.signatures],
        unsigned_parties=version.unsigned_parties,
    )


def agreement_view(project: Project, version: int) -> AgreementView:
    return AgreementView(
        project_id=project.project_id,
        proposal_id=project.proposal_id,
        ward=project.ward,
        status=project.status,
        title=project.title,
        current_version=project.current.agreement_version,
        in_force_version=project.in_force_version,
        awaiting_signatures=project.awaiting_signatures,
        versions=[_version_view(v) for v in project.versions],
        started_at=project.started_at,
        ended_on=project.ended_on,
        end_reason=project.end_reason,
        version=version,
    )


def project_view(project: Project) -> ProjectView:
    terms = project.in_force or project.current
    return ProjectView(
        **project.model_dump(
            include={
                "project_id",
                "proposal_id",
                "ward",
                "call_id",
                "title",
                "form",
                "domain",
                "status",
                "lead_actor_id",
                "department",
                "citizen_proposed",
                "started_at",
                "ended_on",
                "end_reason",
            }
        ),
        partner_actor_ids=list(project.partner_actor_ids),
        fields=list(project.fields),
        parties=list(terms.parties),
        term_start=terms.term_start,
        term_end=terms.term_end,
        budget_total_yen=terms.budget_total_yen,
        requested_yen=terms.requested_yen,
        agreement_version=terms.agreement_version,
    )


def proposal_from_row(row: dict[str, Any]) -> Proposal:
    return Proposal.model_validate(row["document"])


def call_from_row(row: dict[str, Any]) -> Call:
    return Call.model_validate(row["document"])


def project_from_row(row: dict[str, Any]) -> Project:
    return Project.model_validate(row["document"])
