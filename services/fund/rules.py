"""Checks the deciders share: a designation the ward allows, naming a target that is usable."""

from __future__ import annotations

from datetime import date

from services.fund.designations import Designation, DesignationKind
from services.fund.policy import FundPolicy
from services.fund.targets import Target
from shared.errors import InvalidCommand


def check_designation(policy: FundPolicy, designation: Designation, target: Target | None) -> None:
    """Raises InvalidCommand unless the ward takes this designation and its target is usable."""
    if designation.kind not in policy.designation_kinds:
        raise InvalidCommand(
            f"ward {policy.ward!r} takes no {designation.kind} designation",
            known=sorted(k.value for k in policy.designation_kinds),
        )
    if designation.kind is DesignationKind.FIELD:
        check_field(policy, str(designation.target))
    elif designation.names_a_target:
        usable_target(policy.ward, designation, target, group_only=True)


def check_field(policy: FundPolicy, code: str) -> None:
    if code not in policy.fields:
        raise InvalidCommand(
            f"ward {policy.ward!r} has no activity field {code!r}", known=sorted(policy.fields)
        )


def usable_target(
    ward: str, designation: Designation, target: Target | None, *, group_only: bool = False
) -> Target:
    """The target if it exists in this ward and is usable; another ward's does not exist here."""
    noun = designation.kind.value
    if target is None or target.ward != ward or target.kind is not designation.kind:
        raise InvalidCommand(
            f"no {noun} {designation.target} in ward {ward!r}", designation=designation.key
        )
    if not target.usable:
        raise InvalidCommand(
            f"{noun} {target.target_id} is {target.status}; it cannot receive money",
            designation=designation.key,
            target_status=target.status.value,
        )
    if group_only and target.individual:
        raise InvalidCommand(
            f"actor {target.target_id} is a single person; a designation names a group (団体指定)",
            designation=designation.key,
        )
    return target


def check_not_future(day: date, today: date, what: str) -> None:
    if day > today:
        raise InvalidCommand(f"{what} {day.isoformat()} is in the future", today=today.isoformat())
