"""Agreements (協働協定書) and the projects they start.

An adopted proposal gets a versioned agreement: purpose, term, each party's roles and cost
shares (summing to the total), information-sharing and disclosure clauses. Every party signs
the current version: the lead and partner actors (a member of each), and the ward (its staff,
for the department in charge). When all have signed the first version the project starts; an
amendment is a new version that all sign again, and is in force once they have.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.proposals import eligibility
from services.proposals.commands import WARD_PARTY, DraftAgreement, EndProject, SignAgreement
from services.proposals.events import (
    AGREEMENT_AMENDED,
    AGREEMENT_DRAFTED,
    AGREEMENT_SIGNED,
    PROJECT_ENDED,
    PROJECT_STARTED,
    project_id_of,
)
from services.proposals.policy import ProposalsPolicy
from services.proposals.proposal import ADOPTED, Proposal, existing_proposal
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent

DRAFTING = "drafting"
STARTED = "started"
ENDED = "ended"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class AgreementParty(_Frozen):
    party: str
    role: str
    cost_share_yen: int


class Signature(_Frozen):
    party: str
    signed_by: str
    signed_at: datetime


class AgreementVersion(_Frozen):
    agreement_version: int
    purpose: str
    term_start: date
    term_end: date
    parties: tuple[AgreementParty, ...]
    budget_total_yen: int
    requested_yen: int
    information_sharing: str
    disclosure: str
    amendment_reason: str | None
    drafted_at: datetime
    signatures: tuple[Signature, ...] = ()

    @property
    def unsigned_parties(self) -> list[str]:
        signed = {signature.party for signature in self.signatures}
        return [p.party for p in self.parties if p.party not in signed]


class Project(_Frozen):
    """The agreement of one adopted proposal and, once all have signed, its project."""

    project_id: str
    proposal_id: str
    ward: str
    call_id: str
    title: str
    form: str
    domain: str
    lead_actor_id: str
    partner_actor_ids: tuple[str, ...]
    department: str
    fields: tuple[str, ...]
    citizen_proposed: bool
    status: str
    versions: tuple[AgreementVersion, ...]
    in_force_version: int | None = None
    started_at: datetime | None = None
    ended_on: date | None = None
    end_reason: str | None = None

    @property
    def current(self) -> AgreementVersion:
        return self.versions[-1]

    @property
    def in_force(self) -> AgreementVersion | None:
        return next(
            (v for v in self.versions if v.agreement_version == self.in_force_version), None
        )

    @property
    def awaiting_signatures(self) -> bool:
        return self.in_force_version != self.current.agreement_version

    @property
    def actor_ids(self) -> tuple[str, ...]:
        return (self.lead_actor_id, *self.partner_actor_ids)


def initial_project() -> Project | None:
    return None


# --- evolve -------------------------------------------------------------------------------


def evolve_project(state: Project | None, event: EventEnvelope) -> Project | None:
    data = event.data
    if event.event_type == AGREEMENT_DRAFTED:
        return _drafted(state, event)
    assert state is not None, f"{event.event_type} before {AGREEMENT_DRAFTED}"
    if event.event_type == AGREEMENT_SIGNED:
        signature = Signature(
            party=data["party"], signed_by=data["signed_by"], signed_at=event.occurred_at
        )
        current = state.current.model_copy(
            update={"signatures": (*state.current.signatures, signature)}
        )
        return state.model_copy(update={"versions": (*state.versions[:-1], current)})
    if event.event_type == PROJECT_STARTED:
        return state.model_copy(
            update={
                "status": STARTED,
                "in_force_version": data["agreement_version"],
                "started_at": event.occurred_at,
            }
        )
    if event.event_type == AGREEMENT_AMENDED:
        return state.model_copy(update={"in_force_version": data["agreement_version"]})
    if event.event_type == PROJECT_ENDED:
        return state.model_copy(
            update={
                "status": ENDED,
                "ended_on": date.fromisoformat(data["ended_on"]),
                "end_reason": data["reason"],
            }
        )
    return state


def _drafted(state: Project | None, event: EventEnvelope) -> Project:
    data = event.data
    version = AgreementVersion.model_validate(
        {
            **{key: data[key] for key in AgreementVersion.model_fields if key in data},
            "drafted_at": event.occurred_at,
        }
    )
    if state is not None:
        return state.model_copy(update={"versions": (*state.versions, version)})
    return Project(
        project_id=data["project_id"],
        proposal_id=data["proposal_id"],
        ward=event.ward,
        call_id=data["call_id"],
        title=data["title"],
        form=data["form"],
        domain=data["domain"],
        lead_actor_id=data["lead_actor_id"],
        partner_actor_ids=tuple(data["partner_actor_ids"]),
        department=data["department"],
        fields=tuple(data["fields"]),
        citizen_proposed=data["citizen_proposed"],
        status=DRAFTING,
        versions=(version,),
    )


# --- decide -------------------------------------------------------------------------------


def decide_draft(
    state: Project | None,
    proposal_state: Proposal | None,
    command: DraftAgreement,
    policy: ProposalsPolicy,
) -> list[NewEvent]:
    proposal = existing_proposal(proposal_state, command.ward, command.proposal_id)
    if proposal.status != ADOPTED:
        raise Conflict(
            f"proposal {proposal.proposal_id} is {proposal.status}; "
            "only an adopted proposal gets an agreement",
            proposal_status=proposal.status,
        )
    if state is not None and state.status == ENDED:
        raise Conflict(f"project {state.project_id} has ended; its agreement is closed")
    amends = state.in_force_version if state is not None else None
    if amends is not None and command.amendment_reason is None:
        raise InvalidCommand("an amendment of an agreement in force gives its amendment_reason")
    terms = _terms(command, proposal, state.current if state else None)
    _check_parties(proposal, command)
    _check_money(terms["budget_total_yen"], terms["requested_yen"], command)
    _check_term(terms["term_start"], terms["term_end"], policy)
    data = {
        "project_id": project_id_of(proposal.proposal_id),
        "proposal_id": proposal.proposal_id,
        "call_id": proposal.call_id,
        "agreement_version": len(state.versions) + 1 if state else 1,
        "amends_version": amends,
        "amendment_reason": command.amendment_reason,
        **_facts_of_proposal(proposal),
        **{k: v.isoformat() if isinstance(v, date) else v for k, v in terms.items()},
        "parties": [party.model_dump() for party in command.parties],
        "information_sharing": command.information_sharing,
        "disclosure": command.disclosure,
    }
    return [NewEvent(event_type=AGREEMENT_DRAFTED, data=data)]


def decide_sign(state: Project | None, command: SignAgreement) -> list[NewEvent]:
    project = existing_agreement(state, command.ward, command.proposal_id)
    if project.status == ENDED:
        raise Conflict(f"project {project.project_id} has ended; its agreement is closed")
    current = project.current
    if not project.awaiting_signatures:
        raise Conflict(
            f"every party has signed version {current.agreement_version}; "
            "nothing awaits a signature"
        )
    if command.agreement_version not in (None, current.agreement_version):
        raise Conflict(
            f"version {current.agreement_version} of the agreement is current, "
            f"not {command.agreement_version}",
            agreement_version=current.agreement_version,
        )
    if command.party not in {p.party for p in current.parties}:
        raise Forbidden(
            f"{command.party!r} is not a party to the agreement of proposal {project.proposal_id}",
            ward=project.ward,
        )
    unsigned = current.unsigned_parties
    if command.party not in unsigned:
        raise Conflict(f"{command.party!r} has already signed version {current.agreement_version}")
    remaining = [party for party in unsigned if party != command.party]
    signed = {
        "project_id": project.project_id,
        "proposal_id": project.proposal_id,
        "agreement_version": current.agreement_version,
        "party": command.party,
        "signed_by": command.signed_by,
        "unsigned_parties": remaining,
    }
    events = [NewEvent(event_type=AGREEMENT_SIGNED, data=signed)]
    if not remaining:
        in_force = AGREEMENT_AMENDED if project.in_force_version else PROJECT_STARTED
        events.append(NewEvent(event_type=in_force, data=project_facts(project, current)))
    return events


def decide_end(state: Project | None, command: EndProject) -> list[NewEvent]:
    if state is None or state.ward != command.ward or state.project_id != command.project_id:
        raise NotFound(f"no project {command.project_id} in ward {command.ward!r}")
    if state.status != STARTED:
        raise Conflict(
            f"project {state.project_id} is {state.status}; only a started project ends",
            project_status=state.status,
        )
    data = {
        "project_id": state.project_id,
        "proposal_id": state.proposal_id,
        "reason": command.reason,
        "ended_on": command.ended_on.isoformat(),
    }
    return [NewEvent(event_type=PROJECT_ENDED, data=data)]


def project_facts(project: Project, version: AgreementVersion) -> dict[str, Any]:
    """What ProjectStarted and AgreementAmended tell the fund and the evaluation."""
    return {
        "project_id": project.project_id,
        "proposal_id": project.proposal_id,
        "call_id": project.call_id,
        "title": project.title,
        "form": project.form,
        "domain": project.domain,
        "lead_actor_id": project.lead_actor_id,
        "partner_actor_ids": list(project.partner_actor_ids),
        "parties": [party.model_dump() for party in version.parties],
        "department": project.department,
        "fields": list(project.fields),
        "term_start": version.term_start.isoformat(),
        "term_end": version.term_end.isoformat(),
        "budget_total_yen": version.budget_total_yen,
        "requested_yen": version.requested_yen,
        "citizen_proposed": project.citizen_proposed,
        "agreement_version": version.agreement_version,
        "purpose": version.purpose,
    }


def existing_agreement(state: Project | None, ward: str, proposal_id: str) -> Project:
    if state is None or state.ward != ward:
        raise NotFound(f"no agreement for proposal {proposal_id} in ward {ward!r}", ward=ward)
    return state


def _facts_of_proposal(proposal: Proposal) -> dict[str, Any]:
    content = proposal.content
    return {
        "title": content.title,
        "form": content.form,
        "domain": proposal.domain,
        "lead_actor_id": proposal.lead_actor_id,
        "partner_actor_ids": list(content.partner_actor_ids),
        "department": content.department,
        "fields": list(content.fields),
        "citizen_proposed": bool(proposal.citizen_proposed),
    }


def _terms(
    command: DraftAgreement, proposal: Proposal, previous: AgreementVersion | None
) -> dict[str, Any]:
    """The terms sent, else those of the previous version, else those of the proposal."""
    base: Mapping[str, Any] = (previous or proposal.content).model_dump()
    keys = ("purpose", "term_start", "term_end", "budget_total_yen", "requested_yen")
    return {
        key: getattr(command, key) if getattr(command, key) is not None else base[key]
        for key in keys
    }


def _check_parties(proposal: Proposal, command: DraftAgreement) -> None:
    named = [party.party for party in command.parties]
    if len(set(named)) != len(named):
        raise InvalidCommand("each party is named once")
    expected = {*proposal.actor_ids, WARD_PARTY}
    missing, extra = sorted(expected - set(named)), sorted(set(named) - expected)
    if missing or extra:
        raise InvalidCommand(
            "the parties are the lead actor, every partner and the ward",
            missing=missing,
            not_in_proposal=extra,
        )


def _check_money(total: int, requested: int, command: DraftAgreement) -> None:
    shares = sum(party.cost_share_yen for party in command.parties)
    if shares != total:
        raise InvalidCommand(
            f"the cost shares sum to ¥{shares:,}, not the total of ¥{total:,}",
            cost_shares_yen=shares,
            budget_total_yen=total,
        )
    if requested > total:
        raise InvalidCommand(
            "requested_yen is more than budget_total_yen",
            requested_yen=requested,
            budget_total_yen=total,
        )


def _check_term(term_start: date, term_end: date, policy: ProposalsPolicy) -> None:
    if term_end < term_start:
        raise InvalidCommand("term_end is before term_start")
    if eligibility.term_years_exceeded(term_start, term_end, policy.max_years_per_term):
        raise InvalidCommand(
            f"the term is longer than the ward's {policy.max_years_per_term} years",
            max_years_per_term=policy.max_years_per_term,
        )
