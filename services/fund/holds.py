"""Designated money whose target is gone: held, reported, released only by a ward decision.

When an actor is deregistered or a project ends, the money designated to it can no longer reach
it. Its available money is moved to ``held`` (and money later returned to such a lot goes there
too); only a recorded ward decision moves it to another designation.
"""

from __future__ import annotations

from datetime import date

from services.fund.book import FundBook
from services.fund.commands import ReleaseHeldFunds
from services.fund.designations import Designation
from services.fund.events import DESIGNATED_FUNDS_HELD, HELD_FUNDS_RELEASED
from services.fund.policy import FundPolicy
from services.fund.rules import check_designation, check_not_future
from services.fund.targets import Target
from shared.errors import Conflict, InvalidCommand
from shared.events import NewEvent

GONE_REASONS = {"actor": "actor_deregistered", "project": "project_ended"}


def decide_hold(book: FundBook, designation: Designation) -> list[NewEvent]:
    """Hold what is available under a gone target; nothing if there is nothing new to hold."""
    key = designation.key
    lots = list(book.lots_designated(key))
    if not lots or (key in book.held and not any(lot.available for lot in lots)):
        return []
    lines = [
        {"donation_id": lot.donation_id, "designation": key, "amount_yen": lot.available}
        for lot in lots
        if lot.available > 0
    ]
    data = {
        "designation": key,
        "target": {"kind": designation.kind.value, "id": designation.target},
        "reason": GONE_REASONS[designation.kind.value],
        "amount_yen": sum(lot.available for lot in lots),
        "lines": lines,
    }
    return [NewEvent(event_type=DESIGNATED_FUNDS_HELD, data=data)]


def decide_release(
    book: FundBook,
    command: ReleaseHeldFunds,
    policy: FundPolicy,
    new_target: Target | None,
    today: date,
) -> list[NewEvent]:
    held_key = command.designation.value().key
    to = command.to.value()
    if held_key not in book.held:
        raise Conflict(f"no money is held under {held_key}", designation=held_key)
    lots = [lot for lot in book.lots_designated(held_key) if lot.held > 0]
    if not lots:
        raise Conflict(f"the money held under {held_key} was already released")
    if to.key == held_key or to.key in book.held:
        raise InvalidCommand(f"held money cannot go to {to.key}, whose target is gone")
    check_not_future(command.decision.decided_on, today, "decided_on")
    check_designation(policy, to, new_target)
    lines = [
        {
            "donation_id": lot.donation_id,
            "designation": held_key,
            "to_designation": to.key,
            "amount_yen": lot.held,
        }
        for lot in lots
    ]
    data = {
        "designation": held_key,
        "to_designation": to.key,
        "amount_yen": sum(lot.held for lot in lots),
        "decided_on": command.decision.decided_on.isoformat(),
        "decision": command.decision.model_dump(mode="json"),
        "lines": lines,
    }
    return [NewEvent(event_type=HELD_FUNDS_RELEASED, data=data)]
