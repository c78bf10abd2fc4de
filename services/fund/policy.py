"""What the fund needs from a ward's policy pack, behind one small view.

The fund learns a ward's pack only from the registry's events; the projection keeps this view's
columns, and the domain decides against a :class:`FundPolicy`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.policy import PolicyPack
from shared.policy.model import AllocationRule, Designation


@dataclass(frozen=True)
class FundPolicy:
    ward: str
    version: int
    fund_name_ja: str
    fund_name_en: str
    designation_kinds: frozenset[Designation]
    specificity_order: tuple[Designation, ...]
    allocation_rule: AllocationRule
    min_donation_yen: int
    max_donation_yen: int
    fields: frozenset[str]

    def specificity(self, kind: Designation) -> int:
        """0 for the most specific designation kind; kinds the pack does not list come last."""
        order = self.specificity_order
        return order.index(kind) if kind in order else len(order)


def policy_from_pack(pack: PolicyPack, version: int) -> FundPolicy:
    fund = pack.fund
    return FundPolicy(
        ward=pack.ward,
        version=version,
        fund_name_ja=fund.name.ja,
        fund_name_en=fund.name.en,
        designation_kinds=frozenset(kind.code for kind in fund.designation_kinds),
        specificity_order=tuple(fund.specificity_order),
        allocation_rule=fund.allocation_rule,
        min_donation_yen=fund.min_donation_yen,
        max_donation_yen=fund.max_donation_yen,
        fields=frozenset(field.code for field in pack.fields),
    )


def policy_columns(policy: FundPolicy) -> dict[str, Any]:
    """The read-model row of a ward's fund rules."""
    return {
        "ward": policy.ward,
        "policy_version": policy.version,
        "fund_name_ja": policy.fund_name_ja,
        "fund_name_en": policy.fund_name_en,
        "designation_kinds": sorted(kind.value for kind in policy.designation_kinds),
        "specificity_order": [kind.value for kind in policy.specificity_order],
        "allocation_rule": policy.allocation_rule.value,
        "min_donation_yen": policy.min_donation_yen,
        "max_donation_yen": policy.max_donation_yen,
        "fields": sorted(policy.fields),
    }


def policy_from_row(row: Mapping[str, Any]) -> FundPolicy:
    return FundPolicy(
        ward=row["ward"],
        version=int(row["policy_version"]),
        fund_name_ja=row["fund_name_ja"],
        fund_name_en=row["fund_name_en"],
        designation_kinds=frozenset(Designation(k) for k in row["designation_kinds"]),
        specificity_order=tuple(Designation(k) for k in row["specificity_order"]),
        allocation_rule=AllocationRule(row["allocation_rule"]),
        min_donation_yen=int(row["min_donation_yen"]),
        max_donation_yen=int(row["max_donation_yen"]),
        fields=frozenset(row["fields"]),
    )
