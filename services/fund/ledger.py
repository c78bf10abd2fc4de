"""The fund's double-entry ledger: every movement of money is one balanced journal entry.

Accounts are kept per lot, a lot being one donation's money under one designation, so every
yen can be followed; summed by designation they are the ward's pools.

- ``fund`` (credit-normal): what donors gave, under its current designation;
- ``available``, ``held``, ``committed``, ``paid``, ``refunded`` (debit-normal): where it is.

For every lot, and so for every designation and the whole ward,
``fund = available + held + committed + paid + refunded``. The entry of an event is a pure
function of the event's data: replaying the events gives the same journal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from services.fund.events import (
    DESIGNATED_FUNDS_HELD,
    DONATION_RECEIVED,
    DONATION_REFUNDED,
    GRANT_AWARDED,
    GRANT_DISBURSED,
    GRANT_FUNDS_RETURNED,
    HELD_FUNDS_RELEASED,
)
from shared.events import EventEnvelope
from shared.policy.fiscal import JST


class Account(StrEnum):
    FUND = "fund"
    AVAILABLE = "available"
    HELD = "held"
    COMMITTED = "committed"
    PAID = "paid"
    REFUNDED = "refunded"


CREDIT_NORMAL = frozenset({Account.FUND})
WHERE_MONEY_IS = (
    Account.AVAILABLE,
    Account.HELD,
    Account.COMMITTED,
    Account.PAID,
    Account.REFUNDED,
)


class Line(NamedTuple):  # immutable like a frozen dataclass, and cheaper to make
    account: Account
    designation: str
    donation_id: str
    debit: int = 0
    credit: int = 0
    grant_id: str | None = None

    @property
    def change(self) -> int:
        """How much the account's balance grows (on its normal side)."""
        if self.account in CREDIT_NORMAL:
            return self.credit - self.debit
        return self.debit - self.credit


class JournalEntry(NamedTuple):
    event_id: str
    event_type: str
    ward: str
    position: int
    on: date
    lines: tuple[Line, ...]

    @property
    def debits(self) -> int:
        return sum(line.debit for line in self.lines)

    @property
    def credits(self) -> int:
        return sum(line.credit for line in self.lines)

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits


def journal_entry(event: EventEnvelope) -> JournalEntry | None:
    """The entry an event posts; None for events that move no money."""
    build = _ENTRIES.get(event.event_type)
    if build is None:
        return None
    data = event.data
    return JournalEntry(
        event_id=str(event.event_id),
        event_type=event.event_type,
        ward=event.ward,
        position=event.position,
        on=_entry_date(event),
        lines=tuple(build(data)),
    )


def _received(data: Mapping[str, Any]) -> list[Line]:
    lot = (data["designation"], data["donation_id"])
    amount = int(data["amount_yen"])
    return [
        Line(Account.AVAILABLE, *lot, debit=amount),
        Line(Account.FUND, *lot, credit=amount),
    ]


def _moved(debit: Account, credit: Account, *, grant: bool) -> Any:
    def lines(data: Mapping[str, Any]) -> list[Line]:
        grant_id = data["grant_id"] if grant else None
        result = []
        for item in data["lines"]:
            lot, amount = (item["designation"], item["donation_id"]), int(item["amount_yen"])
            result.append(Line(debit, *lot, debit=amount, grant_id=grant_id))
            result.append(Line(credit, *lot, credit=amount, grant_id=grant_id))
        return result

    return lines


def _returned(data: Mapping[str, Any]) -> list[Line]:
    source = Account.PAID if data["source"] == "disbursed" else Account.COMMITTED
    result = []
    for item in data["lines"]:
        lot, amount = (item["designation"], item["donation_id"]), int(item["amount_yen"])
        result.append(Line(Account(item["to"]), *lot, debit=amount, grant_id=data["grant_id"]))
        result.append(Line(source, *lot, credit=amount, grant_id=data["grant_id"]))
    return result


def _released(data: Mapping[str, Any]) -> list[Line]:
    """Held money moves to the designation the ward decided, and its fund balance with it."""
    result = []
    for item in data["lines"]:
        donation, amount = item["donation_id"], int(item["amount_yen"])
        old, new = item["designation"], item["to_designation"]
        result += [
            Line(Account.AVAILABLE, new, donation, debit=amount),
            Line(Account.HELD, old, donation, credit=amount),
            Line(Account.FUND, old, donation, debit=amount),
            Line(Account.FUND, new, donation, credit=amount),
        ]
    return result


_ENTRIES = {
    DONATION_RECEIVED: _received,
    GRANT_AWARDED: _moved(Account.COMMITTED, Account.AVAILABLE, grant=True),
    GRANT_DISBURSED: _moved(Account.PAID, Account.COMMITTED, grant=True),
    GRANT_FUNDS_RETURNED: _returned,
    DONATION_REFUNDED: _moved(Account.REFUNDED, Account.AVAILABLE, grant=False),
    DESIGNATED_FUNDS_HELD: _moved(Account.HELD, Account.AVAILABLE, grant=False),
    HELD_FUNDS_RELEASED: _released,
}

_DATE_FIELDS = ("received_on", "awarded_on", "paid_on", "returned_on", "refunded_on", "decided_on")


def _entry_date(event: EventEnvelope) -> date:
    for name in _DATE_FIELDS:
        value = event.data.get(name)
        if isinstance(value, str):
            return date.fromisoformat(value)
    return event.occurred_at.astimezone(JST).date()


# --- balances -----------------------------------------------------------------------------

LotKey = tuple[str, str]
"""(donation_id, designation)"""


def lot_balances(entries: Iterable[JournalEntry]) -> dict[LotKey, dict[Account, int]]:
    """Every lot's balance on every account, folded from journal entries."""
    balances: dict[LotKey, dict[Account, int]] = {}
    for entry in entries:
        for line in entry.lines:
            lot = balances.setdefault(
                (line.donation_id, line.designation), dict.fromkeys(Account, 0)
            )
            lot[line.account] += line.change
    return balances


def account_balances(entries: Iterable[JournalEntry]) -> dict[tuple[Account, str], int]:
    """The ward's accounts (account, designation) with their balances."""
    totals: dict[tuple[Account, str], int] = {}
    for entry in entries:
        for line in entry.lines:
            key = (line.account, line.designation)
            totals[key] = totals.get(key, 0) + line.change
    return totals
