"""Read models of the evaluation, and what it keeps of the registry's, proposals' and fund's events.

Its own rounds and flags are projected through the domain's own ``evolve``: a row holds the state
as a JSON document plus the columns queries filter on, so the read model cannot drift from the
write side. Each table is read once per batch (rows of the batch's keys), folded in memory in
event order, and written back with one upsert.

Each table is its own part: no handler reads or writes the table of another part, so a batch
gives each part its events at once, in their order, however the sources' events interleave.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from services.evaluation.events import (
    AGREEMENT_AMENDED,
    CALL_OPENED,
    FLAG_EVENTS,
    GRANT_AWARDED,
    GRANT_FUNDS_RETURNED,
    PROJECT_ENDED,
    PROJECT_STARTED,
    ROUND_EVENTS,
    WARD_ONBOARDED,
    WARD_POLICY_CHANGED,
)
from services.evaluation.grants import grant_facts
from services.evaluation.inertia import Flag, evolve_flag
from services.evaluation.rounds import Round, evolve_round
from shared.events import EventEnvelope
from shared.eventstore.schema import UtcDateTime
from shared.projections.composite import CompositeProjection
from shared.projections.runner import DispatchingProjection
from shared.projections.writes import update_where, upsert

S = TypeVar("S")
Row = dict[str, Any]
metadata = sa.MetaData()
Money = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

wards_table = sa.Table(
    "evaluation_wards",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("name_ja", sa.String(200), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("pack_hash", sa.String(64), nullable=False),
    sa.Column("pack", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

projects_table = sa.Table(
    "evaluation_projects",
    metadata,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("proposal_id", sa.String(64)),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("domain", sa.String(8), nullable=False),
    sa.Column("lead_actor_id", sa.String(64), nullable=False),
    sa.Column("partner_actor_ids", sa.JSON, nullable=False),
    sa.Column("actors_key", sa.String(1000), nullable=False),
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("term_start", sa.Date, nullable=False),
    sa.Column("term_end", sa.Date, nullable=False),
    sa.Column("ended_on", sa.Date),
    sa.Column("end_reason", sa.Text),
    sa.Column("citizen_proposed", sa.Boolean, nullable=False),
    sa.Column("budget_total_yen", Money),
    sa.Column("requested_yen", Money),
    sa.Column("agreement_version", sa.Integer),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

calls_table = sa.Table(
    "evaluation_calls",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(40)),
    sa.Column("title", sa.String(200)),
    sa.Column("opens_on", sa.Date, nullable=False),
    sa.Column("closes_on", sa.Date),
)

grants_table = sa.Table(
    "evaluation_grants",
    metadata,
    sa.Column("grant_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("recipient_kind", sa.String(20), nullable=False),
    sa.Column("recipient_id", sa.String(64), nullable=False),
    sa.Column("paid_actor_id", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("amount_yen", Money, nullable=False),
    sa.Column("returned_yen", Money, nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False, index=True),
    sa.Column("awarded_at", UtcDateTime, nullable=False),
)

rounds_table = sa.Table(
    "evaluation_rounds",
    metadata,
    sa.Column("round_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("project_id", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("occasion", sa.String(20), nullable=False),
    sa.Column("fiscal_year", sa.Integer, nullable=False),
    sa.Column("actors_key", sa.String(1000), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("concluded_at", UtcDateTime),
    sa.Column("conclusion", sa.String(20)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
)

flags_table = sa.Table(
    "evaluation_inertia_flags",
    metadata,
    sa.Column("flag_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("subject", sa.String(20), nullable=False),
    sa.Column("rule", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("project_id", sa.String(64)),
    sa.Column("actor_id", sa.String(64)),
    sa.Column("department", sa.String(200)),
    sa.Column("flagged_at", UtcDateTime, nullable=False),
    sa.Column("cleared_at", UtcDateTime),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
)

wards_part = DispatchingProjection("evaluation-wards", metadata)
projects_part = DispatchingProjection("evaluation-projects", metadata)
calls_part = DispatchingProjection("evaluation-calls", metadata)
grants_part = DispatchingProjection("evaluation-grants", metadata)
rounds_part = DispatchingProjection("evaluation-rounds", metadata)
flags_part = DispatchingProjection("evaluation-flags", metadata)
projection = CompositeProjection(
    "evaluation",
    [wards_part, projects_part, calls_part, grants_part, rounds_part, flags_part],
)


def codes_key(codes: Sequence[str]) -> str:
    """``|a|b|``: a filter on one code is one LIKE on ``|code|``."""
    return "|" + "|".join(sorted(codes)) + "|"


# --- wards (registry) ---------------------------------------------------------------------


@wards_part.on(WARD_ONBOARDED)
@wards_part.on(WARD_POLICY_CHANGED)
def ward_policy(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = {
        e.ward: {
            "ward": e.ward,
            "name_ja": e.data["name"]["ja"],
            "policy_version": e.data["policy_version"],
            "pack_hash": e.data["pack_hash"],
            "pack": e.data["pack"],
            "updated_at": e.occurred_at,
        }
        for e in events
    }
    upsert(connection, wards_table, list(rows.values()), keys=["ward"])


# --- projects and calls (proposals) -------------------------------------------------------


@projects_part.on(PROJECT_STARTED)
def project_started(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    def started(_row: Row | None, event: EventEnvelope) -> Row:
        return {
            **_project_terms(event),
            "ward": event.ward,
            "ended_on": None,
            "end_reason": None,
            "started_at": event.occurred_at,
        }

    _fold_projects(connection, events, started)


@projects_part.on(AGREEMENT_AMENDED)
def agreement_amended(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    def amended(row: Row | None, event: EventEnvelope) -> Row | None:
        return None if row is None else {**row, **_project_terms(event)}

    _fold_projects(connection, events, amended)


@projects_part.on(PROJECT_ENDED)
def project_ended(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    def ended(row: Row | None, event: EventEnvelope) -> Row | None:
        if row is None:
            return None
        ended_on = date.fromisoformat(event.data["ended_on"])
        return {**row, "ended_on": ended_on, "end_reason": event.data.get("reason")}

    _fold_projects(connection, events, ended)


@calls_part.on(CALL_OPENED)
def call_opened(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = [
        {
            "call_id": e.data["call_id"],
            "ward": e.ward,
            "kind": e.data.get("kind"),
            "title": e.data.get("title"),
            "opens_on": date.fromisoformat(e.data["opens_on"]),
            "closes_on": _date(e.data.get("closes_on")),
        }
        for e in events
    ]
    upsert(connection, calls_table, _last_per_key(rows, "call_id"), keys=["call_id"])


def _project_terms(event: EventEnvelope) -> Row:
    data = event.data
    return {
        "project_id": data["project_id"],
        "proposal_id": data.get("proposal_id"),
        "call_id": data["call_id"],
        "title": data["title"],
        "form": data["form"],
        "domain": data["domain"],
        "lead_actor_id": data["lead_actor_id"],
        "partner_actor_ids": list(data["partner_actor_ids"]),
        "actors_key": codes_key([data["lead_actor_id"], *data["partner_actor_ids"]]),
        "department": data["department"],
        "fields": list(data["fields"]),
        "term_start": date.fromisoformat(data["term_start"]),
        "term_end": date.fromisoformat(data["term_end"]),
        "citizen_proposed": bool(data["citizen_proposed"]),
        "budget_total_yen": data.get("budget_total_yen"),
        "requested_yen": data.get("requested_yen"),
        "agreement_version": data.get("agreement_version"),
        "updated_at": event.occurred_at,
    }


def _fold_projects(
    connection: sa.Connection,
    events: Sequence[EventEnvelope],
    change: Callable[[Row | None, EventEnvelope], Row | None],
) -> None:
    ids = sorted({str(e.data["project_id"]) for e in events})
    query = sa.select(projects_table).where(projects_table.c.project_id.in_(ids))
    rows: dict[str, Row] = {r["project_id"]: dict(r) for r in connection.execute(query).mappings()}
    changed: dict[str, Row] = {}
    for event in events:
        project_id = str(event.data["project_id"])
        row = change(rows.get(project_id), event)
        if row is not None:
            rows[project_id] = changed[project_id] = row
    upsert(connection, projects_table, list(changed.values()), keys=["project_id"])


# --- grants (fund) ------------------------------------------------------------------------


@grants_part.on(GRANT_AWARDED)
def grant_awarded(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = []
    for event in events:
        grant = grant_facts(event.data)
        rows.append(
            {
                "grant_id": grant.grant_id,
                "ward": event.ward,
                "recipient_kind": grant.recipient_kind,
                "recipient_id": grant.recipient_id,
                "paid_actor_id": grant.paid_actor_id,
                "purpose": grant.purpose,
                "amount_yen": grant.amount_yen,
                "returned_yen": 0,
                "fiscal_year": grant.fiscal_year,
                "awarded_at": event.occurred_at,
            }
        )
    upsert(connection, grants_table, _last_per_key(rows, "grant_id"), keys=["grant_id"])


@grants_part.on(GRANT_FUNDS_RETURNED)
def grant_funds_returned(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    ids = sorted({str(e.data["grant_id"]) for e in events})
    query = sa.select(grants_table.c.grant_id, grants_table.c.returned_yen).where(
        grants_table.c.grant_id.in_(ids)
    )
    returned = {row.grant_id: int(row.returned_yen) for row in connection.execute(query)}
    for event in events:
        grant_id = str(event.data["grant_id"])
        if grant_id in returned:
            returned[grant_id] += int(event.data["amount_yen"])
    rows = [{"grant_id": k, "returned_yen": v} for k, v in returned.items()]
    update_where(connection, grants_table, rows, keys=["grant_id"])


# --- rounds and flags (its own) -----------------------------------------------------------


@dataclass(frozen=True)
class StreamTable(Generic[S]):
    """A table whose rows are the states of one kind of the evaluation's own streams."""

    table: sa.Table
    key: str
    key_of: Callable[[EventEnvelope], str]
    evolve: Callable[[S | None, EventEnvelope], S | None]
    load: Callable[[Row], S]
    columns: Callable[[S, EventEnvelope, Row | None], Row]

    def apply(self, connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
        keys = sorted({self.key_of(e) for e in events})
        query = sa.select(self.table).where(self.table.c[self.key].in_(keys))
        rows: dict[str, Row] = {r[self.key]: dict(r) for r in connection.execute(query).mappings()}
        changed: dict[str, Row] = {}
        for event in events:
            key = self.key_of(event)
            row = rows.get(key)
            if row is not None and event.version <= row["version"]:
                continue  # already folded in (a stream is applied in version order)
            state = self.evolve(self.load(row) if row is not None else None, event)
            if state is None:
                continue
            new_row = {self.key: key, **self.columns(state, event, row), "version": event.version}
            rows[key] = changed[key] = new_row
        upsert(connection, self.table, list(changed.values()), keys=[self.key])


def _round_columns(state: Round, event: EventEnvelope, _row: Row | None) -> Row:
    closing = state.closing
    return {
        "ward": state.ward,
        "project_id": state.project.project_id,
        "status": state.status,
        "occasion": state.occasion,
        "fiscal_year": state.fiscal_year,
        "actors_key": codes_key(state.project.actor_ids),
        "opened_at": state.opened_at,
        "concluded_at": closing.concluded_at if closing else None,
        "conclusion": closing.conclusion if closing else None,
        "document": state.model_dump(mode="json"),
    }


def _flag_columns(state: Flag, event: EventEnvelope, row: Row | None) -> Row:
    return {
        "ward": state.ward,
        "subject": state.subject,
        "rule": state.rule,
        "status": state.status,
        "project_id": state.project_id,
        "actor_id": state.actor_id,
        "department": state.department,
        "flagged_at": row["flagged_at"] if row else event.occurred_at,
        "cleared_at": event.occurred_at if state.status == "cleared" else None,
        "document": state.model_dump(mode="json"),
    }


ROUNDS = StreamTable[Round](
    table=rounds_table,
    key="round_id",
    key_of=lambda e: str(e.data["round_id"]),
    evolve=evolve_round,
    load=lambda row: Round.model_validate(row["document"]),
    columns=_round_columns,
)

FLAGS = StreamTable[Flag](
    table=flags_table,
    key="flag_id",
    key_of=lambda e: str(e.data["flag_id"]),
    evolve=evolve_flag,
    load=lambda row: Flag.model_validate(row["document"]),
    columns=_flag_columns,
)

for _event_type in ROUND_EVENTS:
    rounds_part.on(_event_type)(ROUNDS.apply)
for _event_type in FLAG_EVENTS:
    flags_part.on(_event_type)(FLAGS.apply)


# --- helpers ------------------------------------------------------------------------------


def _last_per_key(rows: Sequence[Row], key: str) -> list[Row]:
    latest: dict[Any, Row] = {}
    for row in rows:
        latest[row[key]] = row
    return list(latest.values())


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value
