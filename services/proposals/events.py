"""Names of the events the proposals service appends, and of its streams."""

from __future__ import annotations

import uuid

CALL_OPENED = "proposals.CallOpened"

PROPOSAL_DRAFTED = "proposals.ProposalDrafted"
PROPOSAL_EDITED = "proposals.ProposalEdited"
PROPOSAL_SUBMITTED = "proposals.ProposalSubmitted"
ELIGIBILITY_ASSESSED = "proposals.EligibilityAssessed"
PROPOSAL_WITHDRAWN = "proposals.ProposalWithdrawn"
REVIEW_SUBMITTED = "proposals.ReviewSubmitted"
REVIEWER_RECUSED = "proposals.ReviewerRecused"
PROPOSAL_DECIDED = "proposals.ProposalDecided"

AGREEMENT_DRAFTED = "proposals.AgreementDrafted"
AGREEMENT_SIGNED = "proposals.AgreementSigned"
PROJECT_STARTED = "proposals.ProjectStarted"
AGREEMENT_AMENDED = "proposals.AgreementAmended"
PROJECT_ENDED = "proposals.ProjectEnded"

PROPOSAL_EVENTS = (
    PROPOSAL_DRAFTED,
    PROPOSAL_EDITED,
    PROPOSAL_SUBMITTED,
    ELIGIBILITY_ASSESSED,
    PROPOSAL_WITHDRAWN,
    REVIEW_SUBMITTED,
    REVIEWER_RECUSED,
    PROPOSAL_DECIDED,
)
PROJECT_EVENTS = (
    AGREEMENT_DRAFTED,
    AGREEMENT_SIGNED,
    PROJECT_STARTED,
    AGREEMENT_AMENDED,
    PROJECT_ENDED,
)

# A project's id follows from its proposal's, so the agreement of a proposal has one stream.
_PROJECT_NAMESPACE = uuid.UUID("6b796f64-6f2d-4465-8d6f-2d70726f6a65")


def call_stream(call_id: str) -> str:
    return f"call-{call_id}"


def proposal_stream(proposal_id: str) -> str:
    return f"proposal-{proposal_id}"


def project_stream(project_id: str) -> str:
    return f"project-{project_id}"


def project_id_of(proposal_id: str) -> str:
    return str(uuid.uuid5(_PROJECT_NAMESPACE, proposal_id))
