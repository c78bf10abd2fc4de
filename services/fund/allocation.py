"""Allocation rules: which matching lots fund a grant, and how much from each.

The rule is the ward's (policy pack ``fund.allocation_rule``); the only one so far takes the most
specific designation first (the pack's ``specificity_order``), then the oldest donation first
(date received, then the order recorded). Either the whole amount is found, or nothing is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.fund.book import Lot
from services.fund.policy import FundPolicy
from shared.policy.model import AllocationRule


@dataclass(frozen=True)
class Draw:
    lot: Lot
    amount_yen: int


@dataclass(frozen=True)
class Shortfall:
    requested_yen: int
    matching_yen: int
    matching_by_designation: dict[str, int]

    @property
    def missing_yen(self) -> int:
        return self.requested_yen - self.matching_yen


SortKey = Callable[[Lot], Any]


def _most_specific_then_oldest(policy: FundPolicy) -> SortKey:
    def key(lot: Lot) -> Any:
        return (
            policy.specificity(lot.designation.kind),
            lot.received_on,
            lot.sequence,
            lot.designation.key,
        )

    return key


RULES: dict[AllocationRule, Callable[[FundPolicy], SortKey]] = {
    AllocationRule.MOST_SPECIFIC_THEN_OLDEST: _most_specific_then_oldest,
}


def allocation_order(lots: Iterable[Lot], policy: FundPolicy) -> list[Lot]:
    return sorted(lots, key=RULES[policy.allocation_rule](policy))


def allocate(
    matching: Iterable[Lot], amount_yen: int, policy: FundPolicy
) -> list[Draw] | Shortfall:
    """Draw ``amount_yen`` from the matching lots' available money in the rule's order."""
    ordered = [lot for lot in allocation_order(matching, policy) if lot.available > 0]
    total = sum(lot.available for lot in ordered)
    if total < amount_yen:
        by_designation: dict[str, int] = {}
        for lot in ordered:
            key = lot.designation.key
            by_designation[key] = by_designation.get(key, 0) + lot.available
        return Shortfall(amount_yen, total, by_designation)
    return list(_draws(ordered, amount_yen))


def _draws(ordered: Sequence[Lot], amount_yen: int) -> Iterable[Draw]:
    remaining = amount_yen
    for lot in ordered:
        if remaining == 0:
            return
        taken = min(lot.available, remaining)
        remaining -= taken
        yield Draw(lot, taken)
