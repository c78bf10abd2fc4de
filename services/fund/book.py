"""The fund's state for decisions: a ward's lots, donations, grants and held designations.

It is folded from the ward's fund events in position order. Balances change only through the
journal entry of each event (:mod:`services.fund.ledger`), so the book and the ledger cannot
disagree. The book is mutable for speed (a ward holds many lots); deciders only read it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.fund.designations import Designation, GrantPurpose, RecipientKind
from services.fund.events import (
    DESIGNATED_FUNDS_HELD,
    DONATION_RECEIVED,
    GRANT_AWARDED,
    GRANT_DISBURSED,
    GRANT_FUNDS_RETURNED,
    fund_stream,
)
from services.fund.ledger import Account, JournalEntry, LotKey, journal_entry
from shared.events import EventEnvelope
from shared.policy import fiscal_year


@dataclass
class Lot:
    """One donation's money under one designation."""

    donation_id: str
    designation: Designation
    received_on: date
    sequence: int
    balance: dict[Account, int] = field(default_factory=lambda: dict.fromkeys(Account, 0))

    @property
    def key(self) -> LotKey:
        return (self.donation_id, self.designation.key)

    @property
    def available(self) -> int:
        return self.balance[Account.AVAILABLE]

    @property
    def held(self) -> int:
        return self.balance[Account.HELD]


@dataclass
class Donation:
    donation_id: str
    amount_yen: int
    designation: Designation
    received_on: date
    sequence: int
    lots: list[LotKey] = field(default_factory=list)

    @property
    def fiscal_year(self) -> int:
        return fiscal_year(self.received_on)


@dataclass
class GrantLine:
    """What one lot gave to one grant: allocated = committed + paid + returned + given_up.

    ``returned`` was paid and came back unused; ``given_up`` was never paid (the grant shrank).
    """

    donation_id: str
    designation: str
    allocated: int
    committed: int = 0
    paid: int = 0
    returned: int = 0
    given_up: int = 0

    @property
    def key(self) -> LotKey:
        return (self.donation_id, self.designation)


@dataclass
class Grant:
    grant_id: str
    purpose: GrantPurpose
    fiscal_year: int
    amount_yen: int
    lines: dict[LotKey, GrantLine] = field(default_factory=dict)
    """In allocation order: the order money is paid out; returns go the other way."""
    tranches: int = 0
    returns: int = 0

    @property
    def committed(self) -> int:
        return sum(line.committed for line in self.lines.values())

    @property
    def paid(self) -> int:
        return sum(line.paid for line in self.lines.values())

    @property
    def returned(self) -> int:
        return sum(line.returned for line in self.lines.values())


@dataclass
class FundBook:
    ward: str | None = None
    version: int = 0
    """Version of the ward's fund stream as folded: what a decision appends after."""
    position: int = 0
    lots: dict[LotKey, Lot] = field(default_factory=dict)
    donations: dict[str, Donation] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)
    """Designations whose target is gone, with the reason; their money waits for a decision."""
    entries: int = 0

    def apply(self, event: EventEnvelope) -> None:
        if event.position <= self.position:
            return  # already folded
        self.ward = event.ward
        self.position = event.position
        if event.stream_id == fund_stream(event.ward):
            self.version = event.version
        before = _BEFORE_ENTRY.get(event.event_type)
        if before is not None:
            before(self, event)
        entry = journal_entry(event)
        if entry is not None:
            self._post(entry)
        if event.event_type == GRANT_FUNDS_RETURNED:
            grant = self.grants[event.data["grant_id"]]
            grant.returns += 1
            disbursed = event.data["source"] == "disbursed"
            for item in event.data["lines"]:
                line = grant.lines[(item["donation_id"], item["designation"])]
                if disbursed:
                    line.returned += int(item["amount_yen"])
                else:
                    line.given_up += int(item["amount_yen"])
        elif event.event_type == GRANT_DISBURSED:
            self.grants[event.data["grant_id"]].tranches += 1

    def _post(self, entry: JournalEntry) -> None:
        self.entries += 1
        for line in entry.lines:
            key = (line.donation_id, line.designation)
            lot = self.lots.get(key)
            if lot is None:
                lot = self._new_lot(line.donation_id, line.designation)
            lot.balance[line.account] += line.change
            if line.grant_id is not None and line.account in (Account.COMMITTED, Account.PAID):
                grant_line = self.grants[line.grant_id].lines[key]
                if line.account is Account.COMMITTED:
                    grant_line.committed += line.change
                else:
                    grant_line.paid += line.change

    def _new_lot(self, donation_id: str, designation: str) -> Lot:
        donation = self.donations[donation_id]
        lot = Lot(
            donation_id, Designation.parse(designation), donation.received_on, donation.sequence
        )
        self.lots[lot.key] = lot
        donation.lots.append(lot.key)
        return lot

    # --- reads used by the deciders and the reports ---------------------------------------

    def lots_of(self, donation_id: str) -> Iterator[Lot]:
        return (self.lots[key] for key in self.donations[donation_id].lots)

    def lots_designated(self, designation: str) -> Iterator[Lot]:
        return (lot for lot in self.lots.values() if lot.designation.key == designation)

    def total(self, account: Account) -> int:
        return sum(lot.balance[account] for lot in self.lots.values())

    def received(self) -> int:
        return sum(donation.amount_yen for donation in self.donations.values())


def _donation_received(book: FundBook, event: EventEnvelope) -> None:
    data = event.data
    donation = Donation(
        donation_id=data["donation_id"],
        amount_yen=int(data["amount_yen"]),
        designation=Designation.parse(data["designation"]),
        received_on=date.fromisoformat(data["received_on"]),
        sequence=event.position,
    )
    book.donations[donation.donation_id] = donation


def _grant_awarded(book: FundBook, event: EventEnvelope) -> None:
    data = event.data
    grant = Grant(
        grant_id=data["grant_id"],
        purpose=purpose_of(data),
        fiscal_year=int(data["fiscal_year"]),
        amount_yen=int(data["amount_yen"]),
    )
    for item in data["lines"]:
        line = GrantLine(item["donation_id"], item["designation"], int(item["amount_yen"]))
        grant.lines[line.key] = line
    book.grants[grant.grant_id] = grant


def _funds_held(book: FundBook, event: EventEnvelope) -> None:
    book.held[event.data["designation"]] = event.data["reason"]


_BEFORE_ENTRY = {
    DONATION_RECEIVED: _donation_received,
    GRANT_AWARDED: _grant_awarded,
    DESIGNATED_FUNDS_HELD: _funds_held,
}


def purpose_of(data: dict[str, Any]) -> GrantPurpose:
    recipient = data["recipient"]
    return GrantPurpose(
        recipient_kind=RecipientKind(recipient["kind"]),
        recipient_id=recipient["id"],
        paid_actor_id=recipient["paid_actor_id"],
        field=data["purpose_field"],
    )


def initial_book() -> FundBook:
    return FundBook()


def evolve_book(book: FundBook, event: EventEnvelope) -> FundBook:
    book.apply(event)
    return book


def fold(events: Iterable[EventEnvelope]) -> FundBook:
    book = FundBook()
    for event in events:
        book.apply(event)
    return book
