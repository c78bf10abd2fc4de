"""Against inertia (惰性的な関係を防ぐ): the ward's limits, checked on what the proposals and the
fund have told, and the flags that record a breach until a decision clears them.

Rules (``limits`` of the ward's pack):
- ``consecutive_years``: a project whose term spans more fiscal years than
  ``max_consecutive_years``; an actor–department pair (the lead or a partner with the department in
  charge) working together in a run of more consecutive fiscal years, over two or more projects.
- ``repeat_grants``: more than ``max_grants_same_actor_same_purpose`` grants for the same purpose
  (the grant's field) in a run of consecutive fiscal years, to one project, or to one
  actor–department pair over several projects (a grant made to an actor directly, not through a
  project, counts for the actor with no department).
- ``no_open_call``: a project of a pair that continues an earlier one (it starts no later than
  the fiscal year after the earlier one ends) although no call was opened in between: it came
  through the same call, or through a call opened before the earlier project started.

Each breach has an id derived from what it is about (and, for runs, where the run starts and how
long it is), so the same breach is flagged once; a run that grows further is a new breach.
Pure: facts in, breaches out; ``decide_*`` for the flag's stream.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.evaluation.commands import ClearInertiaFlag
from services.evaluation.events import INERTIA_FLAG_CLEARED, INERTIA_FLAGGED, derived_id
from services.evaluation.policy import Limits
from services.evaluation.schedule import project_end_date
from shared.errors import Conflict, NotFound
from shared.events import EventEnvelope, NewEvent
from shared.policy import fiscal_year

CONSECUTIVE_YEARS = "consecutive_years"
REPEAT_GRANTS = "repeat_grants"
NO_OPEN_CALL = "no_open_call"
PROJECT = "project"
ACTOR_DEPARTMENT = "actor_department"
OPEN = "open"
CLEARED = "cleared"


@dataclass(frozen=True)
class ProjectFact:
    project_id: str
    lead_actor_id: str
    partner_actor_ids: tuple[str, ...]
    department: str
    call_id: str
    term_start: date
    term_end: date
    ended_on: date | None = None

    @property
    def actor_ids(self) -> tuple[str, ...]:
        return (self.lead_actor_id, *self.partner_actor_ids)

    @property
    def first_year(self) -> int:
        return fiscal_year(min(self.term_start, self.end))

    @property
    def last_year(self) -> int:
        return fiscal_year(self.end)

    @property
    def end(self) -> date:
        return project_end_date(self.term_end, self.ended_on)

    @property
    def years(self) -> range:
        return range(self.first_year, self.last_year + 1)


@dataclass(frozen=True)
class CallFact:
    call_id: str
    opens_on: date


@dataclass(frozen=True)
class GrantFact:
    grant_id: str
    recipient_kind: str
    """``project`` or ``actor``."""
    recipient_id: str
    paid_actor_id: str
    purpose: str
    fiscal_year: int


@dataclass(frozen=True)
class Breach:
    flag_id: str
    subject: str
    rule: str
    project_id: str | None
    actor_id: str | None
    department: str | None
    limit: int | None
    observed: int | None
    first_year: int
    last_year: int
    evidence: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "flag_id": self.flag_id,
            "subject": self.subject,
            "rule": self.rule,
            "project_id": self.project_id,
            "actor_id": self.actor_id,
            "department": self.department,
            "limit": self.limit,
            "observed": self.observed,
            "fiscal_years": [self.first_year, self.last_year],
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class WardFacts:
    ward: str
    projects: Sequence[ProjectFact]
    calls: Sequence[CallFact]
    grants: Sequence[GrantFact]


Pair = tuple[str, str | None]


def find_breaches(facts: WardFacts, limits: Limits) -> list[Breach]:
    breaches = [
        *_project_terms(facts, limits),
        *_pair_years(facts, limits),
        *_project_grants(facts, limits),
        *_pair_grants(facts, limits),
        *_no_open_call(facts),
    ]
    return sorted(breaches, key=lambda b: (b.rule, b.subject, b.flag_id))


# --- consecutive years --------------------------------------------------------------------


def _project_terms(facts: WardFacts, limits: Limits) -> Iterable[Breach]:
    for project in facts.projects:
        span = len(project.years)
        if span > limits.max_consecutive_years:
            yield _breach(
                facts.ward,
                PROJECT,
                CONSECUTIVE_YEARS,
                project_id=project.project_id,
                limit=limits.max_consecutive_years,
                observed=span,
                years=(project.first_year, project.last_year),
                evidence={"project_ids": [project.project_id]},
            )


def _pair_years(facts: WardFacts, limits: Limits) -> Iterable[Breach]:
    for (actor_id, department), projects in sorted(_projects_by_pair(facts.projects).items()):
        years = {year for project in projects for year in project.years}
        for first, last in consecutive_runs(years):
            run = [p for p in projects if p.first_year <= last and p.last_year >= first]
            if last - first + 1 > limits.max_consecutive_years and len(run) > 1:
                yield _breach(
                    facts.ward,
                    ACTOR_DEPARTMENT,
                    CONSECUTIVE_YEARS,
                    actor_id=actor_id,
                    department=department,
                    limit=limits.max_consecutive_years,
                    observed=last - first + 1,
                    years=(first, last),
                    evidence={"project_ids": sorted(p.project_id for p in run)},
                )


# --- repeat grants ------------------------------------------------------------------------


def _project_grants(facts: WardFacts, limits: Limits) -> Iterable[Breach]:
    groups: dict[tuple[str, str], list[GrantFact]] = defaultdict(list)
    for grant in facts.grants:
        if grant.recipient_kind == PROJECT:
            groups[(grant.recipient_id, grant.purpose)].append(grant)
    for (project_id, purpose), grants in sorted(groups.items()):
        for first, last, run in _grant_runs(grants):
            if len(run) > limits.max_grants_same_actor_same_purpose:
                yield _breach(
                    facts.ward,
                    PROJECT,
                    REPEAT_GRANTS,
                    project_id=project_id,
                    limit=limits.max_grants_same_actor_same_purpose,
                    observed=len(run),
                    years=(first, last),
                    evidence=_grant_evidence(purpose, run),
                    discriminator=purpose,
                )


def _pair_grants(facts: WardFacts, limits: Limits) -> Iterable[Breach]:
    departments = {p.project_id: p.department for p in facts.projects}
    groups: dict[tuple[str, str | None, str], list[GrantFact]] = defaultdict(list)
    for grant in facts.grants:
        if grant.recipient_kind != PROJECT:
            groups[(grant.paid_actor_id, None, grant.purpose)].append(grant)
        elif grant.recipient_id in departments:
            pair = (grant.paid_actor_id, departments[grant.recipient_id], grant.purpose)
            groups[pair].append(grant)
    for (actor_id, department, purpose), grants in sorted(groups.items(), key=_group_order):
        for first, last, run in _grant_runs(grants):
            recipients = {(g.recipient_kind, g.recipient_id) for g in run}
            through_one_project = len(recipients) == 1 and run[0].recipient_kind == PROJECT
            if len(run) > limits.max_grants_same_actor_same_purpose and not through_one_project:
                yield _breach(
                    facts.ward,
                    ACTOR_DEPARTMENT,
                    REPEAT_GRANTS,
                    actor_id=actor_id,
                    department=department,
                    limit=limits.max_grants_same_actor_same_purpose,
                    observed=len(run),
                    years=(first, last),
                    evidence=_grant_evidence(purpose, run),
                    discriminator=purpose,
                )


def _grant_runs(grants: Sequence[GrantFact]) -> Iterable[tuple[int, int, list[GrantFact]]]:
    for first, last in consecutive_runs({g.fiscal_year for g in grants}):
        run = sorted(
            (g for g in grants if first <= g.fiscal_year <= last),
            key=lambda g: (g.fiscal_year, g.grant_id),
        )
        yield first, last, run


def _grant_evidence(purpose: str, grants: Sequence[GrantFact]) -> dict[str, Any]:
    return {"purpose": purpose, "grant_ids": [g.grant_id for g in grants]}


def _group_order(item: tuple[tuple[str, str | None, str], list[GrantFact]]) -> tuple[str, ...]:
    (actor_id, department, purpose), _grants = item
    return (actor_id, department or "", purpose)


# --- no open call in between --------------------------------------------------------------


def _no_open_call(facts: WardFacts) -> Iterable[Breach]:
    calls = {call.call_id: call for call in facts.calls}
    for (actor_id, department), projects in sorted(_projects_by_pair(facts.projects).items()):
        ordered = sorted(projects, key=lambda p: (p.term_start, p.project_id))
        for earlier, later in pairwise(ordered):
            if later.first_year > earlier.last_year + 1:
                continue  # a fresh start after a gap, not a continuation
            call = calls.get(later.call_id)
            if call is None:
                continue  # the call is not known yet: no judgement
            if later.call_id == earlier.call_id or call.opens_on <= earlier.term_start:
                yield _breach(
                    facts.ward,
                    ACTOR_DEPARTMENT,
                    NO_OPEN_CALL,
                    actor_id=actor_id,
                    department=department,
                    project_id=later.project_id,
                    years=(earlier.first_year, later.last_year),
                    evidence={
                        "project_ids": [earlier.project_id, later.project_id],
                        "call_id": later.call_id,
                        "call_opens_on": call.opens_on.isoformat(),
                        "earlier_call_id": earlier.call_id,
                    },
                )


# --- helpers ------------------------------------------------------------------------------


def consecutive_runs(years: Iterable[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive years, as (first, last)."""
    runs: list[tuple[int, int]] = []
    for year in sorted(set(years)):
        if runs and runs[-1][1] == year - 1:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return runs


def _projects_by_pair(projects: Iterable[ProjectFact]) -> dict[Pair, list[ProjectFact]]:
    pairs: dict[Pair, list[ProjectFact]] = defaultdict(list)
    for project in projects:
        for actor_id in dict.fromkeys(project.actor_ids):
            pairs[(actor_id, project.department)].append(project)
    return pairs


def _breach(
    ward: str,
    subject: str,
    rule: str,
    *,
    years: tuple[int, int],
    project_id: str | None = None,
    actor_id: str | None = None,
    department: str | None = None,
    limit: int | None = None,
    observed: int | None = None,
    evidence: dict[str, Any] | None = None,
    discriminator: str = "",
) -> Breach:
    who = project_id if subject == PROJECT else f"{actor_id}|{department or ''}"
    scope = project_id if rule == NO_OPEN_CALL else f"{years[0]}|{observed}"
    flag_id = derived_id("inertia", ward, subject, rule, who or "", discriminator, scope or "")
    return Breach(
        flag_id=flag_id,
        subject=subject,
        rule=rule,
        project_id=project_id,
        actor_id=actor_id,
        department=department,
        limit=limit,
        observed=observed,
        first_year=years[0],
        last_year=years[1],
        evidence=evidence or {},
    )


# --- the flag's stream --------------------------------------------------------------------


class Flag(BaseModel):
    model_config = ConfigDict(frozen=True)

    flag_id: str
    ward: str
    subject: str
    rule: str
    project_id: str | None
    actor_id: str | None
    department: str | None
    limit: int | None
    observed: int | None
    fiscal_years: tuple[int, int]
    evidence: dict[str, Any]
    status: str = OPEN
    decision: str | None = None
    reason: str | None = None


def initial_flag() -> Flag | None:
    return None


def evolve_flag(state: Flag | None, event: EventEnvelope) -> Flag | None:
    if event.event_type == INERTIA_FLAGGED:
        return Flag.model_validate({**event.data, "ward": event.ward})
    assert state is not None, f"{event.event_type} before {INERTIA_FLAGGED}"
    if event.event_type == INERTIA_FLAG_CLEARED:
        return state.model_copy(
            update={
                "status": CLEARED,
                "decision": event.data["decision"],
                "reason": event.data["reason"],
            }
        )
    return state


def decide_flag(state: Flag | None, breach: Breach) -> list[NewEvent]:
    if state is not None:
        raise Conflict(f"inertia flag {breach.flag_id} is already raised")
    return [NewEvent(event_type=INERTIA_FLAGGED, data=breach.document())]


def decide_clear(state: Flag | None, command: ClearInertiaFlag) -> list[NewEvent]:
    if state is None or state.ward != command.ward:
        raise NotFound(f"no inertia flag {command.flag_id} in ward {command.ward!r}")
    if state.status == CLEARED:
        raise Conflict(f"inertia flag {state.flag_id} is already cleared")
    data = {
        "flag_id": state.flag_id,
        "decision": command.clearance.decision,
        "reason": command.clearance.reason,
    }
    return [NewEvent(event_type=INERTIA_FLAG_CLEARED, data=data)]
