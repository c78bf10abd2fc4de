"""Random sequences of donations, grants, tranches, returns, refunds, holds and releases.

After every step: the invariants hold, every journal entry balances, the book equals a replay of
the events and the journal's balances, and the totals equal an independent tally of the steps.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.fund.book import FundBook, fold
from services.fund.commands import (
    AwardGrant,
    DisburseGrant,
    RefundDonation,
    ReleaseHeldFunds,
    ReturnGrantFunds,
)
from services.fund.designations import Designation, GrantPurpose, RecipientKind
from services.fund.donations import decide_refund
from services.fund.grants import decide_disbursement, decide_grant, decide_return
from services.fund.holds import decide_hold, decide_release
from services.fund.invariants import violations
from services.fund.ledger import Account, account_balances, journal_entry, lot_balances
from services.fund.targets import Target, TargetStatus
from shared.errors import Conflict, InvalidCommand
from tests.unit.fund.support import TODAY, WARD, MemoryFund, actor, ota_policy, project

FIELDS = ("environment", "children", "tourism")
POLICY = ota_policy()
amounts = st.integers(min_value=1_000, max_value=60_000)


def initial_targets() -> dict[str, Target]:
    targets = {f"a{i}": actor(f"a{i}") for i in range(3)}
    targets["p0"] = project("p0", lead="a0")
    targets["p1"] = project("p1", lead="a1")
    return targets


class FundMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.fund = MemoryFund()
        self.targets = initial_targets()
        self.grant_ids: list[str] = []
        self.tally = dict.fromkeys(("given", "paid", "refunded", "returned_paid"), 0)

    # --- steps ------------------------------------------------------------------------------

    @rule(
        amount=amounts,
        kind=st.sampled_from(["general", "field", "actor", "project"]),
        pick=st.integers(0, 10),
        days_ago=st.integers(0, 40),
    )
    def donate(self, amount: int, kind: str, pick: int, days_ago: int) -> None:
        designation = self._designation(kind, pick)
        if designation is None:
            return  # its target is gone: the donation would be refused before deciding
        self.fund.donate(amount, designation, TODAY - timedelta(days=days_ago))
        self.tally["given"] += amount

    @rule(
        amount=st.integers(1_000, 150_000),
        to_project=st.booleans(),
        pick=st.integers(0, 10),
        field=st.sampled_from(FIELDS),
    )
    def award(self, amount: int, to_project: bool, pick: int, field: str) -> None:
        keys = [k for k in self.targets if k.startswith("p" if to_project else "a")]
        target = self.targets[keys[pick % len(keys)]]
        recipient: dict[str, Any] = (
            {"kind": "project", "project_id": target.target_id}
            if to_project
            else {"kind": "actor", "actor_id": target.target_id}
        )
        command = AwardGrant(
            ward=WARD,
            grant_id=str(uuid.uuid4()),
            recipient=recipient,
            purpose_field=field,
            fiscal_year=2025,
            amount_yen=amount,
            title="助成",
            awarded_on=TODAY,
        )
        before = len(self.fund.events)
        try:
            events = decide_grant(self.fund.book, command, POLICY, target, TODAY)
        except InvalidCommand:
            assert not target.usable
            return
        except Conflict as refused:
            missing = refused.extensions["missing_yen"]
            assert missing == amount - self._matching(command, target) > 0
            assert len(self.fund.events) == before
            return
        self._check_priority(events[0].data, command, target)
        self.fund.decided(events)
        self.grant_ids.append(command.grant_id)

    @precondition(lambda self: self.grant_ids)
    @rule(pick=st.integers(0, 50), amount=st.integers(1, 200_000))
    def disburse(self, pick: int, amount: int) -> None:
        grant = self.fund.book.grants[self.grant_ids[pick % len(self.grant_ids)]]
        command = DisburseGrant(
            ward=WARD,
            grant_id=grant.grant_id,
            disbursement_id=str(uuid.uuid4()),
            amount_yen=amount,
            paid_on=TODAY,
        )
        recipient = self._recipient(grant.purpose.recipient_id)
        try:
            events = decide_disbursement(self.fund.book, command, recipient, TODAY)
        except Conflict:
            assert amount > grant.committed or not recipient.usable
            return
        self.fund.decided(events)
        self.tally["paid"] += amount

    @precondition(lambda self: self.grant_ids)
    @rule(pick=st.integers(0, 50), amount=st.integers(1, 100_000), disbursed=st.booleans())
    def give_back(self, pick: int, amount: int, disbursed: bool) -> None:
        grant = self.fund.book.grants[self.grant_ids[pick % len(self.grant_ids)]]
        command = ReturnGrantFunds(
            ward=WARD,
            grant_id=grant.grant_id,
            return_id=str(uuid.uuid4()),
            amount_yen=amount,
            returned_on=TODAY,
            source="disbursed" if disbursed else "undisbursed",
            reason="未使用",
        )
        returnable = grant.paid if disbursed else grant.committed
        try:
            events = decide_return(self.fund.book, command, TODAY)
        except Conflict:
            assert amount > returnable
            return
        self.fund.decided(events)
        if disbursed:
            self.tally["returned_paid"] += amount

    @precondition(lambda self: self.fund.book.donations)
    @rule(pick=st.integers(0, 500), amount=st.none() | st.integers(1, 70_000))
    def refund(self, pick: int, amount: int | None) -> None:
        ids = list(self.fund.book.donations)
        donation_id = ids[pick % len(ids)]
        unallocated = sum(lot.available for lot in self.fund.book.lots_of(donation_id))
        command = RefundDonation(
            ward=WARD,
            donation_id=donation_id,
            refund_id=str(uuid.uuid4()),
            amount_yen=amount,
            refunded_on=TODAY,
            reason="寄附者の申出",
        )
        try:
            events = decide_refund(self.fund.book, command, TODAY)
        except Conflict:
            assert unallocated == 0 or (amount or 0) > unallocated
            return
        self.fund.decided(events)
        self.tally["refunded"] += unallocated if amount is None else amount

    @rule(key=st.sampled_from(["a1", "a2", "p0", "p1"]))
    def target_gone(self, key: str) -> None:
        target = self.targets[key]
        self.targets[key] = Target(
            target.kind,
            target.target_id,
            target.ward,
            TargetStatus.GONE,
            lead_actor_id=target.lead_actor_id,
        )
        self.fund.decided(decide_hold(self.fund.book, target.designation))
        assert not any(
            lot.available for lot in self.fund.book.lots_designated(target.designation.key)
        )

    @precondition(lambda self: self.fund.book.held)
    @rule(pick=st.integers(0, 10), to_field=st.sampled_from((None, *FIELDS)))
    def release(self, pick: int, to_field: str | None) -> None:
        held = sorted(self.fund.book.held)
        designation = Designation.parse(held[pick % len(held)])
        to: dict[str, Any] = (
            {"kind": "general"} if to_field is None else {"kind": "field", "field": to_field}
        )
        held_designation: dict[str, Any] = {
            "kind": designation.kind.value,
            f"{designation.kind.value}_id": designation.target,
        }
        command = ReleaseHeldFunds(
            ward=WARD,
            designation=held_designation,
            to=to,
            decision={"reference": "区長決裁 7-123", "decided_on": TODAY, "reason": "解散のため"},
        )
        held_before = sum(lot.held for lot in self.fund.book.lots_designated(designation.key))
        try:
            events = decide_release(self.fund.book, command, POLICY, None, TODAY)
        except Conflict:
            assert held_before == 0
            return
        self.fund.decided(events)
        assert sum(lot.held for lot in self.fund.book.lots_designated(designation.key)) == 0

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def the_invariants_hold(self) -> None:
        assert violations(self.fund.book) == []

    @invariant()
    def every_entry_balances(self) -> None:
        for event in self.fund.events[-3:]:
            entry = journal_entry(event)
            assert entry is None or entry.balanced

    @invariant()
    def totals_match_an_independent_tally(self) -> None:
        book = self.fund.book
        assert book.received() == book.total(Account.FUND) == self.tally["given"]
        assert book.total(Account.PAID) == self.tally["paid"] - self.tally["returned_paid"]
        assert book.total(Account.REFUNDED) == self.tally["refunded"]

    @invariant()
    def a_replay_gives_the_same_balances(self) -> None:
        replayed = fold(self.fund.events)
        assert _balances(replayed) == _balances(self.fund.book)
        assert replayed.held == self.fund.book.held
        entries = [e for e in map(journal_entry, self.fund.events) if e is not None]
        from_journal = {k: v for k, v in lot_balances(entries).items()}
        assert from_journal == {key: lot.balance for key, lot in self.fund.book.lots.items()}
        per_account = account_balances(entries)
        assert (
            sum(v for (a, _d), v in per_account.items() if a is Account.FUND) == self.tally["given"]
        )

    # --- helpers ------------------------------------------------------------------------------

    def _designation(self, kind: str, pick: int) -> dict[str, Any] | None:
        if kind == "general":
            return {"kind": "general"}
        if kind == "field":
            return {"kind": "field", "field": FIELDS[pick % len(FIELDS)]}
        keys = [k for k in self.targets if k.startswith(kind[0])]
        target = self.targets[keys[pick % len(keys)]]
        if not target.usable:
            return None
        return {"kind": kind, f"{kind}_id": target.target_id}

    def _recipient(self, target_id: str) -> Target:
        return next(t for t in self.targets.values() if t.target_id == target_id)

    def _matching(self, command: AwardGrant, target: Target) -> int:
        """Matching money, counted without the allocation code."""
        book = self.fund.book
        total = 0
        for lot in book.lots.values():
            d = lot.designation
            if d.key in book.held:
                continue
            ok = (
                d.kind.value == "general"
                or (d.kind.value == "field" and d.target == command.purpose_field)
                or (d.kind.value == "actor" and d.target == target.paid_actor_id)
                or (
                    d.kind.value == "project"
                    and d.target == target.target_id
                    and target.lead_actor_id
                )
            )
            total += lot.available if ok else 0
        return total

    def _check_priority(self, data: dict[str, Any], command: AwardGrant, target: Target) -> None:
        """Most specific first, then oldest: a lot is drawn only when every earlier one is empty."""
        drawn = {
            (line["donation_id"], line["designation"]): line["amount_yen"] for line in data["lines"]
        }
        assert sum(drawn.values()) == command.amount_yen
        ranks = {
            key: (POLICY.specificity(lot.designation.kind), lot.received_on, lot.sequence, key[1])
            for key, lot in self.fund.book.lots.items()
        }
        last = max(ranks[key] for key in drawn)
        book = self.fund.book
        for key, lot in book.lots.items():
            skipped = (
                key not in drawn and lot.available > 0 and lot.designation.key not in book.held
            )
            if skipped and ranks[key] < last:
                assert not _accepts(command, target, lot.designation), (key, drawn)
            if key in drawn and ranks[key] < last:
                assert drawn[key] == lot.available  # an earlier lot is emptied first


def _accepts(command: AwardGrant, target: Target, designation: Designation) -> bool:
    purpose = GrantPurpose(
        RecipientKind(command.recipient.kind),
        target.target_id,
        target.paid_actor_id,
        command.purpose_field,
    )
    return purpose.accepts(designation)


def _balances(book: FundBook) -> dict[Any, Any]:
    return {
        "lots": {key: dict(lot.balance) for key, lot in book.lots.items()},
        "grants": {
            grant_id: [vars(line) for line in grant.lines.values()]
            for grant_id, grant in book.grants.items()
        },
        "version": book.version,
    }


FundMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_fund_ledger = FundMachine.TestCase
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
