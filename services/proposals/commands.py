"""Commands (imperative names) and the request bodies they are built from.

Text is stripped and bounded here and money is a strict integer number of yen, so an empty,
oversized or fractional value never reaches the domain.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

MAX_YEN = 10**12
MAX_PARTNERS = 10
MAX_FIELDS = 10
WARD_PARTY = "ward"

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
WardCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Yen = Annotated[int, Field(strict=True, gt=0, le=MAX_YEN)]
YenOrZero = Annotated[int, Field(strict=True, ge=0, le=MAX_YEN)]
Score = Annotated[int, Field(strict=True, ge=0, le=100)]
Weight = Annotated[int, Field(strict=True, gt=0, le=100)]
MaxScore = Annotated[int, Field(strict=True, gt=0, le=100)]
Version = Annotated[int, Field(strict=True, gt=0)]
CallKind = Literal["citizen_proposed", "ward_proposed"]
Outcome = Literal["adopted", "rejected", "revise"]


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("each value is given once")
    return values


FieldCodes = Annotated[
    list[Code], Field(min_length=1, max_length=MAX_FIELDS), AfterValidator(_unique)
]
PartnerIds = Annotated[list[Identifier], Field(max_length=MAX_PARTNERS), AfterValidator(_unique)]
FormCodes = Annotated[list[Code], Field(min_length=1, max_length=20), AfterValidator(_unique)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- calls --------------------------------------------------------------------------------


class RubricItemBody(_Strict):
    code: Code
    ja: Name
    weight: Weight
    max_score: MaxScore


class CallOpening(_Strict):
    """Request body of a call (募集). Without a rubric the ward's screening rubric applies."""

    title: Name
    kind: CallKind
    opens_on: date
    closes_on: date
    allowed_forms: FormCodes
    budget_limit_yen: Yen
    rubric: Annotated[list[RubricItemBody], Field(min_length=1, max_length=20)] | None = None
    description: LongText | None = None

    @model_validator(mode="after")
    def _closes_after_opening(self) -> Self:
        if self.closes_on < self.opens_on:
            raise ValueError("closes_on is before opens_on")
        return self


class OpenCall(CallOpening):
    ward: WardCode
    call_id: str


# --- proposals ----------------------------------------------------------------------------


class PartyRole(_Strict):
    """What one party (an actor id, or "ward" for the department in charge) takes on."""

    party: Identifier
    role: LongText


class ProposalContent(_Strict):
    title: Name
    local_issue: LongText = Field(description="The local issue (地域課題) the project addresses.")
    purpose: LongText
    form: Code = Field(description="A collaboration form (協働の形態) of the ward's pack.")
    partner_actor_ids: PartnerIds = Field(default_factory=list)
    department: Name = Field(description="The ward's department in charge (所管課).")
    fields: FieldCodes
    roles: Annotated[list[PartyRole], Field(min_length=1, max_length=MAX_PARTNERS + 2)]
    budget_total_yen: Yen
    requested_yen: YenOrZero
    term_start: date
    term_end: date
    exclusions: dict[Code, StrictBool] = Field(
        default_factory=dict,
        description="For each exclusion code of the ward's pack: does it apply to the project?",
    )


class ProposalDraft(ProposalContent):
    """Request body of a new proposal: a draft of the lead actor."""

    call_id: Identifier
    lead_actor_id: Identifier


class DraftProposal(ProposalDraft):
    ward: WardCode
    proposal_id: str
    by_actor: str | None


class ProposalChanges(_Strict):
    """Request body of an edit: the fields sent replace the stored ones."""

    title: Name | None = None
    local_issue: LongText | None = None
    purpose: LongText | None = None
    form: Code | None = None
    partner_actor_ids: PartnerIds | None = None
    department: Name | None = None
    fields: FieldCodes | None = None
    roles: Annotated[list[PartyRole], Field(min_length=1, max_length=MAX_PARTNERS + 2)] | None = (
        None
    )
    budget_total_yen: Yen | None = None
    requested_yen: YenOrZero | None = None
    term_start: date | None = None
    term_end: date | None = None
    exclusions: dict[Code, StrictBool] | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("an edit changes at least one field")
        cleared = sorted(n for n in self.model_fields_set if getattr(self, n) is None)
        if cleared:
            raise ValueError(f"cannot be cleared: {', '.join(cleared)}")
        return self

    def sent(self) -> dict[str, Any]:
        document = self.model_dump(mode="json")
        return {name: document[name] for name in sorted(self.model_fields_set)}


class EditProposal(_Strict):
    ward: WardCode
    proposal_id: str
    by_actor: str | None
    changes: ProposalChanges


class SubmitProposal(_Strict):
    ward: WardCode
    proposal_id: str
    by_actor: str | None


class Withdrawal(_Strict):
    reason: Reason | None = None


class WithdrawProposal(_Strict):
    ward: WardCode
    proposal_id: str
    by_actor: str | None
    reason: Reason | None = None


# --- screening ----------------------------------------------------------------------------


class ReviewBody(_Strict):
    """A reviewer's scores per rubric item, or a declared conflict of interest (利害関係)."""

    scores: dict[Code, Score] = Field(default_factory=dict)
    conflict_of_interest: StrictBool = False
    comment: LongText | None = None

    @model_validator(mode="after")
    def _scores_unless_recused(self) -> Self:
        if not self.conflict_of_interest and not self.scores:
            raise ValueError("a review scores the rubric items, or declares a conflict")
        return self


class SubmitReview(ReviewBody):
    ward: WardCode
    proposal_id: str
    reviewer: str
    reviewer_actor_id: str | None


class DecisionBody(_Strict):
    outcome: Outcome
    reasons: Annotated[list[Reason], Field(min_length=1, max_length=20)]


class DecideProposal(DecisionBody):
    ward: WardCode
    proposal_id: str


# --- agreements and projects --------------------------------------------------------------


class AgreementPartyBody(_Strict):
    party: Identifier = Field(description='An actor id, or "ward" for the department in charge.')
    role: LongText
    cost_share_yen: YenOrZero


class AgreementTerms(_Strict):
    """Request body of an agreement (協働協定書) version; unset terms come from the proposal."""

    parties: Annotated[list[AgreementPartyBody], Field(min_length=2, max_length=MAX_PARTNERS + 2)]
    information_sharing: LongText = Field(description="How the parties share information.")
    disclosure: LongText = Field(description="What is disclosed to the public (情報公開).")
    purpose: LongText | None = None
    term_start: date | None = None
    term_end: date | None = None
    budget_total_yen: Yen | None = None
    requested_yen: YenOrZero | None = None
    amendment_reason: Reason | None = None


class DraftAgreement(AgreementTerms):
    ward: WardCode
    proposal_id: str


class SignatureBody(_Strict):
    party: Identifier | None = Field(
        default=None, description="Whom the signer signs for; by default their own actor or ward."
    )
    agreement_version: Version | None = Field(
        default=None, description="The version read; signing fails if a newer one exists."
    )


class SignAgreement(_Strict):
    ward: WardCode
    proposal_id: str
    party: str
    signed_by: str
    agreement_version: Version | None = None


class ProjectEnding(_Strict):
    reason: Reason
    ended_on: date | None = None


class EndProject(_Strict):
    ward: WardCode
    project_id: str
    reason: Reason
    ended_on: date
