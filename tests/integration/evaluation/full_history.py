"""A history of Nerima with every event type the evaluation's read model handles: the
registry's, the proposals', the fund's and the evaluation's own, interleaved as they were
recorded, each decided by its service's own functions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from services.evaluation.commands import (
    AttachReview,
    ClearInertiaFlag,
    ConcludeRound,
    FlagClearance,
    ReconcileScores,
    Reconciliation,
    Review,
    RoundConclusion,
    SubmitAssessment,
)
from services.evaluation.events import (
    GRANT_AWARDED,
    flag_stream,
    round_stream,
    scheduled_round_id,
)
from services.evaluation.grants import grant_facts
from services.evaluation.handlers import FLAG, ROUND
from services.evaluation.inertia import (
    CallFact,
    GrantFact,
    ProjectFact,
    WardFacts,
    decide_clear,
    decide_flag,
    find_breaches,
)
from services.evaluation.policy import (
    FISCAL_YEAR_END,
    PROJECT_END,
    EvaluationPolicy,
    policy_from_document,
)
from services.evaluation.rounds import (
    ProjectSnapshot,
    Round,
    decide_conclude,
    decide_open,
    decide_reconcile,
    decide_review,
    decide_submit,
)
from services.evaluation.schedule import evaluation_schedule, find_occasion
from services.fund.book import FundBook, fold
from services.fund.commands import AwardGrant, ReceiveDonation, ReturnGrantFunds
from services.fund.designations import DesignationKind
from services.fund.donations import decide_donation, receipt_fiscal_year, with_receipt
from services.fund.events import fund_stream, receipt_stream
from services.fund.grants import decide_grant, decide_return
from services.fund.policy import policy_from_pack
from services.fund.targets import Target, TargetStatus
from services.proposals import agreement, calls
from services.proposals.agreement import Project
from services.proposals.commands import WARD_PARTY, EndProject
from services.proposals.events import call_stream, project_id_of, project_stream
from services.registry import wards
from services.registry.commands import ChangeWardPolicy, OnboardWard
from services.registry.events import ward_stream
from shared.events import SYSTEM_ACTOR, EventEnvelope, NewEvent
from shared.events.envelope import service_of
from shared.handling import Aggregate
from shared.policy import load_builtin_pack
from tests.unit.evaluation.support import assessment, scores
from tests.unit.fund.support import donor
from tests.unit.proposals.support import (
    CALL_ID,
    LEAD,
    PARTNER,
    POLICY,
    PROPOSAL_ID,
    adopted,
    agreement_terms,
    call_opening,
    drafted_agreement,
    sign,
)

S = TypeVar("S")
WARD = "nerima"
PACK = load_builtin_pack(WARD)
FUND_POLICY = policy_from_pack(PACK, 1)
PROJECT_ID = project_id_of(PROPOSAL_ID)
PROJECT = Aggregate(agreement.initial_project, agreement.evolve_project)
CALL = Aggregate(calls.initial_call, calls.evolve_call)
WARDS = Aggregate(wards.initial_ward, wards.evolve_ward)
START = datetime(2026, 4, 1, tzinfo=UTC)
ENDED_ON = date(2028, 3, 31)
GRANT_YEARS = {"grant-1": 2026, "grant-2": 2026, "grant-3": 2027, "grant-4": 2027}
RETURNED_YEN = 50_000


@dataclass
class Sources:
    """The events of the registry, the proposals, the fund and the evaluation as their stores
    would hold them (versions per stream, positions per service, a minute apart), in the order
    they were recorded."""

    events: list[EventEnvelope] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)

    def record(self, stream: str, new_events: Sequence[NewEvent]) -> None:
        for event in new_events:
            self.events.append(self._envelope(stream, event))

    def decide(
        self, aggregate: Aggregate[S], stream: str, decide: Callable[[S], Sequence[NewEvent]]
    ) -> None:
        """As a handler does: the stream's state, the decision, its events appended."""
        self.record(stream, decide(self.state(aggregate, stream)))

    def state(self, aggregate: Aggregate[S], stream: str) -> S:
        state = aggregate.initial()
        for event in self.events:
            if event.stream_id == stream:
                state = aggregate.evolve(state, event)
        return state

    def of_type(self, event_type: str) -> list[EventEnvelope]:
        return [event for event in self.events if event.event_type == event_type]

    def _envelope(self, stream: str, event: NewEvent) -> EventEnvelope:
        service = service_of(event.event_type)
        self.versions[stream] = self.versions.get(stream, 0) + 1
        self.positions[service] = self.positions.get(service, 0) + 1
        at = START + timedelta(minutes=len(self.events))
        return EventEnvelope(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            ward=WARD,
            stream_id=stream,
            version=self.versions[stream],
            position=self.positions[service],
            occurred_at=at,
            recorded_at=at,
            actor=SYSTEM_ACTOR,
            correlation_id=f"{service}-{len(self.events)}",
            data=event.data,
        )


def evaluation_history() -> list[EventEnvelope]:
    """A project of Nerima from its start to its end, its grants and its two rounds, and the
    flag its grants raise, cleared: what the evaluation consumes, those it ignores included."""
    sources = Sources()
    onboard_ward(sources)
    open_call(sources)
    start_project(sources)
    receive_donation(sources, 1_000_000, date(2026, 6, 1))
    award_grant(sources, "grant-1", date(2026, 6, 15))
    award_grant(sources, "grant-2", date(2026, 10, 1))
    year_end = open_round(sources, FISCAL_YEAR_END, 2026)
    submit(sources, year_end, "actor", scores(4))
    amend_agreement(sources)
    submit(sources, year_end, "ward", scores(4, disclosure=1))
    award_grant(sources, "grant-3", date(2027, 5, 10))
    reconcile(sources, year_end, disclosure=3)
    change_policy(sources)
    attach_review(sources, year_end)
    award_grant(sources, "grant-4", date(2027, 9, 1))
    flag_id = raise_flag(sources)
    conclude(sources, year_end)
    return_funds(sources, "grant-1", date(2028, 3, 20))
    end_project(sources)
    project_end = open_round(sources, PROJECT_END, None)
    submit(sources, project_end, "actor", scores(3))
    clear_flag(sources, flag_id)
    return sources.events


# --- the registry -------------------------------------------------------------------------


def onboard_ward(sources: Sources) -> None:
    command = OnboardWard(pack=PACK)
    sources.decide(WARDS, ward_stream(WARD), lambda s: wards.decide_onboard(s, command))


def change_policy(sources: Sources) -> None:
    pack = PACK.model_copy(update={"version": 2})
    command = ChangeWardPolicy(ward=WARD, pack=pack, reason="評価項目の見直し")
    sources.decide(WARDS, ward_stream(WARD), lambda s: wards.decide_change_policy(s, command))


def ward_policy(sources: Sources) -> EvaluationPolicy:
    """The policy in force, as the evaluation reads it from the registry's pack."""
    ward = sources.state(WARDS, ward_stream(WARD))
    assert ward is not None
    return policy_from_document(ward.pack, ward.pack_hash, ward.policy_version)


# --- the proposals ------------------------------------------------------------------------


def open_call(sources: Sources) -> None:
    command = call_opening()
    sources.decide(CALL, call_stream(CALL_ID), lambda s: calls.decide_open(s, command, POLICY))


def start_project(sources: Sources) -> None:
    sources.record(project_stream(PROJECT_ID), drafted_agreement().events)
    signed_by_every_party(sources)


def amend_agreement(sources: Sources) -> None:
    terms = agreement_terms(
        amendment_reason="利用者の増加に合わせて延長", term_end=date(2028, 5, 31)
    )
    proposal = adopted().state
    sources.decide(
        PROJECT,
        project_stream(PROJECT_ID),
        lambda s: agreement.decide_draft(s, proposal, terms, POLICY),
    )
    signed_by_every_party(sources)


def signed_by_every_party(sources: Sources) -> None:
    for party in (LEAD, PARTNER, WARD_PARTY):
        signed_by(sources, party)


def signed_by(sources: Sources, party: str) -> None:
    command = sign(party)
    sources.decide(PROJECT, project_stream(PROJECT_ID), lambda s: agreement.decide_sign(s, command))


def end_project(sources: Sources) -> None:
    command = EndProject(
        ward=WARD, project_id=PROJECT_ID, reason="事業を完了した", ended_on=ENDED_ON
    )
    sources.decide(PROJECT, project_stream(PROJECT_ID), lambda s: agreement.decide_end(s, command))


def started_project(sources: Sources) -> Project:
    project = sources.state(PROJECT, project_stream(PROJECT_ID))
    assert project is not None and project.in_force is not None
    return project


# --- the fund -----------------------------------------------------------------------------


def receive_donation(sources: Sources, amount_yen: int, received_on: date) -> None:
    command = ReceiveDonation.model_validate(
        {
            "ward": WARD,
            "donation_id": "donation-1",
            "amount_yen": amount_yen,
            "received_on": received_on,
            "designation": {"kind": "general"},
            "donor": donor(),
        }
    )
    year = receipt_fiscal_year(command)
    received = decide_donation(command)
    data = with_receipt(WARD, year)(received.data, 1)  # as the store stamps it
    sources.record(receipt_stream(WARD, year), [received.model_copy(update={"data": data})])


def award_grant(sources: Sources, grant_id: str, awarded_on: date) -> None:
    project = started_project(sources)
    recipient = Target(
        DesignationKind.PROJECT,
        PROJECT_ID,
        WARD,
        TargetStatus.ACTIVE,
        name=project.title,
        lead_actor_id=project.lead_actor_id,
    )
    command = AwardGrant.model_validate(
        {
            "ward": WARD,
            "grant_id": grant_id,
            "recipient": {"kind": "project", "project_id": PROJECT_ID},
            "purpose_field": "childcare",
            "fiscal_year": GRANT_YEARS[grant_id],
            "amount_yen": 200_000,
            "title": "子育てひろば運営助成",
            "awarded_on": awarded_on,
        }
    )
    events = decide_grant(fund_book(sources), command, FUND_POLICY, recipient, awarded_on)
    sources.record(fund_stream(WARD), events)


def return_funds(sources: Sources, grant_id: str, returned_on: date) -> None:
    command = ReturnGrantFunds(
        ward=WARD,
        grant_id=grant_id,
        return_id=f"return-{grant_id}",
        amount_yen=RETURNED_YEN,
        returned_on=returned_on,
        source="undisbursed",
        reason="参加者が見込みより少なかった",
    )
    sources.record(fund_stream(WARD), decide_return(fund_book(sources), command, returned_on))


def fund_book(sources: Sources) -> FundBook:
    return fold(event for event in sources.events if event.service == "fund")


# --- the evaluation -----------------------------------------------------------------------


def open_round(sources: Sources, kind: str, fiscal_year: int | None) -> str:
    """The scheduled round of the project, opened as the sweep opens it."""
    project, policy = started_project(sources), ward_policy(sources)
    terms = project.in_force
    assert terms is not None
    schedule = evaluation_schedule(
        terms.term_start, terms.term_end, project.ended_on, policy.schedule
    )
    occasion = find_occasion(schedule, kind, fiscal_year)
    assert occasion is not None
    round_id = scheduled_round_id(WARD, PROJECT_ID, occasion.kind, occasion.key[1])
    snapshot = ProjectSnapshot.model_validate(agreement.project_facts(project, terms))

    def opened(state: Round | None) -> list[NewEvent]:
        return decide_open(
            state,
            round_id=round_id,
            project=snapshot,
            occasion=occasion.kind,
            fiscal_year=occasion.fiscal_year,
            period_start=occasion.period_start,
            period_end=occasion.period_end,
            policy=policy,
        )

    sources.decide(ROUND, round_stream(round_id), opened)
    return round_id


def submit(sources: Sources, round_id: str, side: str, score_map: dict[str, int]) -> None:
    command = SubmitAssessment.model_validate(
        {
            "ward": WARD,
            "round_id": round_id,
            "side": side,
            "actor_id": LEAD if side == "actor" else None,
            "assessment": assessment(score_map),
        }
    )
    sources.decide(ROUND, round_stream(round_id), lambda s: decide_submit(s, command))


def reconcile(sources: Sources, round_id: str, **agreed: int) -> None:
    reconciliation = Reconciliation(scores=agreed, note="公開の遅れは双方で改善する。")
    command = ReconcileScores(ward=WARD, round_id=round_id, reconciliation=reconciliation)
    sources.decide(ROUND, round_stream(round_id), lambda s: decide_reconcile(s, command))


def attach_review(sources: Sources, round_id: str) -> None:
    review = Review(
        reviewer_body="練馬区協働推進会議",
        summary="成果は十分、情報公開に課題。",
        recommendation="improve",
    )
    command = AttachReview(ward=WARD, round_id=round_id, review=review)
    sources.decide(ROUND, round_stream(round_id), lambda s: decide_review(s, command))


def conclude(sources: Sources, round_id: str) -> None:
    conclusion = RoundConclusion(
        conclusion="improve", reasons="参加者は増えた。", improvements="活動報告を毎月公開する。"
    )
    command = ConcludeRound(ward=WARD, round_id=round_id, conclusion=conclusion)
    sources.decide(ROUND, round_stream(round_id), lambda s: decide_conclude(s, command))


def raise_flag(sources: Sources) -> str:
    """The one breach the project's grants make, flagged as the sweep flags it."""
    [breach] = find_breaches(ward_facts(sources), ward_policy(sources).limits)
    sources.decide(FLAG, flag_stream(breach.flag_id), lambda s: decide_flag(s, breach))
    return breach.flag_id


def clear_flag(sources: Sources, flag_id: str) -> None:
    clearance = FlagClearance(
        decision="継続を認める", reason="他に担い手のいない地域の事業である。"
    )
    command = ClearInertiaFlag(ward=WARD, flag_id=flag_id, clearance=clearance)
    sources.decide(FLAG, flag_stream(flag_id), lambda s: decide_clear(s, command))


def ward_facts(sources: Sources) -> WardFacts:
    project = started_project(sources)
    terms = project.in_force
    call = sources.state(CALL, call_stream(CALL_ID))
    assert terms is not None and call is not None
    fact = ProjectFact(
        project_id=project.project_id,
        lead_actor_id=project.lead_actor_id,
        partner_actor_ids=project.partner_actor_ids,
        department=project.department,
        call_id=project.call_id,
        term_start=terms.term_start,
        term_end=terms.term_end,
        ended_on=project.ended_on,
    )
    return WardFacts(
        ward=WARD,
        projects=[fact],
        calls=[CallFact(call.call_id, call.opens_on)],
        grants=[grant_fact(event.data) for event in sources.of_type(GRANT_AWARDED)],
    )


def grant_fact(data: dict[str, Any]) -> GrantFact:
    """What the rules know of a grant: what the evaluation keeps of it but the amount."""
    grant = grant_facts(data)
    return GrantFact(**{fact.name: getattr(grant, fact.name) for fact in fields(GrantFact)})
