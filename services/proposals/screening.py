"""Screening (審査): reviewers score the call's rubric; recusal; the decision with its reasons.

A reviewer who declares a conflict of interest, or who is a member of a proposing actor (the
lead or a partner), is recused: their score is dropped, and never counts again in this
proposal. A decision needs the ward's minimum number of counted reviews.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.proposals.calls import Call
from services.proposals.commands import DecideProposal, SubmitReview
from services.proposals.events import PROPOSAL_DECIDED, REVIEW_SUBMITTED, REVIEWER_RECUSED
from services.proposals.policy import ProposalsPolicy
from services.proposals.proposal import UNDER_REVIEW, Proposal, existing_proposal
from shared.errors import Conflict, InvalidCommand
from shared.events import NewEvent

CONFLICT_OF_INTEREST = "conflict_of_interest"
MEMBER_OF_PROPOSING_ACTOR = "member_of_proposing_actor"


def recusal_reason(proposal: Proposal, command: SubmitReview) -> str | None:
    if command.conflict_of_interest:
        return CONFLICT_OF_INTEREST
    if command.reviewer_actor_id is not None and command.reviewer_actor_id in proposal.actor_ids:
        return MEMBER_OF_PROPOSING_ACTOR
    return None


def weighted_total(call: Call, scores: Mapping[str, int]) -> int:
    return sum(item.weight * scores[item.code] for item in call.rubric)


def decide_review(state: Proposal | None, command: SubmitReview, call: Call) -> list[NewEvent]:
    proposal = existing_proposal(state, command.ward, command.proposal_id)
    _require_under_review(proposal, "reviewed")
    if command.reviewer in proposal.recusals:
        raise Conflict(
            f"reviewer {command.reviewer} is recused from proposal {proposal.proposal_id}",
            recusal_reason=proposal.recusals[command.reviewer].reason,
        )
    reason = recusal_reason(proposal, command)
    if reason is not None:
        return [_recused(proposal, command, reason)]
    _check_scores(call, command.scores)
    total = weighted_total(call, command.scores)
    others = [r for r in proposal.reviews.values() if r.reviewer != command.reviewer]
    data = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "round": proposal.round,
        "reviewer": command.reviewer,
        "scores": dict(sorted(command.scores.items())),
        "weighted_total": total,
        "max_weighted_total": call.max_weighted_total,
        "comment": command.comment,
        "counted_reviews": len(others) + 1,
        "weighted_score_sum": sum(r.weighted_total for r in others) + total,
    }
    return [NewEvent(event_type=REVIEW_SUBMITTED, data=data)]


def decide_decision(
    state: Proposal | None, command: DecideProposal, policy: ProposalsPolicy
) -> list[NewEvent]:
    proposal = existing_proposal(state, command.ward, command.proposal_id)
    _require_under_review(proposal, "decided")
    counted = proposal.counted_reviews
    if counted < policy.min_counted_reviews:
        raise Conflict(
            f"a decision needs {policy.min_counted_reviews} counted reviews; "
            f"proposal {proposal.proposal_id} has {counted}",
            counted_reviews=counted,
            min_counted_reviews=policy.min_counted_reviews,
            recused_reviewers=len(proposal.recusals),
        )
    data = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "round": proposal.round,
        "outcome": command.outcome,
        "reasons": list(command.reasons),
        "counted_reviews": counted,
        "weighted_score_sum": proposal.weighted_score_sum,
        "min_counted_reviews": policy.min_counted_reviews,
        "lead_actor_id": proposal.lead_actor_id,
        "title": proposal.content.title,
        "form": proposal.content.form,
    }
    return [NewEvent(event_type=PROPOSAL_DECIDED, data=data)]


def _recused(proposal: Proposal, command: SubmitReview, reason: str) -> NewEvent:
    remaining = [r for r in proposal.reviews.values() if r.reviewer != command.reviewer]
    data = {
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "round": proposal.round,
        "reviewer": command.reviewer,
        "reason": reason,
        "actor_id": command.reviewer_actor_id if reason == MEMBER_OF_PROPOSING_ACTOR else None,
        "note": command.comment,
        "dropped_review": command.reviewer in proposal.reviews,
        "counted_reviews": len(remaining),
        "weighted_score_sum": sum(r.weighted_total for r in remaining),
    }
    return NewEvent(event_type=REVIEWER_RECUSED, data=data)


def _require_under_review(proposal: Proposal, becoming: str) -> None:
    if proposal.status != UNDER_REVIEW:
        raise Conflict(
            f"proposal {proposal.proposal_id} is {proposal.status} and cannot be {becoming}",
            proposal_status=proposal.status,
        )


def _check_scores(call: Call, scores: Mapping[str, int]) -> None:
    items = {item.code: item for item in call.rubric}
    if unknown := sorted(set(scores) - set(items)):
        raise InvalidCommand(f"the call's rubric has no item {', '.join(unknown)}")
    if missing := sorted(set(items) - set(scores)):
        raise InvalidCommand(f"a review scores every rubric item; missing {', '.join(missing)}")
    over = sorted(code for code, score in scores.items() if score > items[code].max_score)
    if over:
        raise InvalidCommand(
            f"scores above the item's maximum: {', '.join(over)}",
            max_scores={code: items[code].max_score for code in over},
        )
