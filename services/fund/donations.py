"""Donations (寄附): received with the donor's designation and a receipt number; refunds.

Pure: the deciders read the book and the ward's policy and return new events, or raise.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from services.fund.book import FundBook
from services.fund.commands import ReceiveDonation, RefundDonation
from services.fund.events import DONATION_RECEIVED, DONATION_REFUNDED
from services.fund.policy import FundPolicy
from services.fund.rules import check_designation, check_not_future
from services.fund.targets import Target
from shared.errors import Conflict, InvalidCommand, NotFound
from shared.events import NewEvent
from shared.eventstore.store import Stamp
from shared.policy import fiscal_year

ANONYMOUS_NAME = "匿名"


def receipt_fiscal_year(command: ReceiveDonation) -> int:
    """Receipts are numbered per fiscal year of the day the money was received."""
    return fiscal_year(command.received_on)


def receipt_label(ward: str, year: int, number: int) -> str:
    return f"{ward}-{year}-{number:06d}"


def check_donation(
    command: ReceiveDonation, policy: FundPolicy, target: Target | None, today: date
) -> None:
    if not policy.min_donation_yen <= command.amount_yen <= policy.max_donation_yen:
        raise InvalidCommand(
            f"a donation to ward {policy.ward!r} is between {policy.min_donation_yen} and "
            f"{policy.max_donation_yen} yen",
            min_donation_yen=policy.min_donation_yen,
            max_donation_yen=policy.max_donation_yen,
        )
    check_not_future(command.received_on, today, "received_on")
    check_designation(policy, command.designation.value(), target)


def decide_donation(command: ReceiveDonation) -> NewEvent:
    """The donation, whose receipt ``with_receipt`` fills in once its number is known; the
    caller has checked it (``check_donation``)."""
    donor = command.donor
    data = {
        "donation_id": command.donation_id,
        "receipt": None,
        "received_on": command.received_on.isoformat(),
        "amount_yen": command.amount_yen,
        "designation": command.designation.value().key,
        "channel": command.channel,
        "donor": {"kind": donor.kind, "publish_name": donor.publish_name},
        "note": command.note,
        "personal": donor.personal(),
    }
    return NewEvent(event_type=DONATION_RECEIVED, data=data)


def with_receipt(ward: str, year: int) -> Stamp:
    """A donation's data with receipt ``number`` of the ward's receipt book for ``year``."""

    def stamp(data: dict[str, Any], number: int) -> dict[str, Any]:
        receipt = {
            "fiscal_year": year,
            "number": number,
            "label": receipt_label(ward, year, number),
        }
        return {**data, "receipt": receipt}

    return stamp


def decide_refund(book: FundBook, command: RefundDonation, today: date) -> list[NewEvent]:
    """Refund (part of) what is still unallocated; allocated or held money is not refunded."""
    if command.donation_id not in book.donations:
        raise NotFound(f"no donation {command.donation_id} in ward {command.ward!r}")
    check_not_future(command.refunded_on, today, "refunded_on")
    lots = [lot for lot in book.lots_of(command.donation_id) if lot.available > 0]
    unallocated = sum(lot.available for lot in lots)
    amount = unallocated if command.amount_yen is None else command.amount_yen
    if unallocated == 0 or amount > unallocated:
        raise Conflict(
            f"donation {command.donation_id} has {unallocated} yen unallocated; "
            "allocated, paid, held or refunded money is not refunded",
            unallocated_yen=unallocated,
            requested_yen=amount,
        )
    lines, remaining = [], amount
    for lot in lots:
        taken = min(lot.available, remaining)
        if taken:
            lines.append(_line(lot.donation_id, lot.designation.key, taken))
        remaining -= taken
    data = {
        "donation_id": command.donation_id,
        "refund_id": command.refund_id,
        "amount_yen": amount,
        "refunded_on": command.refunded_on.isoformat(),
        "reason": command.reason,
        "lines": lines,
    }
    return [NewEvent(event_type=DONATION_REFUNDED, data=data)]


def _line(donation_id: str, designation: str, amount: int) -> dict[str, object]:
    return {"donation_id": donation_id, "designation": designation, "amount_yen": amount}
