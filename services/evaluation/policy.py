"""What the evaluation needs from a ward's policy pack, behind one small view.

The pack arrives with the registry's ward events; only this module knows the pack model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.policy import PolicyPack

FISCAL_YEAR_END = "fiscal_year_end"
PROJECT_END = "project_end"


@dataclass(frozen=True)
class Item:
    """An evaluation item: a principle (``basis``), a viewpoint, or an outcome of the project."""

    code: str
    ja: str
    en: str
    basis: str | None

    def document(self) -> dict[str, Any]:
        return {"code": self.code, "ja": self.ja, "en": self.en, "basis": self.basis}


@dataclass(frozen=True)
class Limits:
    max_consecutive_years: int
    max_grants_same_actor_same_purpose: int


@dataclass(frozen=True)
class EvaluationPolicy:
    ward: str
    version: int
    items: tuple[Item, ...]
    scale_min: int
    scale_max: int
    divergence_threshold: int
    schedule: tuple[str, ...]
    third_party_review: str
    limits: Limits
    baseline_bp: dict[str, int] | None
    """Domain → share in basis points of the ward's survey, if the ward has one."""
    baseline_year: int | None
    goal_domain: str | None
    forms: dict[str, str]
    """Form code → its domain ("B", "C", "D" or "side")."""


def evaluation_policy(pack: PolicyPack, version: int) -> EvaluationPolicy:
    evaluation = pack.evaluation
    baseline = pack.domain_baseline
    return EvaluationPolicy(
        ward=pack.ward,
        version=version,
        items=tuple(Item(item.code, item.ja, item.en, item.basis) for item in evaluation.items),
        scale_min=evaluation.scale_min,
        scale_max=evaluation.scale_max,
        divergence_threshold=evaluation.divergence_threshold,
        schedule=tuple(str(timing.value) for timing in evaluation.schedule),
        third_party_review=str(evaluation.third_party_review.value),
        limits=Limits(
            max_consecutive_years=pack.limits.max_consecutive_years,
            max_grants_same_actor_same_purpose=pack.limits.max_grants_same_actor_same_purpose,
        ),
        baseline_bp=(
            {str(share.domain.value): share.share_bp for share in baseline.shares}
            if baseline
            else None
        ),
        baseline_year=baseline.survey_fiscal_year if baseline else None,
        goal_domain=str(baseline.goal_domain.value) if baseline else None,
        forms={form.code: str(form.domain) for form in pack.forms},
    )


_views: dict[str, EvaluationPolicy] = {}


def policy_from_document(document: dict[str, Any], digest: str, version: int) -> EvaluationPolicy:
    """The view of a pack as the registry published it; cached by hash, since packs never change."""
    key = f"{digest}:{version}"
    view = _views.get(key)
    if view is None:
        view = evaluation_policy(PolicyPack.model_validate(document), version)
        _views[key] = view
    return view
