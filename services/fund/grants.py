"""Grants (助成): awarded from matching money only, paid in tranches, unused money returned.

Pure: each decider reads the book and returns the new events, or raises. A grant records its
lineage (which lots, how much each); tranches pay from the lines in that order, and returns
go back to the same lots the other way round, keeping their designation.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from services.fund.allocation import Shortfall, allocate
from services.fund.book import FundBook, Grant, GrantLine
from services.fund.commands import AwardGrant, DisburseGrant, ReturnGrantFunds
from services.fund.designations import Designation, DesignationKind, GrantPurpose, RecipientKind
from services.fund.events import GRANT_AWARDED, GRANT_DISBURSED, GRANT_FUNDS_RETURNED
from services.fund.ledger import Account
from services.fund.policy import FundPolicy
from services.fund.rules import check_field, check_not_future, usable_target
from services.fund.targets import Target
from shared.errors import Conflict, NotFound
from shared.events import NewEvent


def recipient_designation_kind(command: AwardGrant) -> DesignationKind:
    return DesignationKind(command.recipient.kind)


def recipient_id(command: AwardGrant) -> str:
    recipient = command.recipient
    return recipient.actor_id if recipient.kind == "actor" else recipient.project_id


def decide_grant(
    book: FundBook, command: AwardGrant, policy: FundPolicy, recipient: Target | None, today: date
) -> list[NewEvent]:
    if command.grant_id in book.grants:
        raise Conflict(f"grant {command.grant_id} is already awarded")
    check_not_future(command.awarded_on, today, "awarded_on")
    check_field(policy, command.purpose_field)
    kind = recipient_designation_kind(command)
    target = usable_target(command.ward, Designation(kind, recipient_id(command)), recipient)
    purpose = GrantPurpose(
        RecipientKind(kind.value), target.target_id, target.paid_actor_id, command.purpose_field
    )
    matching = [
        lot
        for lot in book.lots.values()
        if lot.designation.key not in book.held and purpose.accepts(lot.designation)
    ]
    drawn = allocate(matching, command.amount_yen, policy)
    if isinstance(drawn, Shortfall):
        raise _not_enough(drawn)
    data = {
        "grant_id": command.grant_id,
        "recipient": {
            "kind": kind.value,
            "id": target.target_id,
            "paid_actor_id": target.paid_actor_id,
            "name": target.name,
        },
        "purpose_field": command.purpose_field,
        "fiscal_year": command.fiscal_year,
        "amount_yen": command.amount_yen,
        "title": command.title,
        "awarded_on": command.awarded_on.isoformat(),
        "allocation_rule": policy.allocation_rule.value,
        "lines": [_line(d.lot.donation_id, d.lot.designation.key, d.amount_yen) for d in drawn],
    }
    return [NewEvent(event_type=GRANT_AWARDED, data=data)]


def _not_enough(shortfall: Shortfall) -> Conflict:
    return Conflict(
        f"not enough matching money: {shortfall.requested_yen} yen requested, "
        f"{shortfall.matching_yen} available, {shortfall.missing_yen} missing; nothing allocated",
        requested_yen=shortfall.requested_yen,
        matching_yen=shortfall.matching_yen,
        missing_yen=shortfall.missing_yen,
        matching_by_designation=shortfall.matching_by_designation,
    )


def decide_disbursement(
    book: FundBook, command: DisburseGrant, recipient: Target | None, today: date
) -> list[NewEvent]:
    grant = existing_grant(book, command.ward, command.grant_id)
    check_not_future(command.paid_on, today, "paid_on")
    if recipient is None or not recipient.usable:
        status = recipient.status.value if recipient else "unknown"
        raise Conflict(
            f"the recipient of grant {grant.grant_id} is {status}; nothing is paid",
            recipient_status=status,
        )
    if command.amount_yen > grant.committed:
        raise Conflict(
            f"grant {grant.grant_id} has {grant.committed} yen left to pay; "
            f"a tranche of {command.amount_yen} would exceed the grant",
            remaining_yen=grant.committed,
            requested_yen=command.amount_yen,
        )
    lines = _take(grant.lines.values(), command.amount_yen, lambda line: line.committed)
    data = {
        "grant_id": grant.grant_id,
        "disbursement_id": command.disbursement_id,
        "tranche": grant.tranches + 1,
        "amount_yen": command.amount_yen,
        "paid_on": command.paid_on.isoformat(),
        "note": command.note,
        "lines": lines,
    }
    return [NewEvent(event_type=GRANT_DISBURSED, data=data)]


def decide_return(book: FundBook, command: ReturnGrantFunds, today: date) -> list[NewEvent]:
    """Unused money goes back to the lots it came from; to ``held`` if their target is gone."""
    grant = existing_grant(book, command.ward, command.grant_id)
    check_not_future(command.returned_on, today, "returned_on")
    disbursed = command.source == "disbursed"
    returnable = grant.paid if disbursed else grant.committed
    if command.amount_yen > returnable:
        raise Conflict(
            f"grant {grant.grant_id} has {returnable} yen "
            f"{'paid' if disbursed else 'not yet paid'}; {command.amount_yen} cannot be returned",
            returnable_yen=returnable,
            requested_yen=command.amount_yen,
        )
    newest_first = reversed(list(grant.lines.values()))
    lines = _take(
        newest_first, command.amount_yen, lambda line: line.paid if disbursed else line.committed
    )
    for line in lines:
        held = line["designation"] in book.held
        line["to"] = (Account.HELD if held else Account.AVAILABLE).value
    data = {
        "grant_id": grant.grant_id,
        "return_id": command.return_id,
        "source": command.source,
        "amount_yen": command.amount_yen,
        "returned_on": command.returned_on.isoformat(),
        "reason": command.reason,
        "lines": lines,
    }
    return [NewEvent(event_type=GRANT_FUNDS_RETURNED, data=data)]


def existing_grant(book: FundBook, ward: str, grant_id: str) -> Grant:
    grant = book.grants.get(grant_id)
    if grant is None:
        raise NotFound(f"no grant {grant_id} in ward {ward!r}")
    return grant


def _take(lines: Iterable[GrantLine], amount: int, has: Any) -> list[dict[str, Any]]:
    taken, remaining = [], amount
    for line in lines:
        part = min(has(line), remaining)
        if part:
            taken.append(_line(line.donation_id, line.designation, part))
            remaining -= part
    return taken


def _line(donation_id: str, designation: str, amount: int) -> dict[str, Any]:
    return {"donation_id": donation_id, "designation": designation, "amount_yen": amount}
