"""Reconciliation: recompute everything from the events and compare with the read model.

The read model is read in one snapshot together with the ids of the events it has applied (its
inbox); the events applied are folded again by the pure book and ledger, so the comparison is
exact even while the projection is behind. Anything it has not applied yet is reported as lag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from services.fund.book import FundBook
from services.fund.events import DONATION_RECEIVED, MONEY_EVENTS
from services.fund.invariants import violations
from services.fund.ledger import Account, JournalEntry, account_balances, journal_entry
from services.fund.tables import (
    ACCOUNT_COLUMNS,
    GRANT_LINE_COLUMNS,
    donations_table,
    grant_lines_table,
    grants_table,
    journal_table,
    lots_table,
)
from shared.db import Database
from shared.events import EventEnvelope
from shared.eventstore.store import EventStore
from shared.projections.inbox import inbox

PROJECTION = "fund"
MAX_DIFFERENCES = 20


@dataclass
class Check:
    name: str
    compared: int
    differences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.differences


@dataclass
class Reconciliation:
    ward: str
    events_recomputed: int
    events_not_yet_projected: int
    checks: list[Check]
    invariant_violations: list[str]
    unbalanced_entries: list[str]
    receipt_gaps: dict[int, list[int]]
    totals: dict[str, int]

    @property
    def exact(self) -> bool:
        return (
            all(check.exact for check in self.checks)
            and not self.invariant_violations
            and not self.unbalanced_entries
            and not self.receipt_gaps
        )


async def reconcile(store: EventStore, database: Database, ward: str) -> Reconciliation:
    snapshot = await database.read(lambda c: _snapshot(c, ward))
    applied: set[str] = snapshot["applied"]
    events: list[EventEnvelope] = []
    waiting = 0
    async for page in store.iterate_all(ward=ward):
        for event in page:
            if event.event_type not in MONEY_EVENTS:
                continue
            if str(event.event_id) in applied:
                events.append(event)
            else:
                waiting += 1
    return compare(ward, events, snapshot, waiting)


def compare(
    ward: str, events: list[EventEnvelope], snapshot: Mapping[str, Any], waiting: int
) -> Reconciliation:
    """The pure part: fold the applied events and compare with the read model's snapshot."""
    book = FundBook()
    entries: list[JournalEntry] = []
    for event in events:
        book.apply(event)
        entry = journal_entry(event)
        if entry is not None:
            entries.append(entry)
    checks = [
        _compare("lots", _lots_from_book(book), snapshot["lots"]),
        _compare("grants", _grants_from_book(book), snapshot["grants"]),
        _compare("grant lines", _grant_lines_from_book(book), snapshot["grant_lines"]),
        _compare("accounts", _accounts(entries), snapshot["accounts"]),
        _compare("donations", _donations(events), snapshot["donations"]),
    ]
    return Reconciliation(
        ward=ward,
        events_recomputed=len(events),
        events_not_yet_projected=waiting,
        checks=checks,
        invariant_violations=violations(book),
        unbalanced_entries=[e.event_id for e in entries if not e.balanced],
        receipt_gaps=_receipt_gaps(events),
        totals={
            "donations": book.received(),
            **{account.value: book.total(account) for account in Account},
        },
    )


Key = tuple[str, ...]


def _compare(name: str, expected: Mapping[Key, Any], actual: Mapping[Key, Any]) -> Check:
    check = Check(name, compared=len(expected))
    for key in sorted(set(expected) | set(actual)):
        want, have = expected.get(key), actual.get(key)
        if want != have and len(check.differences) < MAX_DIFFERENCES:
            check.differences.append({"key": list(key), "events": want, "read_model": have})
    return check


def _lots_from_book(book: FundBook) -> dict[Key, dict[str, int]]:
    return {
        key: {account.value: value for account, value in lot.balance.items()}
        for key, lot in book.lots.items()
    }


def _grants_from_book(book: FundBook) -> dict[Key, dict[str, int]]:
    return {
        (grant.grant_id,): {
            "amount_yen": grant.amount_yen,
            "committed": grant.committed,
            "paid": grant.paid,
            "returned": grant.returned,
            "given_up": sum(line.given_up for line in grant.lines.values()),
            "tranches": grant.tranches,
            "returns": grant.returns,
        }
        for grant in book.grants.values()
    }


def _grant_lines_from_book(book: FundBook) -> dict[Key, dict[str, int]]:
    return {
        (grant.grant_id, line.donation_id, line.designation): {
            "allocated": line.allocated,
            "committed": line.committed,
            "paid": line.paid,
            "returned": line.returned,
            "given_up": line.given_up,
        }
        for grant in book.grants.values()
        for line in grant.lines.values()
    }


def _accounts(entries: Iterable[JournalEntry]) -> dict[Key, int]:
    return {
        (account.value, designation): value
        for (account, designation), value in account_balances(entries).items()
    }


def _donations(events: Iterable[EventEnvelope]) -> dict[Key, dict[str, Any]]:
    return {
        (e.data["donation_id"],): {
            "amount_yen": int(e.data["amount_yen"]),
            "receipt_label": e.data["receipt"]["label"],
            "designation": e.data["designation"],
        }
        for e in events
        if e.event_type == DONATION_RECEIVED
    }


def _receipt_gaps(events: Iterable[EventEnvelope]) -> dict[int, list[int]]:
    numbers: dict[int, list[int]] = {}
    for e in events:
        if e.event_type == DONATION_RECEIVED:
            receipt = e.data["receipt"]
            numbers.setdefault(int(receipt["fiscal_year"]), []).append(int(receipt["number"]))
    gaps = {}
    for year, found in numbers.items():
        missing = sorted(set(range(1, max(found) + 1)) - set(found))
        if missing or len(found) != len(set(found)):
            gaps[year] = missing
    return gaps


# --- the read model, in one snapshot ------------------------------------------------------


def _snapshot(connection: sa.Connection, ward: str) -> dict[str, Any]:
    if connection.dialect.name == "postgresql":
        # One snapshot for every SELECT below (SQLite's read transaction already is one).
        connection.execution_options(isolation_level="REPEATABLE READ")
    applied = sa.select(inbox.c.event_id).where(inbox.c.projection == PROJECTION)
    return {
        "applied": set(connection.execute(applied).scalars()),
        "lots": _keyed(
            connection, lots_table, ward, ("donation_id", "designation"), ACCOUNT_COLUMNS
        ),
        "grants": _keyed(
            connection,
            grants_table,
            ward,
            ("grant_id",),
            ("amount_yen", *GRANT_LINE_COLUMNS, "tranches", "returns"),
        ),
        "grant_lines": _keyed(
            connection,
            grant_lines_table,
            ward,
            ("grant_id", "donation_id", "designation"),
            ("allocated", *GRANT_LINE_COLUMNS),
        ),
        "accounts": _journal_accounts(connection, ward),
        "donations": _keyed(
            connection,
            donations_table,
            ward,
            ("donation_id",),
            ("amount_yen", "receipt_label", "designation"),
        ),
    }


def _keyed(
    connection: sa.Connection,
    table: sa.Table,
    ward: str,
    keys: tuple[str, ...],
    values: tuple[str, ...],
) -> dict[Key, dict[str, Any]]:
    query = sa.select(*(table.c[c] for c in (*keys, *values))).where(table.c.ward == ward)
    return {
        tuple(row[k] for k in keys): {v: row[v] for v in values}
        for row in connection.execute(query).mappings()
    }


def _journal_accounts(connection: sa.Connection, ward: str) -> dict[Key, int]:
    table = journal_table
    query = (
        sa.select(
            table.c.account,
            table.c.designation,
            sa.func.sum(table.c.debit_yen).label("debits"),
            sa.func.sum(table.c.credit_yen).label("credits"),
        )
        .where(table.c.ward == ward)
        .group_by(table.c.account, table.c.designation)
    )
    balances: dict[Key, int] = {}
    for row in connection.execute(query):
        debits, credits = int(row.debits), int(row.credits)
        normal = credits - debits if row.account == Account.FUND.value else debits - credits
        balances[(row.account, row.designation)] = normal
    return balances
