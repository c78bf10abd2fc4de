"""Given a fund's history, when a command is decided, then these events (or this refusal)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from services.fund.commands import (
    AwardGrant,
    DisburseGrant,
    ReceiveDonation,
    RefundDonation,
    ReleaseHeldFunds,
    ReturnGrantFunds,
)
from services.fund.designations import Designation, DesignationKind
from services.fund.donations import check_donation, decide_refund, receipt_label
from services.fund.grants import decide_disbursement, decide_grant, decide_return
from services.fund.holds import decide_hold, decide_release
from services.fund.invariants import violations
from services.fund.ledger import journal_entry
from services.fund.targets import Target, TargetStatus
from shared.errors import Conflict, InvalidCommand, NotFound
from tests.unit.fund.support import TODAY, WARD, MemoryFund, actor, donor, ota_policy, project

POLICY = ota_policy()
GROUP = actor("group-a")
OTHER_GROUP = actor("group-b")
PROJECT = project("project-1", lead="group-a")


def days_ago(n: int) -> date:
    return TODAY - timedelta(days=n)


def award(target: Target, field: str, amount: int, grant_id: str = "g1") -> AwardGrant:
    recipient: dict[str, Any] = (
        {"kind": "actor", "actor_id": target.target_id}
        if target.kind is DesignationKind.ACTOR
        else {"kind": "project", "project_id": target.target_id}
    )
    return AwardGrant(
        ward=WARD,
        grant_id=grant_id,
        recipient=recipient,
        purpose_field=field,
        fiscal_year=2025,
        amount_yen=amount,
        title="助成",
        awarded_on=TODAY,
    )


def lines(data: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(x["donation_id"], x["designation"], x["amount_yen"]) for x in data["lines"]]


@pytest.fixture
def fund() -> MemoryFund:
    """Older general money, a field gift, two gifts to the group, one to its project."""
    memory = MemoryFund()
    memory.donate(10_000, {"kind": "general"}, days_ago(50), donation_id="general-old")
    memory.donate(10_000, {"kind": "general"}, days_ago(5), donation_id="general-new")
    memory.donate(7_000, {"kind": "field", "field": "environment"}, days_ago(9), "field")
    memory.donate(3_000, {"kind": "actor", "actor_id": "group-a"}, days_ago(2), "actor-new")
    memory.donate(4_000, {"kind": "actor", "actor_id": "group-a"}, days_ago(8), "actor-old")
    memory.donate(5_000, {"kind": "project", "project_id": "project-1"}, days_ago(1), "proj")
    return memory


def test_most_specific_designation_first_then_oldest(fund: MemoryFund) -> None:
    (event,) = decide_grant(
        fund.book, award(PROJECT, "environment", 25_000), POLICY, PROJECT, TODAY
    )
    assert lines(event.data) == [
        ("proj", "project:project-1", 5_000),
        ("actor-old", "actor:group-a", 4_000),
        ("actor-new", "actor:group-a", 3_000),
        ("field", "field:environment", 7_000),
        ("general-old", "general", 6_000),
    ]
    assert event.data["recipient"]["paid_actor_id"] == "group-a"


def test_designated_money_never_funds_another_target_or_field(fund: MemoryFund) -> None:
    (event,) = decide_grant(
        fund.book, award(OTHER_GROUP, "children", 20_000), POLICY, OTHER_GROUP, TODAY
    )
    assert {line[1] for line in lines(event.data)} == {"general"}
    with pytest.raises(Conflict) as refused:
        decide_grant(fund.book, award(OTHER_GROUP, "children", 20_001), POLICY, OTHER_GROUP, TODAY)
    assert refused.value.extensions["missing_yen"] == 1
    assert refused.value.extensions["matching_by_designation"] == {"general": 20_000}


def test_not_enough_matching_money_allocates_nothing(fund: MemoryFund) -> None:
    before = len(fund.events)
    with pytest.raises(Conflict) as refused:
        decide_grant(fund.book, award(GROUP, "environment", 40_000), POLICY, GROUP, TODAY)
    assert refused.value.extensions == {
        "requested_yen": 40_000,
        "matching_yen": 34_000,
        "missing_yen": 6_000,
        "matching_by_designation": {
            "actor:group-a": 7_000,
            "field:environment": 7_000,
            "general": 20_000,
        },
    }
    assert len(fund.events) == before


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (replace(GROUP, status=TargetStatus.PENDING), "pending"),
        (replace(GROUP, status=TargetStatus.GONE), "gone"),
        (replace(GROUP, ward="nerima"), "no actor"),
        (None, "no actor"),
    ],
)
def test_a_grant_goes_only_to_a_usable_target_of_the_ward(
    fund: MemoryFund, target: Target | None, message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        decide_grant(fund.book, award(GROUP, "environment", 1_000), POLICY, target, TODAY)


def test_tranches_never_exceed_the_grant_and_pay_in_lineage_order(fund: MemoryFund) -> None:
    fund.decided(decide_grant(fund.book, award(GROUP, "environment", 12_000), POLICY, GROUP, TODAY))

    def tranche(amount: int) -> DisburseGrant:
        return DisburseGrant(
            ward=WARD,
            grant_id="g1",
            disbursement_id=str(uuid.uuid4()),
            amount_yen=amount,
            paid_on=TODAY,
        )

    (first,) = decide_disbursement(fund.book, tranche(5_000), GROUP, TODAY)
    assert lines(first.data) == [
        ("actor-old", "actor:group-a", 4_000),
        ("actor-new", "actor:group-a", 1_000),
    ]
    assert first.data["tranche"] == 1
    fund.decided([first])
    with pytest.raises(Conflict, match="exceed") as refused:
        decide_disbursement(fund.book, tranche(7_001), GROUP, TODAY)
    assert refused.value.extensions["remaining_yen"] == 7_000
    gone = replace(GROUP, status=TargetStatus.GONE)
    with pytest.raises(Conflict, match="gone"):
        decide_disbursement(fund.book, tranche(1_000), gone, TODAY)
    (second,) = decide_disbursement(fund.book, tranche(7_000), GROUP, TODAY)
    assert second.data["tranche"] == 2
    fund.decided([second])
    assert fund.book.grants["g1"].committed == 0
    assert violations(fund.book) == []


def test_returns_go_back_to_the_same_lots_newest_first(fund: MemoryFund) -> None:
    fund.decided(decide_grant(fund.book, award(GROUP, "environment", 12_000), POLICY, GROUP, TODAY))
    pay = DisburseGrant(
        ward=WARD, grant_id="g1", disbursement_id="d1", amount_yen=9_000, paid_on=TODAY
    )
    fund.decided(decide_disbursement(fund.book, pay, GROUP, TODAY))

    def give_back(amount: int, source: str) -> ReturnGrantFunds:
        return ReturnGrantFunds(
            ward=WARD,
            grant_id="g1",
            return_id=str(uuid.uuid4()),
            amount_yen=amount,
            returned_on=TODAY,
            source=source,  # type: ignore[arg-type]
            reason="未使用",
        )

    with pytest.raises(Conflict):
        decide_return(fund.book, give_back(9_001, "disbursed"), TODAY)
    (event,) = decide_return(fund.book, give_back(3_000, "disbursed"), TODAY)
    assert lines(event.data) == [
        ("field", "field:environment", 2_000),
        ("actor-new", "actor:group-a", 1_000),
    ]
    assert {line["to"] for line in event.data["lines"]} == {"available"}
    fund.decided([event])
    assert fund.book.lots[("field", "field:environment")].available == 2_000 + 2_000
    (given_up,) = decide_return(fund.book, give_back(3_000, "undisbursed"), TODAY)
    assert lines(given_up.data) == [("field", "field:environment", 3_000)]
    fund.decided([given_up])
    assert violations(fund.book) == []


def test_money_returned_to_a_lot_whose_target_is_gone_is_held(fund: MemoryFund) -> None:
    fund.decided(decide_grant(fund.book, award(GROUP, "environment", 7_000), POLICY, GROUP, TODAY))
    fund.decided(decide_hold(fund.book, Designation.actor("group-a")))
    assert fund.book.held == {"actor:group-a": "actor_deregistered"}
    back = ReturnGrantFunds(
        ward=WARD,
        grant_id="g1",
        return_id="r1",
        amount_yen=7_000,
        returned_on=TODAY,
        source="undisbursed",
        reason="団体の解散",
    )
    (event,) = decide_return(fund.book, back, TODAY)
    assert {line["to"] for line in event.data["lines"]} == {"held"}
    fund.decided([event])
    assert sum(lot.held for lot in fund.book.lots_designated("actor:group-a")) == 7_000
    assert decide_hold(fund.book, Designation.actor("group-a")) == []


def test_held_money_is_released_only_by_a_decision_to_a_live_designation(fund: MemoryFund) -> None:
    fund.decided(decide_hold(fund.book, Designation.actor("group-a")))
    (held,) = fund.events[-1:]
    assert held.data["amount_yen"] == 7_000
    with pytest.raises(Conflict):
        decide_grant(fund.book, award(GROUP, "children", 20_001), POLICY, GROUP, TODAY)

    def release(to: dict[str, Any]) -> ReleaseHeldFunds:
        return ReleaseHeldFunds(
            ward=WARD,
            designation={"kind": "actor", "actor_id": "group-a"},
            to=to,
            decision={
                "reference": "大田区長決裁 第7-12号",
                "decided_on": TODAY,
                "reason": "団体解散",
            },
        )

    with pytest.raises(InvalidCommand):
        decide_release(
            fund.book, release({"kind": "actor", "actor_id": "group-a"}), POLICY, GROUP, TODAY
        )
    with pytest.raises(InvalidCommand, match="no activity field"):
        decide_release(fund.book, release({"kind": "field", "field": "nope"}), POLICY, None, TODAY)
    (event,) = decide_release(
        fund.book, release({"kind": "field", "field": "environment"}), POLICY, None, TODAY
    )
    fund.decided([event])
    assert fund.book.lots[("actor-old", "field:environment")].available == 4_000
    assert fund.book.lots[("actor-old", "actor:group-a")].held == 0
    entry = journal_entry(fund.events[-1])
    assert entry is not None and entry.balanced
    assert violations(fund.book) == []
    with pytest.raises(Conflict, match="already released"):
        decide_release(fund.book, release({"kind": "general"}), POLICY, None, TODAY)


def test_a_refund_takes_only_unallocated_money(fund: MemoryFund) -> None:
    fund.decided(decide_grant(fund.book, award(GROUP, "environment", 9_000), POLICY, GROUP, TODAY))

    def refund(donation_id: str, amount: int | None) -> RefundDonation:
        return RefundDonation(
            ward=WARD,
            donation_id=donation_id,
            refund_id=str(uuid.uuid4()),
            amount_yen=amount,
            refunded_on=TODAY,
            reason="申出",
        )

    with pytest.raises(Conflict) as refused:
        decide_refund(fund.book, refund("actor-old", None), TODAY)
    assert refused.value.extensions["unallocated_yen"] == 0
    with pytest.raises(Conflict):
        decide_refund(fund.book, refund("field", 5_001), TODAY)
    (event,) = decide_refund(fund.book, refund("field", None), TODAY)
    assert lines(event.data) == [("field", "field:environment", 5_000)]
    with pytest.raises(NotFound):
        decide_refund(fund.book, refund("nobody", None), TODAY)


def donation(
    amount: int, designation: dict[str, Any], received_on: date = TODAY
) -> ReceiveDonation:
    return ReceiveDonation(
        ward=WARD,
        donation_id="d",
        amount_yen=amount,
        received_on=received_on,
        designation=designation,
        donor=donor(),
    )


@pytest.mark.parametrize(
    ("command", "target", "message"),
    [
        (donation(999, {"kind": "general"}), None, "between 1000 and 10000000"),
        (donation(10_000_001, {"kind": "general"}), None, "between"),
        (donation(1_000, {"kind": "general"}, TODAY + timedelta(days=1)), None, "future"),
        (donation(1_000, {"kind": "field", "field": "safety"}), None, "no activity field"),
        (donation(1_000, {"kind": "actor", "actor_id": "x"}), None, "no actor x"),
        (
            donation(1_000, {"kind": "actor", "actor_id": "group-a"}),
            replace(GROUP, ward="nerima"),
            "no actor",
        ),
        (
            donation(1_000, {"kind": "actor", "actor_id": "group-a"}),
            replace(GROUP, individual=True),
            "single person",
        ),
        (
            donation(1_000, {"kind": "actor", "actor_id": "group-a"}),
            replace(GROUP, status=TargetStatus.SUSPENDED),
            "suspended",
        ),
        (
            donation(1_000, {"kind": "project", "project_id": "project-1"}),
            replace(PROJECT, status=TargetStatus.GONE),
            "gone",
        ),
    ],
)
def test_a_donation_the_ward_does_not_take_is_refused(
    command: ReceiveDonation, target: Target | None, message: str
) -> None:
    with pytest.raises(InvalidCommand, match=message):
        check_donation(command, POLICY, target, TODAY)


def test_a_ward_without_project_designations_refuses_them() -> None:
    policy = replace(
        POLICY, designation_kinds=frozenset(POLICY.designation_kinds - {DesignationKind.PROJECT})
    )
    with pytest.raises(InvalidCommand, match="no project designation"):
        check_donation(
            donation(1_000, {"kind": "project", "project_id": "project-1"}), policy, PROJECT, TODAY
        )


def test_receipts_are_numbered_per_fiscal_year() -> None:
    memory = MemoryFund()
    memory.donate(1_000, {"kind": "general"}, date(2025, 3, 31))
    memory.donate(1_000, {"kind": "general"}, date(2025, 4, 1))
    memory.donate(1_000, {"kind": "general"}, date(2025, 3, 1))
    receipts = [e.data["receipt"] for e in memory.events if e.event_type == "fund.DonationReceived"]
    assert [(r["fiscal_year"], r["number"], r["label"]) for r in receipts] == [
        (2024, 1, "ota-2024-000001"),
        (2025, 1, "ota-2025-000001"),
        (2024, 2, "ota-2024-000002"),
    ]
    assert receipt_label("nerima", 2026, 1234) == "nerima-2026-001234"
    books = [(e.stream_id, e.version) for e in memory.events]
    assert books == [("receipts-ota-2024", 1), ("receipts-ota-2025", 1), ("receipts-ota-2024", 2)]


def test_personal_data_stays_inside_personal(fund: MemoryFund) -> None:
    received = fund.events[0]
    assert received.data["personal"] == {"name": "大田 花子", "address": "東京都大田区蒲田5-13-14"}
    outside = {k: v for k, v in received.data.items() if k != "personal"}
    assert "大田 花子" not in str(outside) and "蒲田" not in str(outside)
