"""The fund's read model: ward rules, actors and projects it may fund, and its own money.

Each handler gets a run of events of one type and writes each table with one statement. Money
events post their journal entry (:func:`services.fund.ledger.journal_entry`) and the same lines
move the lot, grant and grant-line balances, as in the book the deciders use.

The three parts (ward rules, targets, money) read and write no table of another, so a batch gives
each part its own events at once, in their order: registry events between donations do not cut
the donations into runs of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa

from services.fund import events as names
from services.fund.designations import Designation
from services.fund.ledger import Account, JournalEntry, journal_entry
from services.fund.policy import policy_columns, policy_from_pack
from services.fund.tables import (
    ACCOUNT_COLUMNS,
    GRANT_LINE_COLUMNS,
    donations_table,
    grant_lines_table,
    grants_table,
    holds_table,
    journal_table,
    lots_table,
    metadata,
    releases_table,
    targets_table,
    wards_table,
)
from services.fund.targets import TargetStatus
from shared.events import EventEnvelope
from shared.policy import PolicyPack
from shared.projections.composite import CompositeProjection
from shared.projections.runner import DispatchingProjection
from shared.projections.writes import sorted_by_key, upsert

Row = dict[str, Any]
ANONYMOUS_NAME = "匿名"

ward_rules_part = DispatchingProjection("fund-wards", metadata)
targets_part = DispatchingProjection("fund-targets", metadata)
money_part = DispatchingProjection("fund-money", metadata)
projection = CompositeProjection("fund", [ward_rules_part, targets_part, money_part])


# --- wards (registry) ---------------------------------------------------------------------


@ward_rules_part.on(names.WARD_ONBOARDED)
@ward_rules_part.on(names.WARD_POLICY_CHANGED)
def ward_policy(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    latest: dict[str, Row] = {}
    for event in events:
        data = event.data
        pack = PolicyPack.model_validate(data["pack"])
        policy = policy_from_pack(pack, int(data["policy_version"]))
        latest[event.ward] = {
            **policy_columns(policy),
            "name_ja": data["name"]["ja"],
            "pack_hash": data["pack_hash"],
        }
    upsert(connection, wards_table, list(latest.values()), keys=["ward"])


# --- actors (registry) and projects (proposals) -------------------------------------------

TargetChange = Callable[[Row | None, EventEnvelope], Row]


def _actor_registered(_row: Row | None, event: EventEnvelope) -> Row:
    data = event.data
    return {
        "kind": "actor",
        "target_id": data["actor_id"],
        "ward": event.ward,
        "status": TargetStatus.PENDING.value,
        "name": data.get("name"),
        "individual": bool(data.get("individual", False)),
        "lead_actor_id": None,
        "fields": list(data.get("fields", [])),
    }


def _status(status: TargetStatus) -> TargetChange:
    def change(row: Row | None, _event: EventEnvelope) -> Row:
        assert row is not None
        return {**row, "status": status.value}

    return change


def _profile_updated(row: Row | None, event: EventEnvelope) -> Row:
    assert row is not None
    changes = event.data.get("changes", {})
    public = {k: changes[k] for k in ("name", "fields") if k in changes}
    return {**row, **public}


def _project_started(_row: Row | None, event: EventEnvelope) -> Row:
    data = event.data
    return {
        "kind": "project",
        "target_id": data["project_id"],
        "ward": event.ward,
        "status": TargetStatus.ACTIVE.value,
        "name": data.get("title"),
        "individual": False,
        "lead_actor_id": data.get("lead_actor_id"),
        "fields": list(data.get("fields", [])),
    }


_TARGET_CHANGES: dict[str, tuple[str, str, TargetChange]] = {
    names.ACTOR_REGISTERED: ("actor", "actor_id", _actor_registered),
    names.ACTOR_VERIFIED: ("actor", "actor_id", _status(TargetStatus.ACTIVE)),
    names.ACTOR_PROFILE_UPDATED: ("actor", "actor_id", _profile_updated),
    names.ACTOR_SUSPENDED: ("actor", "actor_id", _status(TargetStatus.SUSPENDED)),
    names.ACTOR_REINSTATED: ("actor", "actor_id", _status(TargetStatus.ACTIVE)),
    names.ACTOR_DEREGISTERED: ("actor", "actor_id", _status(TargetStatus.GONE)),
    names.PROJECT_STARTED: ("project", "project_id", _project_started),
    names.PROJECT_ENDED: ("project", "project_id", _status(TargetStatus.GONE)),
}


def _targets(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    kind, id_key, change = _TARGET_CHANGES[events[0].event_type]
    ids = sorted({str(e.data[id_key]) for e in events})
    query = sa.select(targets_table).where(
        targets_table.c.kind == kind, targets_table.c.target_id.in_(ids)
    )
    rows: dict[str, Row] = {r["target_id"]: dict(r) for r in connection.execute(query).mappings()}
    changed: dict[str, Row] = {}
    for event in events:
        target_id = str(event.data[id_key])
        row = rows.get(target_id)
        if row is not None and event.position <= row["source_position"]:
            continue  # applied already (one source keeps its targets' events in order)
        if row is None and change not in (_actor_registered, _project_started):
            continue  # a target the fund never saw start
        new_row = {
            **change(row, event),
            "source_position": event.position,
            "updated_at": event.occurred_at,
        }
        rows[target_id] = changed[target_id] = new_row
    upsert(connection, targets_table, list(changed.values()), keys=["kind", "target_id"])


for _event_type in _TARGET_CHANGES:
    targets_part.on(_event_type)(_targets)


# --- donations and every movement of money ------------------------------------------------


@money_part.on(names.DONATION_RECEIVED)
def donation_received(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = [_donation_row(e) for e in events]
    upsert(connection, donations_table, rows, keys=["donation_id"])
    # A receipt moves no grant's money: its lines name no grant, and it counts no tranche.
    donations = {row["donation_id"]: _LotSource.of(row) for row in rows}
    _post(connection, events, donations, moves_grants=False)


def _donation_row(event: EventEnvelope) -> Row:
    data = event.data
    receipt = data["receipt"]
    return {
        "donation_id": data["donation_id"],
        "ward": event.ward,
        "receipt_fiscal_year": receipt["fiscal_year"],
        "receipt_number": receipt["number"],
        "receipt_label": receipt["label"],
        "received_on": date.fromisoformat(data["received_on"]),
        "amount_yen": data["amount_yen"],
        "designation": data["designation"],
        "designation_kind": designation_kind(data["designation"]),
        "channel": data["channel"],
        "donor_kind": data["donor"]["kind"],
        "publish_name": data["donor"]["publish_name"],
        "public_name": public_name(data["donor"], data.get("personal", {})),
        "note": data.get("note"),
        "personal": data.get("personal", {}),
        "position": event.position,
        "policy_version": event.policy_version,
        "recorded_at": event.recorded_at,
    }


@lru_cache(maxsize=4096)
def designation_kind(key: str) -> str:
    """The kind of a designation key (``ValueError`` for a key that is no designation)."""
    return Designation.parse(key).kind.value


def public_name(donor: dict[str, Any], personal: dict[str, Any]) -> str:
    """What the public sees of a donor: the name they allowed to be published, or 匿名."""
    if not donor.get("publish_name"):
        return ANONYMOUS_NAME
    return str(personal.get("published_name") or personal.get("name") or ANONYMOUS_NAME)


@money_part.on(names.GRANT_AWARDED)
def grant_awarded(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    upsert(connection, grants_table, [_grant_row(e) for e in events], keys=["grant_id"])
    lines = [
        {
            "grant_id": e.data["grant_id"],
            "donation_id": item["donation_id"],
            "designation": item["designation"],
            "ward": e.ward,
            "line_no": number,
            "allocated": item["amount_yen"],
            **dict.fromkeys(GRANT_LINE_COLUMNS, 0),
        }
        for e in events
        for number, item in enumerate(e.data["lines"], start=1)
    ]
    upsert(connection, grant_lines_table, lines, keys=["grant_id", "donation_id", "designation"])
    _post(connection, events)


def _grant_row(event: EventEnvelope) -> Row:
    data = event.data
    recipient = data["recipient"]
    return {
        "grant_id": data["grant_id"],
        "ward": event.ward,
        "recipient_kind": recipient["kind"],
        "recipient_id": recipient["id"],
        "paid_actor_id": recipient["paid_actor_id"],
        "recipient_name": recipient.get("name"),
        "purpose_field": data["purpose_field"],
        "fiscal_year": data["fiscal_year"],
        "title": data["title"],
        "awarded_on": date.fromisoformat(data["awarded_on"]),
        "allocation_rule": data["allocation_rule"],
        "amount_yen": data["amount_yen"],
        **dict.fromkeys(GRANT_LINE_COLUMNS, 0),
        "tranches": 0,
        "returns": 0,
        "position": event.position,
        "policy_version": event.policy_version,
    }


@money_part.on(names.GRANT_DISBURSED)
@money_part.on(names.GRANT_FUNDS_RETURNED)
@money_part.on(names.DONATION_REFUNDED)
def money_moved(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    _post(connection, events)


@money_part.on(names.DESIGNATED_FUNDS_HELD)
def funds_held(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows: dict[tuple[str, str], Row] = {}
    for event in events:
        data, key = event.data, (event.ward, event.data["designation"])
        earlier = rows.get(key)
        rows[key] = {
            "ward": event.ward,
            "designation": data["designation"],
            "target_kind": data["target"]["kind"],
            "target_id": data["target"]["id"],
            "reason": data["reason"],
            "first_held_at": earlier["first_held_at"] if earlier else event.occurred_at,
            "held_yen": (earlier["held_yen"] if earlier else 0) + int(data["amount_yen"]),
            "released_yen": 0,
        }
    # first_held_at is kept by the increment-only update of an existing row
    _upsert_adding(connection, holds_table, rows.values(), ["ward", "designation"], ["held_yen"])
    _post(connection, events)


@money_part.on(names.HELD_FUNDS_RELEASED)
def funds_released(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    releases = [
        {
            "event_id": str(e.event_id),
            "ward": e.ward,
            "designation": e.data["designation"],
            "to_designation": e.data["to_designation"],
            "amount_yen": e.data["amount_yen"],
            "decision": e.data["decision"],
            "decided_on": date.fromisoformat(e.data["decided_on"]),
            "position": e.position,
        }
        for e in events
    ]
    upsert(connection, releases_table, releases, keys=["event_id"])
    released: dict[tuple[str, str], int] = {}
    for e in events:
        key = (e.ward, e.data["designation"])
        released[key] = released.get(key, 0) + int(e.data["amount_yen"])
    rows = [{"ward": w, "designation": d, "released_yen": n} for (w, d), n in released.items()]
    _add_to(connection, holds_table, rows, ["ward", "designation"], ["released_yen"])
    _post(connection, events)


# --- posting: journal lines move lots, grants and grant lines -----------------------------


class _LotSource(NamedTuple):
    """What a lot row copies from its donation."""

    donation_id: str
    ward: str
    receipt_fiscal_year: int
    received_on: date

    @classmethod
    def of(cls, row: Row) -> _LotSource:
        return cls(row["donation_id"], row["ward"], row["receipt_fiscal_year"], row["received_on"])


def _post(
    connection: sa.Connection,
    events: Sequence[EventEnvelope],
    donations: Mapping[str, _LotSource] | None = None,
    *,
    moves_grants: bool = True,
) -> None:
    """Journal the events and move their lots and grants; ``donations``: the donations the
    batch has just written, whose rows need not be read back."""
    entries = [entry for entry in map(journal_entry, events) if entry is not None]
    upsert(connection, journal_table, _journal_rows(entries), keys=["event_id", "line_no"])
    _move_lots(connection, entries, donations or {})
    if moves_grants:
        _move_grants(connection, events, entries)


_ACCOUNT_NAMES = {account: account.value for account in Account}  # cheaper than .value


def _journal_rows(entries: Iterable[JournalEntry]) -> list[Row]:
    return [
        {
            "event_id": entry.event_id,
            "line_no": number,
            "ward": entry.ward,
            "position": entry.position,
            "entry_date": entry.on,
            "event_type": entry.event_type,
            "account": _ACCOUNT_NAMES[line.account],
            "designation": line.designation,
            "donation_id": line.donation_id,
            "grant_id": line.grant_id,
            "debit_yen": line.debit,
            "credit_yen": line.credit,
        }
        for entry in entries
        for number, line in enumerate(entry.lines, start=1)
    ]


def _move_lots(
    connection: sa.Connection, entries: Sequence[JournalEntry], known: Mapping[str, _LotSource]
) -> None:
    deltas = _lot_deltas(entries)
    if not deltas:
        return
    donations = _lot_sources(connection, {donation_id for donation_id, _ in deltas}, known)
    rows = []
    for (donation_id, designation), delta in deltas.items():
        source = donations[donation_id]
        rows.append(
            {
                "donation_id": donation_id,
                "designation": designation,
                "ward": source.ward,
                "designation_kind": designation_kind(designation),
                "receipt_fiscal_year": source.receipt_fiscal_year,
                "received_on": source.received_on,
                **delta,
            }
        )
    _upsert_adding(connection, lots_table, rows, ["donation_id", "designation"], ACCOUNT_COLUMNS)


def _lot_deltas(entries: Iterable[JournalEntry]) -> dict[tuple[str, str], dict[str, int]]:
    """How much each lot's accounts change, by (donation_id, designation)."""
    deltas: dict[tuple[str, str], dict[str, int]] = {}
    for entry in entries:
        for line in entry.lines:
            key = (line.donation_id, line.designation)
            lot = deltas.get(key)
            if lot is None:
                lot = deltas[key] = dict.fromkeys(ACCOUNT_COLUMNS, 0)
            lot[_ACCOUNT_NAMES[line.account]] += line.change
    return deltas


def _lot_sources(
    connection: sa.Connection, donation_ids: set[str], known: Mapping[str, _LotSource]
) -> dict[str, _LotSource]:
    sources = {donation_id: known[donation_id] for donation_id in donation_ids & known.keys()}
    missing = sorted(donation_ids - sources.keys())
    if missing:
        query = sa.select(
            donations_table.c.donation_id,
            donations_table.c.ward,
            donations_table.c.receipt_fiscal_year,
            donations_table.c.received_on,
        ).where(donations_table.c.donation_id.in_(missing))
        sources.update((r.donation_id, _LotSource(*r)) for r in connection.execute(query))
    return sources


def _move_grants(
    connection: sa.Connection, events: Sequence[EventEnvelope], entries: Sequence[JournalEntry]
) -> None:
    lines: dict[tuple[str, str, str], dict[str, int]] = {}
    for entry in entries:
        for line in entry.lines:
            if line.grant_id is None or line.account not in (Account.COMMITTED, Account.PAID):
                continue
            key = (line.grant_id, line.donation_id, line.designation)
            delta = lines.setdefault(key, dict.fromkeys(GRANT_LINE_COLUMNS, 0))
            delta[line.account.value] += line.change
    counts: dict[str, dict[str, int]] = {}
    for event in events:
        _count_grant_event(event, lines, counts)
    if not lines and not counts:
        return
    grants: dict[str, dict[str, int]] = {}
    for (grant_id, _donation, _designation), delta in lines.items():
        total = grants.setdefault(grant_id, dict.fromkeys(GRANT_LINE_COLUMNS, 0))
        for column, value in delta.items():
            total[column] += value
    line_rows = [
        {"grant_id": g, "donation_id": d, "designation": s, **delta}
        for (g, d, s), delta in lines.items()
    ]
    _add_to(
        connection,
        grant_lines_table,
        line_rows,
        ["grant_id", "donation_id", "designation"],
        GRANT_LINE_COLUMNS,
    )
    grant_rows = [
        {
            "grant_id": grant_id,
            **grants.get(grant_id, dict.fromkeys(GRANT_LINE_COLUMNS, 0)),
            **counts.get(grant_id, {"tranches": 0, "returns": 0}),
        }
        for grant_id in sorted(set(grants) | set(counts))
    ]
    _add_to(
        connection,
        grants_table,
        grant_rows,
        ["grant_id"],
        (*GRANT_LINE_COLUMNS, "tranches", "returns"),
    )


def _count_grant_event(
    event: EventEnvelope,
    lines: dict[tuple[str, str, str], dict[str, int]],
    counts: dict[str, dict[str, int]],
) -> None:
    data = event.data
    if event.event_type == names.GRANT_DISBURSED:
        counts.setdefault(data["grant_id"], {"tranches": 0, "returns": 0})["tranches"] += 1
    elif event.event_type == names.GRANT_FUNDS_RETURNED:
        counts.setdefault(data["grant_id"], {"tranches": 0, "returns": 0})["returns"] += 1
        column = "returned" if data["source"] == "disbursed" else "given_up"
        for item in data["lines"]:
            key = (data["grant_id"], item["donation_id"], item["designation"])
            delta = lines.setdefault(key, dict.fromkeys(GRANT_LINE_COLUMNS, 0))
            delta[column] += int(item["amount_yen"])


# --- set-based writes that add to stored values -------------------------------------------


def _upsert_adding(
    connection: sa.Connection,
    table: sa.Table,
    rows: Iterable[Row],
    keys: Sequence[str],
    adding: Sequence[str],
) -> None:
    """Insert new rows; for existing ones add the ``adding`` columns and keep the rest."""
    rows = list(rows)
    if not rows:
        return
    keep = [column for column in rows[0] if column not in keys and column not in adding]
    upsert(connection, table, rows, keys=keys, increment=adding, keep=keep)


def _add_to(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Row],
    keys: Sequence[str],
    columns: Sequence[str],
) -> None:
    """UPDATE existing rows: each column grows by the row's value (one executemany)."""
    ordered = sorted_by_key(rows, keys)
    if not ordered:
        return
    statement = (
        sa.update(table)
        .where(*(table.c[k] == sa.bindparam(f"key_{k}") for k in keys))
        .values({c: table.c[c] + sa.bindparam(f"add_{c}") for c in columns})
    )
    params = [
        {**{f"key_{k}": row[k] for k in keys}, **{f"add_{c}": row[c] for c in columns}}
        for row in ordered
    ]
    connection.execute(statement, params)
