"""Read models of the proposals service, and what it keeps of the registry's events.

Its own aggregates are projected through the domain's own ``evolve``: a row holds the state as a
JSON document plus the columns queries filter on, so a read model cannot drift from the write
side. Each table is read once per batch (rows of the batch's keys), folded in memory in event
order, and written back with one upsert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

from services.proposals.agreement import Project, evolve_project
from services.proposals.calls import Call, evolve_call
from services.proposals.events import CALL_OPENED, PROJECT_EVENTS, PROPOSAL_EVENTS
from services.proposals.proposal import Proposal, evolve_proposal
from shared.events import EventEnvelope
from shared.eventstore.schema import UtcDateTime
from shared.projections.writes import upsert

S = TypeVar("S")
Row = dict[str, Any]
metadata = sa.MetaData()

# What the registry tells every service (its event names are its public contract).
WARD_ONBOARDED = "registry.WardOnboarded"
WARD_POLICY_CHANGED = "registry.WardPolicyChanged"
ACTOR_REGISTERED = "registry.ActorRegistered"
ACTOR_VERIFIED = "registry.ActorVerified"
ACTOR_PROFILE_UPDATED = "registry.ActorProfileUpdated"
ACTOR_SUSPENDED = "registry.ActorSuspended"
ACTOR_REINSTATED = "registry.ActorReinstated"
ACTOR_DEREGISTERED = "registry.ActorDeregistered"


def _common_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
    ]


wards_table = sa.Table(
    "proposals_wards",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("name_ja", sa.String(200), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("pack_hash", sa.String(64), nullable=False),
    sa.Column("pack", sa.JSON, nullable=False),
    *_common_columns(),
)

actors_table = sa.Table(
    "proposals_actors",
    metadata,
    sa.Column("actor_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("status", sa.String(20), nullable=False),
    *_common_columns(),
)

calls_table = sa.Table(
    "proposals_calls",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("opens_on", sa.Date, nullable=False),
    sa.Column("closes_on", sa.Date, nullable=False),
    sa.Column("document", sa.JSON, nullable=False),
    *_common_columns(),
)

proposals_table = sa.Table(
    "proposals_proposals",
    metadata,
    sa.Column("proposal_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("lead_actor_id", sa.String(64), nullable=False),
    # "|lead|partner|…|": the proposers, for "a member sees its own proposals" in one LIKE.
    sa.Column("actors_key", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("public", sa.Boolean, nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("fields_key", sa.String(1000), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),
    sa.Column("eligible", sa.Boolean),
    sa.Column("counted_reviews", sa.Integer, nullable=False),
    sa.Column("weighted_score_sum", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(20)),
    sa.Column("submitted_at", UtcDateTime),
    sa.Column("document", sa.JSON, nullable=False),
    *_common_columns(),
)

projects_table = sa.Table(
    "proposals_projects",
    metadata,
    sa.Column("project_id", sa.String(64), primary_key=True),
    sa.Column("proposal_id", sa.String(64), nullable=False, unique=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("form", sa.String(64), nullable=False),
    sa.Column("domain", sa.String(8), nullable=False),
    sa.Column("department", sa.String(200), nullable=False),
    sa.Column("actors_key", sa.String(1000), nullable=False),
    sa.Column("fields_key", sa.String(1000), nullable=False),
    sa.Column("started_at", UtcDateTime),
    sa.Column("document", sa.JSON, nullable=False),
    *_common_columns(),
)


def codes_key(codes: Sequence[str]) -> str:
    """``|a|b|``: a filter on one code is one LIKE on ``|code|``."""
    return "|" + "|".join(codes) + "|"


@dataclass(frozen=True)
class StreamTable(Generic[S]):
    """One row per stream: each event folds the row's state; older versions are skipped."""

    table: sa.Table
    key: str
    event_types: frozenset[str]
    key_of: Callable[[EventEnvelope], str]
    evolve: Callable[[S | None, EventEnvelope], S | None]
    load: Callable[[Row], S]
    columns: Callable[[S], Row]

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        events = [e for e in batch if e.event_type in self.event_types]
        if not events:
            return
        ids = sorted({self.key_of(e) for e in events})
        column = self.table.c[self.key]
        query = sa.select(self.table).where(column.in_(ids))
        stored = {row[self.key]: dict(row) for row in connection.execute(query).mappings()}
        states: dict[str, tuple[S | None, int]] = {
            key: (self.load(row), row["version"]) for key, row in stored.items()
        }
        changed: dict[str, Row] = {}
        for event in events:
            key = self.key_of(event)
            state, version = states.get(key, (None, 0))
            if event.version <= version:
                continue  # already applied (a stream is applied in version order)
            state = self.evolve(state, event)
            states[key] = (state, event.version)
            if state is not None:
                changed[key] = {
                    **self.columns(state),
                    self.key: key,
                    "version": event.version,
                    "updated_at": event.occurred_at,
                }
        upsert(connection, self.table, list(changed.values()), keys=[self.key])


class ProposalsProjection:
    """Every read model of the service, fed by one consumer group (registry + own events)."""

    def __init__(self, name: str, tables: Sequence[StreamTable[Any]]) -> None:
        self.name = name
        self.metadata = metadata
        self.tables = list(tables)
        self._types = frozenset().union(*(t.event_types for t in self.tables))

    def handles(self, event_type: str) -> bool:
        return event_type in self._types

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        for table in self.tables:
            table.apply(connection, batch)


# --- what the registry tells ---------------------------------------------------------------


def _ward_row(_row: Row | None, event: EventEnvelope) -> Row:
    data = event.data
    return {
        "ward": event.ward,
        "name_ja": data["name"]["ja"],
        "policy_version": data["policy_version"],
        "pack_hash": data["pack_hash"],
        "pack": data["pack"],
    }


_ACTOR_STATUS_AFTER = {
    ACTOR_VERIFIED: "active",
    ACTOR_SUSPENDED: "suspended",
    ACTOR_REINSTATED: "active",
    ACTOR_DEREGISTERED: "deregistered",
}


def _actor_row(row: Row | None, event: EventEnvelope) -> Row | None:
    data = event.data
    if event.event_type == ACTOR_REGISTERED:
        return {
            "actor_id": data["actor_id"],
            "ward": event.ward,
            "kind": data["kind"],
            "name": data.get("name"),
            "status": "pending",
        }
    if row is None:
        return None  # history before this service's group existed is replayed from the start
    if event.event_type == ACTOR_PROFILE_UPDATED:
        changes = data.get("changes", {})
        return {**row, "name": changes["name"]} if "name" in changes else row
    return {**row, "status": _ACTOR_STATUS_AFTER[event.event_type]}


def _plain(row: Row) -> Row:
    return {k: v for k, v in row.items() if k not in ("version", "updated_at")}


WARDS = StreamTable[Row](
    table=wards_table,
    key="ward",
    event_types=frozenset({WARD_ONBOARDED, WARD_POLICY_CHANGED}),
    key_of=lambda e: e.ward,
    evolve=_ward_row,
    load=_plain,
    columns=_plain,
)

ACTORS = StreamTable[Row](
    table=actors_table,
    key="actor_id",
    event_types=frozenset(
        {
            ACTOR_REGISTERED,
            ACTOR_VERIFIED,
            ACTOR_PROFILE_UPDATED,
            ACTOR_SUSPENDED,
            ACTOR_REINSTATED,
            ACTOR_DEREGISTERED,
        }
    ),
    key_of=lambda e: str(e.data["actor_id"]),
    evolve=_actor_row,
    load=_plain,
    columns=_plain,
)

# --- its own aggregates ---------------------------------------------------------------------


def _call_columns(call: Call) -> Row:
    return {
        "ward": call.ward,
        "kind": call.kind,
        "title": call.title,
        "opens_on": call.opens_on,
        "closes_on": call.closes_on,
        "document": call.model_dump(mode="json"),
    }


def _proposal_columns(proposal: Proposal) -> Row:
    content = proposal.content
    eligibility = proposal.eligibility
    return {
        "ward": proposal.ward,
        "call_id": proposal.call_id,
        "lead_actor_id": proposal.lead_actor_id,
        "actors_key": codes_key(proposal.actor_ids),
        "status": proposal.status,
        "public": proposal.is_public,
        "title": content.title,
        "form": content.form,
        "fields_key": codes_key(content.fields),
        "round": proposal.round,
        "eligible": eligibility.eligible if eligibility else None,
        "counted_reviews": proposal.counted_reviews,
        "weighted_score_sum": proposal.weighted_score_sum,
        "outcome": proposal.decision.outcome if proposal.decision else None,
        "submitted_at": proposal.submitted_at,
        "document": proposal.model_dump(mode="json"),
    }


def _project_columns(project: Project) -> Row:
    return {
        "proposal_id": project.proposal_id,
        "ward": project.ward,
        "call_id": project.call_id,
        "status": project.status,
        "title": project.title,
        "form": project.form,
        "domain": project.domain,
        "department": project.department,
        "actors_key": codes_key(project.actor_ids),
        "fields_key": codes_key(project.fields),
        "started_at": project.started_at,
        "document": project.model_dump(mode="json"),
    }


CALLS = StreamTable[Call](
    table=calls_table,
    key="call_id",
    event_types=frozenset({CALL_OPENED}),
    key_of=lambda e: str(e.data["call_id"]),
    evolve=evolve_call,
    load=lambda row: Call.model_validate(row["document"]),
    columns=_call_columns,
)

PROPOSALS = StreamTable[Proposal](
    table=proposals_table,
    key="proposal_id",
    event_types=frozenset(PROPOSAL_EVENTS),
    key_of=lambda e: str(e.data["proposal_id"]),
    evolve=evolve_proposal,
    load=lambda row: Proposal.model_validate(row["document"]),
    columns=_proposal_columns,
)

PROJECTS = StreamTable[Project](
    table=projects_table,
    key="project_id",
    event_types=frozenset(PROJECT_EVENTS),
    key_of=lambda e: str(e.data["project_id"]),
    evolve=evolve_project,
    load=lambda row: Project.model_validate(row["document"]),
    columns=_project_columns,
)

projection = ProposalsProjection("proposals", [WARDS, ACTORS, CALLS, PROPOSALS, PROJECTS])
