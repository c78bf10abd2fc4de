"""Portfolio figures of a ward and fiscal year: projects by domain (B/C/D) against the ward's
survey baseline (Nerima 2008: B 25.4%, C 17.7%, D 56.9%), by form, the citizen-proposed share,
and the money granted by field.

Counted are the projects under way in the year (their term overlaps it and they had not ended
before it began), as the baseline survey counted the projects carried out (実施) in its year.
Shares are integer basis points apportioned by largest remainder, so a breakdown always adds up
to exactly 10000 (when it has anything to share); never a float.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.evaluation.policy import EvaluationPolicy

WHOLE_BP = 10_000
COLLABORATION_DOMAINS = ("B", "C", "D")


@dataclass(frozen=True)
class PortfolioProject:
    project_id: str
    form: str
    domain: str
    citizen_proposed: bool


@dataclass(frozen=True)
class PortfolioGrant:
    grant_id: str
    field: str
    amount_yen: int
    returned_yen: int = 0


def apportion(amounts: Sequence[int], whole: int = WHOLE_BP) -> list[int]:
    """Integer shares of ``whole`` in proportion to ``amounts`` (Hamilton's method).

    Each share is the floor of its exact quota, plus one for the largest remainders until the
    shares sum to ``whole``; ties go to the larger amount, then to the earlier one.
    """
    total = sum(amounts)
    if total == 0:
        return [0 for _ in amounts]
    floors = [amount * whole // total for amount in amounts]
    remainders = [amount * whole % total for amount in amounts]
    left = whole - sum(floors)
    order = sorted(range(len(amounts)), key=lambda i: (-remainders[i], -amounts[i], i))
    for index in order[:left]:
        floors[index] += 1
    return floors


def percent(share_bp: int) -> str:
    """Basis points as an exact percentage string: 2540 → "25.40"."""
    return f"{share_bp // 100}.{share_bp % 100:02d}"


def portfolio(
    ward: str,
    fiscal_year: int,
    projects: Sequence[PortfolioProject],
    grants: Sequence[PortfolioGrant],
    policy: EvaluationPolicy,
) -> dict[str, Any]:
    return {
        "ward": ward,
        "fiscal_year": fiscal_year,
        "policy_version": policy.version,
        "counted": "projects under way in the fiscal year",
        "projects": len(projects),
        "by_domain": _by_domain(projects, policy),
        "baseline": _baseline(policy),
        "by_form": _by_form(projects, policy),
        "citizen_proposed": _citizen_proposed(projects),
        "granted_by_field": _granted_by_field(grants),
        "granted_total_yen": sum(grant.amount_yen for grant in grants),
        "returned_total_yen": sum(grant.returned_yen for grant in grants),
        "grants": len(grants),
    }


def _by_domain(
    projects: Sequence[PortfolioProject], policy: EvaluationPolicy
) -> list[dict[str, Any]]:
    counts = Counter(p.domain for p in projects if p.domain in COLLABORATION_DOMAINS)
    numbers = [counts[domain] for domain in COLLABORATION_DOMAINS]
    counted = sum(numbers) > 0
    rows = []
    for domain, count, share in zip(
        COLLABORATION_DOMAINS, numbers, apportion(numbers), strict=True
    ):
        baseline = policy.baseline_bp.get(domain) if policy.baseline_bp else None
        rows.append(
            {
                "domain": domain,
                "projects": count,
                "share_bp": share,
                "share_percent": percent(share),
                "baseline_bp": baseline,
                "baseline_percent": percent(baseline) if baseline is not None else None,
                "difference_bp": share - baseline if baseline is not None and counted else None,
            }
        )
    return rows


def _baseline(policy: EvaluationPolicy) -> dict[str, Any] | None:
    if policy.baseline_bp is None:
        return None
    return {
        "survey_fiscal_year": policy.baseline_year,
        "goal_domain": policy.goal_domain,
        "shares_bp": dict(policy.baseline_bp),
    }


def _by_form(
    projects: Sequence[PortfolioProject], policy: EvaluationPolicy
) -> list[dict[str, Any]]:
    counts = Counter(p.form for p in projects)
    forms = [*policy.forms, *sorted(set(counts) - set(policy.forms))]
    numbers = [counts[form] for form in forms]
    return [
        {
            "form": form,
            "domain": policy.forms.get(form),
            "projects": count,
            "share_bp": share,
            "share_percent": percent(share),
        }
        for form, count, share in zip(forms, numbers, apportion(numbers), strict=True)
    ]


def _citizen_proposed(projects: Sequence[PortfolioProject]) -> dict[str, Any]:
    proposed = sum(1 for p in projects if p.citizen_proposed)
    share = apportion([proposed, len(projects) - proposed])[0]
    return {"projects": proposed, "share_bp": share, "share_percent": percent(share)}


def _granted_by_field(grants: Sequence[PortfolioGrant]) -> list[dict[str, Any]]:
    amounts: Counter[str] = Counter()
    returned: Counter[str] = Counter()
    numbers: Counter[str] = Counter()
    for grant in grants:
        amounts[grant.field] += grant.amount_yen
        returned[grant.field] += grant.returned_yen
        numbers[grant.field] += 1
    fields = sorted(amounts, key=lambda f: (-amounts[f], f))
    values = [amounts[f] for f in fields]
    return [
        {
            "field": field,
            "grants": numbers[field],
            "amount_yen": amount,
            "returned_yen": returned[field],
            "net_yen": amount - returned[field],
            "share_bp": share,
            "share_percent": percent(share),
        }
        for field, amount, share in zip(fields, values, apportion(values), strict=True)
    ]
