"""Eligibility at submission (資格審査): pure rules, each giving a check that passes or fails.

Every rule is evaluated, so an ineligible proposal learns all its reasons at once; the failing
checks are the reasons recorded in ``proposals.EligibilityAssessed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.proposals.calls import Call
from services.proposals.policy import ProposalsPolicy

USABLE_STATUS = "active"


@dataclass(frozen=True)
class Check:
    rule: str
    passed: bool
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {"rule": self.rule, "passed": self.passed, "code": self.code, **self.details}

    def reason(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


@dataclass(frozen=True)
class Application:
    """What eligibility looks at: the proposal as submitted."""

    lead_actor_id: str
    partner_actor_ids: Sequence[str]
    form: str
    fields: Sequence[str]
    requested_yen: int
    term_start: date
    term_end: date
    exclusions: Mapping[str, bool]


def assess(
    application: Application,
    call: Call,
    policy: ProposalsPolicy,
    standings: Mapping[str, str],
    today: date,
) -> list[Check]:
    """All checks, in a fixed order. ``standings`` maps actor ids known in the ward to status."""
    actors = [application.lead_actor_id, *application.partner_actor_ids]
    return [
        *(_actor_check(actor_id, standings.get(actor_id)) for actor_id in actors),
        _call_open(call, today),
        *_form_checks(application.form, call, policy),
        _fields_known(application.fields, policy),
        _budget_within_limit(application.requested_yen, call),
        _term_within_limit(application.term_start, application.term_end, policy),
        *_exclusion_checks(application.exclusions, policy),
    ]


def reasons(checks: Sequence[Check]) -> list[dict[str, Any]]:
    return [check.reason() for check in checks if not check.passed]


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none: the year ends on 28 February
        return date(day.year + years, 3, 1)


def term_years_exceeded(term_start: date, term_end: date, max_years: int) -> bool:
    """A term of n years runs from its first day to the day before the same date n years on."""
    return term_end > add_years(term_start, max_years) - timedelta(days=1)


_ACTOR_FAILURES = {
    None: ("actor_not_registered", "is not registered in this ward"),
    "pending": ("actor_not_verified", "is registered but not yet verified by the ward"),
    "suspended": ("actor_suspended", "is suspended"),
    "deregistered": ("actor_deregistered", "is deregistered"),
}


def _actor_check(actor_id: str, status: str | None) -> Check:
    details = {"actor_id": actor_id}
    if status == USABLE_STATUS:
        return Check("actor_in_good_standing", True, "actor_verified", "", details)
    code, text = _ACTOR_FAILURES.get(status, ("actor_not_usable", f"is {status}"))
    return Check("actor_in_good_standing", False, code, f"actor {actor_id} {text}", details)


def _call_open(call: Call, today: date) -> Check:
    details = {
        "call_id": call.call_id,
        "opens_on": call.opens_on.isoformat(),
        "closes_on": call.closes_on.isoformat(),
        "submitted_on": today.isoformat(),
    }
    if today < call.opens_on:
        return Check("call_open", False, "call_not_yet_open", "the call is not open yet", details)
    if today > call.closes_on:
        return Check("call_open", False, "call_closed", "the call has closed", details)
    return Check("call_open", True, "call_open", "", details)


def _form_checks(form: str, call: Call, policy: ProposalsPolicy) -> list[Check]:
    domain = policy.form_domain(form)
    details: dict[str, Any] = {"form": form}
    known = (
        Check("form_known", True, "form_known", "", details)
        if domain is not None
        else Check("form_known", False, "form_unknown", f"the ward has no form {form!r}", details)
    )
    allowed = (
        Check("form_allowed", True, "form_allowed", "", details)
        if form in call.allowed_forms
        else Check(
            "form_allowed",
            False,
            "form_not_allowed",
            f"the call does not invite form {form!r}",
            {**details, "allowed_forms": list(call.allowed_forms)},
        )
    )
    collaboration = (
        Check(
            "collaboration_domain", True, "collaboration_domain", "", {**details, "domain": domain}
        )
        if policy.is_collaboration_form(form)
        else Check(
            "collaboration_domain",
            False,
            "not_collaboration_domain",
            "the form is not in domain B, C or D (A and E are not collaboration)",
            {**details, "domain": domain},
        )
    )
    return [known, allowed, collaboration]


def _fields_known(fields: Sequence[str], policy: ProposalsPolicy) -> Check:
    unknown = sorted(set(fields) - policy.fields)
    if unknown:
        return Check(
            "fields_known",
            False,
            "field_unknown",
            f"the ward has no activity field {', '.join(unknown)}",
            {"fields": unknown},
        )
    return Check("fields_known", True, "fields_known", "")


def _budget_within_limit(requested_yen: int, call: Call) -> Check:
    details = {"requested_yen": requested_yen, "budget_limit_yen": call.budget_limit_yen}
    if requested_yen > call.budget_limit_yen:
        return Check(
            "budget_within_limit",
            False,
            "budget_over_limit",
            f"¥{requested_yen:,} requested is over the call's limit of ¥{call.budget_limit_yen:,}",
            details,
        )
    return Check("budget_within_limit", True, "budget_within_limit", "", details)


def _term_within_limit(term_start: date, term_end: date, policy: ProposalsPolicy) -> Check:
    details = {
        "term_start": term_start.isoformat(),
        "term_end": term_end.isoformat(),
        "max_years_per_term": policy.max_years_per_term,
    }
    if term_years_exceeded(term_start, term_end, policy.max_years_per_term):
        return Check(
            "term_within_limit",
            False,
            "term_too_long",
            f"the term is longer than {policy.max_years_per_term} years",
            details,
        )
    return Check("term_within_limit", True, "term_within_limit", "", details)


def _exclusion_checks(declared: Mapping[str, bool], policy: ProposalsPolicy) -> list[Check]:
    checks = []
    for code in policy.exclusions:
        details = {"exclusion": code}
        applies = declared.get(code)
        if applies is None:
            checks.append(
                Check(
                    "exclusion",
                    False,
                    "exclusion_not_declared",
                    f"the proposer did not declare whether exclusion {code!r} applies",
                    details,
                )
            )
        elif applies:
            checks.append(
                Check(
                    "exclusion",
                    False,
                    "exclusion_applies",
                    f"the proposer declared that exclusion {code!r} applies",
                    details,
                )
            )
        else:
            checks.append(Check("exclusion", True, "exclusion_does_not_apply", "", details))
    return checks
