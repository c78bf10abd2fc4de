"""Proposals (協働事業提案): drafted, edited and submitted by the lead actor, assessed for
eligibility at submission, reviewed, decided; withdrawn before the decision.

Pure: ``evolve_proposal`` folds the stream; each ``decide_*`` returns new events or raises
InvalidCommand (bad input), Forbidden (not the proposer), Conflict (a transition the status does
not allow) or NotFound. Reviews and the decision are decided in :mod:`screening`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.proposals import eligibility
from services.proposals.calls import Call
from services.proposals.commands import (
    WARD_PARTY,
    DraftProposal,
    EditProposal,
    SubmitProposal,
    WithdrawProposal,
)
from services.proposals.events import (
    ELIGIBILITY_ASSESSED,
    PROPOSAL_DECIDED,
    PROPOSAL_DRAFTED,
    PROPOSAL_EDITED,
    PROPOSAL_SUBMITTED,
    PROPOSAL_WITHDRAWN,
    REVIEW_SUBMITTED,
    REVIEWER_RECUSED,
)
from services.proposals.policy import ProposalsPolicy
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent

DRAFT = "draft"
UNDER_REVIEW = "under_review"
INELIGIBLE = "ineligible"
ADOPTED = "adopted"
REJECTED = "rejected"
REVISE = "revise"
WITHDRAWN = "withdrawn"
DECIDED = frozenset({ADOPTED, REJECTED, REVISE})
EDITABLE = frozenset({DRAFT, REVISE})
WITHDRAWABLE = frozenset({DRAFT, UNDER_REVIEW, REVISE})
BARRED_ACTOR_STATUSES = frozenset({"suspended", "deregistered"})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Role(_Frozen):
    party: str
    role: str


class Content(_Frozen):
    title: str
    local_issue: str
    purpose: str
    form: str
    partner_actor_ids: tuple[str, ...]
    department: str
    fields: tuple[str, ...]
    roles: tuple[Role, ...]
    budget_total_yen: int
    requested_yen: int
    term_start: date
    term_end: date
    exclusions: dict[str, bool]


CONTENT_KEYS = tuple(Content.model_fields)


class Review(_Frozen):
    reviewer: str
    scores: dict[str, int]
    weighted_total: int
    comment: str | None
    submitted_at: datetime


class Recusal(_Frozen):
    reviewer: str
    reason: str
    actor_id: str | None
    recused_at: datetime


class Eligibility(_Frozen):
    round: int
    eligible: bool
    reasons: tuple[dict[str, Any], ...]
    checks: tuple[dict[str, Any], ...]
    assessed_at: datetime
    policy_version: int | None


class Decision(_Frozen):
    round: int
    outcome: str
    reasons: tuple[str, ...]
    counted_reviews: int
    weighted_score_sum: int
    decided_at: datetime


class Proposal(_Frozen):
    proposal_id: str
    ward: str
    call_id: str
    lead_actor_id: str
    status: str
    round: int
    content: Content
    domain: str | None = None
    citizen_proposed: bool | None = None
    eligibility: Eligibility | None = None
    reviews: dict[str, Review] = {}
    recusals: dict[str, Recusal] = {}
    decision: Decision | None = None
    drafted_at: datetime
    submitted_at: datetime | None = None
    withdrawn_at: datetime | None = None
    withdrawal_reason: str | None = None

    @property
    def actor_ids(self) -> tuple[str, ...]:
        return (self.lead_actor_id, *self.content.partner_actor_ids)

    @property
    def counted_reviews(self) -> int:
        return len(self.reviews)

    @property
    def weighted_score_sum(self) -> int:
        return sum(review.weighted_total for review in self.reviews.values())

    @property
    def is_public(self) -> bool:
        """Disclosed once decided (情報公開); before that only the proposers, staff, reviewers."""
        return self.status in DECIDED


def initial_proposal() -> Proposal | None:
    return None


# --- evolve -------------------------------------------------------------------------------


def evolve_proposal(state: Proposal | None, event: EventEnvelope) -> Proposal | None:
    if event.event_type == PROPOSAL_DRAFTED:
        return _drafted(event)
    assert state is not None, f"{event.event_type} before {PROPOSAL_DRAFTED}"
    change = _EVOLVERS.get(event.event_type)
    return change(state, event) if change else state


def _drafted(event: EventEnvelope) -> Proposal:
    data = event.data
    return Proposal(
        proposal_id=data["proposal_id"],
        ward=event.ward,
        call_id=data["call_id"],
        lead_actor_id=data["lead_actor_id"],
        status=DRAFT,
        round=0,
        content=_content(data),
        drafted_at=event.occurred_at,
    )


def _edited(state: Proposal, event: EventEnvelope) -> Proposal:
    document = {**state.content.model_dump(mode="json"), **event.data["changes"]}
    return state.model_copy(update={"content": Content.model_validate(document)})


def _submitted(state: Proposal, event: EventEnvelope) -> Proposal:
    data = event.data
    return state.model_copy(
        update={
            "round": data["round"],
            "content": _content(data),
            "domain": data["domain"],
            "citizen_proposed": data["citizen_proposed"],
            "reviews": {},
            "decision": None,
            "submitted_at": event.occurred_at,
        }
    )


def _assessed(state: Proposal, event: EventEnvelope) -> Proposal:
    data = event.data
    assessed = Eligibility(
        round=data["round"],
        eligible=data["eligible"],
        reasons=tuple(data["reasons"]),
        checks=tuple(data["checks"]),
        assessed_at=event.occurred_at,
        policy_version=event.policy_version,
    )
    status = UNDER_REVIEW if assessed.eligible else INELIGIBLE
    return state.model_copy(update={"eligibility": assessed, "status": status})


def _withdrawn(state: Proposal, event: EventEnvelope) -> Proposal:
    return state.model_copy(
        update={
            "status": WITHDRAWN,
            "withdrawn_at": event.occurred_at,
            "withdrawal_reason": event.data.get("reason"),
        }
    )


def _reviewed(state: Proposal, event: EventEnvelope) -> Proposal:
    data = event.data
    review = Review(
        reviewer=data["reviewer"],
        scores=data["scores"],
        weighted_total=data["weighted_total"],
        comment=data.get("comment"),
        submitted_at=event.occurred_at,
    )
    return state.model_copy(update={"reviews": {**state.reviews, review.reviewer: review}})


def _recused(state: Proposal, event: EventEnvelope) -> Proposal:
    data = event.data
    recusal = Recusal(
        reviewer=data["reviewer"],
        reason=data["reason"],
        actor_id=data.get("actor_id"),
        recused_at=event.occurred_at,
    )
    reviews = {k: v for k, v in state.reviews.items() if k != recusal.reviewer}
    recusals = {**state.recusals, recusal.reviewer: recusal}
    return state.model_copy(update={"reviews": reviews, "recusals": recusals})


def _decided(state: Proposal, event: EventEnvelope) -> Proposal:
    data = event.data
    decision = Decision(
        round=data["round"],
        outcome=data["outcome"],
        reasons=tuple(data["reasons"]),
        counted_reviews=data["counted_reviews"],
        weighted_score_sum=data["weighted_score_sum"],
        decided_at=event.occurred_at,
    )
    return state.model_copy(update={"decision": decision, "status": decision.outcome})


_EVOLVERS = {
    PROPOSAL_EDITED: _edited,
    PROPOSAL_SUBMITTED: _submitted,
    ELIGIBILITY_ASSESSED: _assessed,
    PROPOSAL_WITHDRAWN: _withdrawn,
    REVIEW_SUBMITTED: _reviewed,
    REVIEWER_RECUSED: _recused,
    PROPOSAL_DECIDED: _decided,
}


def _content(data: Mapping[str, Any]) -> Content:
    return Content.model_validate({key: data[key] for key in CONTENT_KEYS})


# --- decide -------------------------------------------------------------------------------


def decide_draft(
    state: Proposal | None,
    command: DraftProposal,
    call: Call | None,
    policy: ProposalsPolicy,
    lead_status: str | None,
) -> list[NewEvent]:
    if state is not None:
        raise Conflict(f"proposal {command.proposal_id} already exists")
    if command.by_actor != command.lead_actor_id:
        raise Forbidden(
            "a member of an actor proposes only for that actor: the token's actor is "
            f"{command.by_actor!r}, the lead actor {command.lead_actor_id!r}",
            ward=command.ward,
        )
    if call is None or call.ward != command.ward:
        raise InvalidCommand(f"no call {command.call_id} in ward {command.ward!r}")
    if lead_status in BARRED_ACTOR_STATUSES:
        raise Conflict(
            f"actor {command.lead_actor_id} is {lead_status} and cannot submit proposals",
            actor_status=lead_status,
        )
    content = command.model_dump(mode="json", include=set(CONTENT_KEYS))
    check_content(Content.model_validate(content), command.lead_actor_id, policy)
    data = {
        "proposal_id": command.proposal_id,
        "call_id": command.call_id,
        "lead_actor_id": command.lead_actor_id,
        **content,
    }
    return [NewEvent(event_type=PROPOSAL_DRAFTED, data=data)]


def decide_edit(
    state: Proposal | None, command: EditProposal, policy: ProposalsPolicy
) -> list[NewEvent]:
    proposal = existing_proposal(state, command.ward, command.proposal_id)
    require_proposer(proposal, command.by_actor)
    _require_status(proposal, "edited", EDITABLE)
    current = proposal.content.model_dump(mode="json")
    sent = command.changes.sent()
    changed = Content.model_validate({**current, **sent})
    check_content(changed, proposal.lead_actor_id, policy)
    changes = {k: v for k, v in changed.model_dump(mode="json").items() if current[k] != v}
    if not changes:
        return []
    data = {"proposal_id": proposal.proposal_id, "changes": changes}
    return [NewEvent(event_type=PROPOSAL_EDITED, data=data)]


def decide_submit(
    state: Proposal | None,
    command: SubmitProposal,
    call: Call,
    policy: ProposalsPolicy,
    standings: Mapping[str, str],
    today: date,
) -> list[NewEvent]:
    """Submission and its eligibility, decided together: the proposal is never left unassessed."""
    proposal = existing_proposal(state, command.ward, command.proposal_id)
    require_proposer(proposal, command.by_actor)
    _require_status(proposal, "submitted", EDITABLE)
    content = proposal.content
    checks = eligibility.assess(_application(proposal), call, policy, standings, today)
    round_ = proposal.round + 1
    submitted = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "round": round_,
        "lead_actor_id": proposal.lead_actor_id,
        **content.model_dump(mode="json"),
        "domain": policy.form_domain(content.form),
        "citizen_proposed": call.citizen_proposed,
    }
    failed = eligibility.reasons(checks)
    assessed = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "round": round_,
        "eligible": not failed,
        "reasons": failed,
        "checks": [check.document() for check in checks],
        "assessed_on": today.isoformat(),
    }
    return [
        NewEvent(event_type=PROPOSAL_SUBMITTED, data=submitted),
        NewEvent(event_type=ELIGIBILITY_ASSESSED, data=assessed),
    ]


def decide_withdraw(state: Proposal | None, command: WithdrawProposal) -> list[NewEvent]:
    proposal = existing_proposal(state, command.ward, command.proposal_id)
    require_proposer(proposal, command.by_actor)
    _require_status(proposal, "withdrawn", WITHDRAWABLE)
    data = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "reason": command.reason,
        "status_before": proposal.status,
    }
    return [NewEvent(event_type=PROPOSAL_WITHDRAWN, data=data)]


# --- rules --------------------------------------------------------------------------------


def existing_proposal(state: Proposal | None, ward: str, proposal_id: str) -> Proposal:
    """The proposal, if it belongs to this ward: another ward's proposal does not exist here."""
    if state is None or state.ward != ward:
        raise NotFound(f"no proposal {proposal_id} in ward {ward!r}", ward=ward)
    return state


def require_proposer(proposal: Proposal, by_actor: str | None) -> None:
    if by_actor != proposal.lead_actor_id:
        raise Forbidden(
            f"only members of the lead actor {proposal.lead_actor_id} act on this proposal",
            ward=proposal.ward,
        )


def _require_status(proposal: Proposal, becoming: str, allowed: frozenset[str]) -> None:
    if proposal.status not in allowed:
        raise Conflict(
            f"proposal {proposal.proposal_id} is {proposal.status} and cannot be {becoming}",
            proposal_status=proposal.status,
            allowed_from=sorted(allowed),
        )


def check_content(content: Content, lead_actor_id: str, policy: ProposalsPolicy) -> None:
    """What no proposal may say, whatever the policy: the budget, term and parties add up."""
    if content.requested_yen > content.budget_total_yen:
        raise InvalidCommand(
            "requested_yen is more than budget_total_yen",
            requested_yen=content.requested_yen,
            budget_total_yen=content.budget_total_yen,
        )
    if content.term_end < content.term_start:
        raise InvalidCommand("term_end is before term_start")
    if lead_actor_id in content.partner_actor_ids:
        raise InvalidCommand("the lead actor is not also a partner")
    parties = [role.party for role in content.roles]
    if len(set(parties)) != len(parties):
        raise InvalidCommand("each party's roles are given once")
    known = {lead_actor_id, *content.partner_actor_ids, WARD_PARTY}
    if strangers := sorted(set(parties) - known):
        raise InvalidCommand(
            f"roles name parties that are neither the lead, a partner nor the ward: {strangers}"
        )
    if unknown := sorted(set(content.fields) - policy.fields):
        raise InvalidCommand(
            f"ward {policy.ward!r} has no activity field {', '.join(unknown)}",
            known=sorted(policy.fields),
        )
    if unknown := sorted(set(content.exclusions) - set(policy.exclusions)):
        raise InvalidCommand(
            f"ward {policy.ward!r} has no exclusion {', '.join(unknown)}",
            known=list(policy.exclusions),
        )


def _application(proposal: Proposal) -> eligibility.Application:
    content = proposal.content
    return eligibility.Application(
        lead_actor_id=proposal.lead_actor_id,
        partner_actor_ids=content.partner_actor_ids,
        form=content.form,
        fields=content.fields,
        requested_yen=content.requested_yen,
        term_start=content.term_start,
        term_end=content.term_end,
        exclusions=content.exclusions,
    )
