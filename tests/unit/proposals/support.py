"""Given-when-then helpers for the proposals service's aggregates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from services.proposals import agreement, calls, proposal, screening
from services.proposals.agreement import Project
from services.proposals.calls import Call
from services.proposals.commands import (
    DecideProposal,
    DraftAgreement,
    DraftProposal,
    OpenCall,
    SignAgreement,
    SubmitProposal,
    SubmitReview,
)
from services.proposals.policy import ProposalsPolicy, proposals_policy
from services.proposals.proposal import Proposal
from shared.events import EventActor, EventEnvelope, NewEvent
from shared.policy import load_builtin_pack

S = TypeVar("S")
STAFF = EventActor(subject="staff@nerima", role="staff")
TODAY = date(2026, 5, 1)
LEAD = "actor-lead"
PARTNER = "actor-partner"
OUTSIDER = "actor-outsider"
CALL_ID = "call-1"
PROPOSAL_ID = "proposal-1"


def nerima_policy() -> ProposalsPolicy:
    return proposals_policy(load_builtin_pack("nerima"), 1)


POLICY = nerima_policy()


def envelopes(
    events: Sequence[NewEvent], *, ward: str = "nerima", stream_id: str = "s", first: int = 1
) -> list[EventEnvelope]:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    return [
        EventEnvelope(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            ward=ward,
            stream_id=stream_id,
            version=first + offset,
            position=first + offset,
            occurred_at=now + timedelta(seconds=first + offset),
            recorded_at=now,
            actor=STAFF,
            correlation_id="c",
            policy_version=1,
            data=event.data,
        )
        for offset, event in enumerate(events)
    ]


def fold(
    initial: Callable[[], S],
    evolve: Callable[[S, EventEnvelope], S],
    *histories: Sequence[NewEvent],
    ward: str = "nerima",
) -> S:
    """The state after the given events (in order), as the handler would load it."""
    state = initial()
    history = [event for events in histories for event in events]
    for envelope in envelopes(history, ward=ward):
        state = evolve(state, envelope)
    return state


class ProposalHistory:
    """A proposal's events so far; ``state`` folds them like the handler does."""

    def __init__(self, *events: NewEvent) -> None:
        self.events: list[NewEvent] = list(events)

    @property
    def state(self) -> Proposal | None:
        return fold(proposal.initial_proposal, proposal.evolve_proposal, self.events)

    def then(self, events: Sequence[NewEvent]) -> ProposalHistory:
        self.events.extend(events)
        return self


def call_opening(**overrides: Any) -> OpenCall:
    values: dict[str, Any] = {
        "ward": "nerima",
        "call_id": CALL_ID,
        "title": "区民提案型 協働事業",
        "kind": "citizen_proposed",
        "opens_on": date(2026, 4, 1),
        "closes_on": date(2026, 5, 31),
        "allowed_forms": ["subsidy", "co_hosting", "commission"],
        "budget_limit_yen": 3_000_000,
    }
    values.update(overrides)
    return OpenCall.model_validate(values)


def open_call(**overrides: Any) -> Call:
    events = calls.decide_open(None, call_opening(**overrides), POLICY)
    state = fold(calls.initial_call, calls.evolve_call, events)
    assert state is not None
    return state


def draft(**overrides: Any) -> DraftProposal:
    values: dict[str, Any] = {
        "ward": "nerima",
        "proposal_id": PROPOSAL_ID,
        "by_actor": LEAD,
        "call_id": CALL_ID,
        "lead_actor_id": LEAD,
        "partner_actor_ids": [PARTNER],
        "title": "民設子育てのひろば事業",
        "local_issue": "子育て中の親が孤立しがちである。",
        "purpose": "子育てひろばで親子の交流と相談の場をつくる。",
        "form": "subsidy",
        "department": "子育て支援課",
        "fields": ["childcare"],
        "roles": [
            {"party": LEAD, "role": "ひろばの運営"},
            {"party": PARTNER, "role": "会場の提供"},
            {"party": "ward", "role": "経費の一部補助"},
        ],
        "budget_total_yen": 2_400_000,
        "requested_yen": 1_800_000,
        "term_start": date(2026, 6, 1),
        "term_end": date(2027, 5, 31),
        "exclusions": {code: False for code in POLICY.exclusions},
    }
    values.update(overrides)
    return DraftProposal.model_validate(values)


ACTIVE = {LEAD: "active", PARTNER: "active"}


def drafted(**overrides: Any) -> ProposalHistory:
    return ProposalHistory(
        *proposal.decide_draft(None, draft(**overrides), open_call(), POLICY, "active")
    )


def submitted(
    history: ProposalHistory | None = None,
    *,
    call: Call | None = None,
    standings: dict[str, str] | None = None,
    today: date = TODAY,
) -> ProposalHistory:
    history = history or drafted()
    command = SubmitProposal(ward="nerima", proposal_id=PROPOSAL_ID, by_actor=LEAD)
    events = proposal.decide_submit(
        history.state, command, call or open_call(), POLICY, standings or ACTIVE, today
    )
    return history.then(events)


def review(reviewer: str, score: int = 4, **overrides: Any) -> SubmitReview:
    values: dict[str, Any] = {
        "ward": "nerima",
        "proposal_id": PROPOSAL_ID,
        "reviewer": reviewer,
        "reviewer_actor_id": None,
        "scores": {item.code: score for item in POLICY.rubric},
    }
    values.update(overrides)
    return SubmitReview.model_validate(values)


def reviewed(history: ProposalHistory, *commands: SubmitReview) -> ProposalHistory:
    for command in commands:
        history.then(screening.decide_review(history.state, command, open_call()))
    return history


def decision(outcome: str = "adopted") -> DecideProposal:
    return DecideProposal(
        ward="nerima", proposal_id=PROPOSAL_ID, outcome=outcome, reasons=["公益性が高い"]
    )


def adopted() -> ProposalHistory:
    history = reviewed(submitted(), review("r1"), review("r2"), review("r3"))
    return history.then(screening.decide_decision(history.state, decision(), POLICY))


def agreement_terms(**overrides: Any) -> DraftAgreement:
    values: dict[str, Any] = {
        "ward": "nerima",
        "proposal_id": PROPOSAL_ID,
        "parties": [
            {"party": LEAD, "role": "ひろばの運営", "cost_share_yen": 500_000},
            {"party": PARTNER, "role": "会場の提供", "cost_share_yen": 100_000},
            {"party": "ward", "role": "経費の一部補助", "cost_share_yen": 1_800_000},
        ],
        "information_sharing": "月に一度、連絡会で状況を共有する。",
        "disclosure": "成果と収支を区のホームページで公開する。",
    }
    values.update(overrides)
    return DraftAgreement.model_validate(values)


class ProjectHistory:
    def __init__(self, *events: NewEvent) -> None:
        self.events: list[NewEvent] = list(events)

    @property
    def state(self) -> Project | None:
        return fold(agreement.initial_project, agreement.evolve_project, self.events)

    def then(self, events: Sequence[NewEvent]) -> ProjectHistory:
        self.events.extend(events)
        return self


def drafted_agreement(**overrides: Any) -> ProjectHistory:
    events = agreement.decide_draft(None, adopted().state, agreement_terms(**overrides), POLICY)
    return ProjectHistory(*events)


def sign(party: str, version: int | None = None) -> SignAgreement:
    return SignAgreement(
        ward="nerima",
        proposal_id=PROPOSAL_ID,
        party=party,
        signed_by=f"user@{party}",
        agreement_version=version,
    )


def types_of(events: Sequence[NewEvent]) -> list[str]:
    return [event.event_type for event in events]
