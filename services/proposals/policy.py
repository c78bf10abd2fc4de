"""What the proposals service needs from a ward's policy pack, behind one small view.

The pack arrives with the registry's ward events; only this module knows the pack model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.policy import PolicyPack
from shared.policy.model import COLLABORATION_DOMAINS


@dataclass(frozen=True)
class RubricRule:
    code: str
    ja: str
    weight: int
    max_score: int


@dataclass(frozen=True)
class ProposalsPolicy:
    ward: str
    version: int
    forms: dict[str, str]
    """Form code → its domain: "B", "C", "D" or "side"."""
    fields: frozenset[str]
    exclusions: tuple[str, ...]
    rubric: tuple[RubricRule, ...]
    min_counted_reviews: int
    max_years_per_term: int

    def form_domain(self, form: str) -> str | None:
        return self.forms.get(form)

    def is_collaboration_form(self, form: str) -> bool:
        return self.forms.get(form) in COLLABORATION_DOMAINS


def proposals_policy(pack: PolicyPack, version: int) -> ProposalsPolicy:
    screening = pack.screening
    return ProposalsPolicy(
        ward=pack.ward,
        version=version,
        forms={form.code: str(form.domain) for form in pack.forms},
        fields=frozenset(field.code for field in pack.fields),
        exclusions=tuple(exclusion.code for exclusion in pack.exclusions),
        rubric=tuple(
            RubricRule(item.code, item.ja, item.weight, item.max_score) for item in screening.rubric
        ),
        min_counted_reviews=screening.min_counted_reviews,
        max_years_per_term=pack.limits.max_years_per_term,
    )


_views: dict[str, ProposalsPolicy] = {}


def policy_from_document(document: dict[str, Any], digest: str, version: int) -> ProposalsPolicy:
    """The view of a pack as the registry published it; cached by hash, since packs never change."""
    key = f"{digest}:{version}"
    view = _views.get(key)
    if view is None:
        view = proposals_policy(PolicyPack.model_validate(document), version)
        _views[key] = view
    return view
