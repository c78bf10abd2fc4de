"""Read model of the registry: wards, the actor directory (データバンク) and activities.

Each event type has one function; actor rows are read once per batch, changed in memory in
event order and written back with one upsert, so a batch costs one statement per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from itertools import groupby, zip_longest
from typing import Any

import sqlalchemy as sa

from services.registry.domain import PERSON_NAME_KEYS, ActorStatus
from services.registry.events import (
    ACTIVITY_ANNOUNCED,
    ACTOR_DEREGISTERED,
    ACTOR_PROFILE_UPDATED,
    ACTOR_REGISTERED,
    ACTOR_REINSTATED,
    ACTOR_SUSPENDED,
    ACTOR_VERIFIED,
    WARD_ONBOARDED,
    WARD_POLICY_CHANGED,
)
from services.registry.japanese import normalise_for_search
from shared.events import EventEnvelope
from shared.eventstore.schema import UtcDateTime
from shared.projections.runner import DispatchingProjection
from shared.projections.writes import (
    same_value,
    stored_rows,
    update_each,
    update_rows,
    update_where,
    upsert,
)

Row = dict[str, Any]
metadata = sa.MetaData()

wards_table = sa.Table(
    "registry_wards",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("name_ja", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("lg_code", sa.String(6), nullable=False),
    sa.Column("policy_version", sa.Integer, nullable=False),
    sa.Column("pack_hash", sa.String(64), nullable=False),
    sa.Column("pack", sa.JSON, nullable=False),
    sa.Column("onboarded_at", UtcDateTime, nullable=False),
    sa.Column("policy_changed_at", UtcDateTime, nullable=False),
)

actors_table = sa.Table(
    "registry_actors",
    metadata,
    sa.Column("actor_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("individual", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("listed", sa.Boolean, nullable=False),
    sa.Column("name", sa.String(200)),
    sa.Column("name_kana", sa.String(200)),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("fields_key", sa.String(1000), nullable=False),
    sa.Column("area", sa.String(100)),
    sa.Column("area_key", sa.String(100)),
    sa.Column("description", sa.Text),
    sa.Column("website", sa.String(500)),
    sa.Column("corporate_number", sa.String(13), index=True),
    # Personal data of individuals: shown to the ward's staff only, never to the public.
    sa.Column("personal", sa.JSON, nullable=False),
    sa.Column("public_search", sa.Text, nullable=False),
    sa.Column("staff_search", sa.Text, nullable=False),
    sa.Column("sort_key", sa.String(400), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("policy_version", sa.Integer),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Column("verified_at", UtcDateTime),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

activities_table = sa.Table(
    "registry_activities",
    metadata,
    sa.Column("activity_id", sa.String(64), primary_key=True),
    sa.Column("ward", sa.String(40), nullable=False, index=True),
    sa.Column("actor_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("fields_key", sa.String(1000), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date),
    sa.Column("venue", sa.String(200)),
    sa.Column("url", sa.String(500)),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("announced_at", UtcDateTime, nullable=False),
    sa.Column("policy_version", sa.Integer),
)


class RegistryProjection(DispatchingProjection):
    """Consecutive actor events are folded together whatever their types, so an actor's
    history (registered, verified, updated…) costs one read and one write per batch, not per
    event."""

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        for of_actors, run in groupby(batch, key=lambda e: e.event_type in _FOLD_CHANGES):
            if of_actors:
                actor_events(connection, list(run))
            else:
                super().apply(connection, list(run))


projection = RegistryProjection("registry", metadata)


def fields_key(fields: Sequence[str]) -> str:
    """``|a|b|``: a field filter is one LIKE on ``|code|``."""
    return "|" + "|".join(sorted(fields)) + "|"


# --- wards --------------------------------------------------------------------------------


@projection.on(WARD_ONBOARDED)
def ward_onboarded(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = [{**_ward_policy_row(e), "onboarded_at": e.occurred_at} for e in events]
    upsert(connection, wards_table, _last_per_key(rows, "ward"), keys=["ward"])


@projection.on(WARD_POLICY_CHANGED)
def ward_policy_changed(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    rows = [_ward_policy_row(e) for e in events]
    update_where(connection, wards_table, _last_per_key(rows, "ward"), keys=["ward"])


def _ward_policy_row(event: EventEnvelope) -> Row:
    data = event.data
    return {
        "ward": event.ward,
        "name_ja": data["name"]["ja"],
        "name_en": data["name"]["en"],
        "lg_code": data["lg_code"],
        "policy_version": data["policy_version"],
        "pack_hash": data["pack_hash"],
        "pack": data["pack"],
        "policy_changed_at": event.occurred_at,
    }


# --- actors -------------------------------------------------------------------------------
# Events of one actor apply in their order; events of different actors touch different rows, so
# each actor's events of a batch are applied as one history. A history of events that only set
# columns (``_SET_COLUMNS``) is applied by SQL without reading the row; any other history is
# folded in memory over the columns the fold reads (``_FOLD_INPUTS``).


def _verified(event: EventEnvelope) -> Row:
    return {"status": ActorStatus.ACTIVE.value, "verified_at": event.occurred_at}


def _status_becomes(status: ActorStatus) -> Callable[[EventEnvelope], Row]:
    def change(_event: EventEnvelope) -> Row:
        return {"status": status.value}

    return change


def _activity_announced(_event: EventEnvelope) -> Row:
    # An activity moves the actor row's version too, so a later event of that actor is not
    # taken as old.
    return {}


# What an event sets whatever the row holds: only ``status`` and ``verified_at``, as
# ``_set_columns`` writes them.
_SET_COLUMNS: dict[str, Callable[[EventEnvelope], Row]] = {
    ACTOR_VERIFIED: _verified,
    ACTOR_SUSPENDED: _status_becomes(ActorStatus.SUSPENDED),
    ACTOR_REINSTATED: _status_becomes(ActorStatus.ACTIVE),
    ACTOR_DEREGISTERED: _status_becomes(ActorStatus.DEREGISTERED),
    ACTIVITY_ANNOUNCED: _activity_announced,
}


def actor_events(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    """Actor events of any type, in order: at most one read and one write per actor."""
    histories: dict[str, list[EventEnvelope]] = {}
    for event in events:
        histories.setdefault(str(event.data["actor_id"]), []).append(event)
    setting = {a: h for a, h in histories.items() if all(e.event_type in _SET_COLUMNS for e in h)}
    _fold_actor_rows(connection, {a: h for a, h in histories.items() if a not in setting})
    _set_columns(connection, list(setting.values()))
    activities = [_activity_row(e) for e in events if e.event_type == ACTIVITY_ANNOUNCED]
    upsert(
        connection, activities_table, _last_per_key(activities, "activity_id"), keys=["activity_id"]
    )


def _set_columns(connection: sa.Connection, histories: Sequence[Sequence[EventEnvelope]]) -> None:
    """Round n applies the n-th event of each history, to a row older than the event only: an
    actor comes once per statement, and its events apply in their order."""
    for events in zip_longest(*histories):
        rows = [_set_columns_row(e) for e in events if e is not None]
        update_each(
            connection,
            actors_table,
            rows,
            key="actor_id",
            assignments=_SET_COLUMNS_SQL,
            condition="version < :version",
        )


def _set_columns_row(event: EventEnvelope) -> Row:
    change = _SET_COLUMNS[event.event_type](event)
    return {
        "actor_id": str(event.data["actor_id"]),
        "status": change.get("status"),
        "verified_at": change.get("verified_at"),
        **_event_columns(event),
    }


_SET_COLUMNS_SQL = {
    "status": "COALESCE(:status, status)",
    "listed": f"(COALESCE(:status, status) = '{ActorStatus.ACTIVE.value}' AND NOT individual)",
    "verified_at": "COALESCE(:verified_at, verified_at)",
    "version": ":version",
    "policy_version": ":policy_version",
    "updated_at": ":updated_at",
}


def _registered_row(_row: Row, event: EventEnvelope) -> Row:
    data = event.data
    return {
        "actor_id": data["actor_id"],
        "ward": event.ward,
        "kind": data["kind"],
        "individual": data["individual"],
        "status": ActorStatus.PENDING.value,
        "name": data.get("name"),
        "name_kana": data.get("name_kana"),
        "fields": list(data["fields"]),
        "area": data.get("area"),
        "description": data.get("description"),
        "website": data.get("website"),
        "corporate_number": data.get("corporate_number"),
        "personal": dict(data.get("personal", {})),
        "registered_at": event.occurred_at,
        "verified_at": None,
    }


def _profile_updated(row: Row, event: EventEnvelope) -> Row:
    personal = {**row["personal"], **event.data.get("personal", {})}
    return {
        **event.data["changes"],
        "personal": {k: v for k, v in personal.items() if v is not None},
    }


def _activity_row(event: EventEnvelope) -> Row:
    data = event.data
    texts = [data["title"], data.get("description"), data.get("venue")]
    return {
        "activity_id": data["activity_id"],
        "ward": event.ward,
        "actor_id": data["actor_id"],
        "kind": data["kind"],
        "title": data["title"],
        "description": data.get("description"),
        "fields": list(data["fields"]),
        "fields_key": fields_key(data["fields"]),
        "starts_on": _date(data["starts_on"]),
        "ends_on": _date(data.get("ends_on")),
        "venue": data.get("venue"),
        "url": data.get("url"),
        "search_text": _search_text(texts),
        "announced_at": event.occurred_at,
        "policy_version": event.policy_version,
    }


def _fold_actor_rows(
    connection: sa.Connection, histories: Mapping[str, Sequence[EventEnvelope]]
) -> None:
    ids = sorted(histories)
    read = stored_rows(connection, actors_table, "actor_id", ids, columns=_FOLD_INPUTS)
    stored = {row["actor_id"]: row for row in read}
    whole: list[Row] = []
    changed: list[Row] = []
    for actor_id, history in histories.items():
        before = stored.get(actor_id)
        row, assigned, registered = _folded(before, history)
        if registered:
            whole.append(_whole_row(row))
        elif before is not None and (changes := _changed_columns(row, assigned, before)):
            changed.append({"actor_id": actor_id, **changes})
    upsert(connection, actors_table, whole, keys=["actor_id"])
    update_rows(connection, actors_table, changed, key="actor_id")


def _folded(before: Row | None, history: Sequence[EventEnvelope]) -> tuple[Row, Row, bool]:
    """The row after the history (the columns read and those set), the columns set, and
    whether a registration was applied (it sets every column but the derived ones)."""
    row = dict(before) if before is not None else {}
    assigned: Row = {}
    registered = False
    for event in history:
        if not row and event.event_type != ACTOR_REGISTERED:
            continue  # no row yet: there is nothing to change
        if row and event.version <= row["version"]:
            continue  # already in the row (a stream is applied in version order)
        change = {**_FOLD_CHANGES[event.event_type](row, event), **_event_columns(event)}
        row.update(change)
        assigned.update(change)
        registered = registered or event.event_type == ACTOR_REGISTERED
    return row, assigned, registered


def _event_columns(event: EventEnvelope) -> Row:
    return {
        "version": event.version,
        "policy_version": event.policy_version,
        "updated_at": event.occurred_at,
    }


def _whole_row(row: Row) -> Row:
    derived = {
        "listed": _listed(row),
        "fields_key": fields_key(row["fields"]),
        "area_key": _area_key(row),
    }
    return {**row, **derived, **_search_columns(row)}


def _changed_columns(row: Row, assigned: Row, before: Row) -> Row:
    """The columns set that differ from the stored row (all set columns it was not read for),
    and the derived columns of those."""
    changes = {c: v for c, v in assigned.items() if c not in before or not same_value(v, before[c])}
    if "status" in changes:
        changes["listed"] = _listed(row)
    if "fields" in changes:
        changes["fields_key"] = fields_key(row["fields"])
    if "area" in changes:
        changes["area_key"] = _area_key(row)
    if any(c in changes for c in _SEARCHED_COLUMNS):
        changes.update(_search_columns(row))
    return changes


def _listed(row: Row) -> bool:
    return row["status"] == ActorStatus.ACTIVE.value and not row["individual"]


def _area_key(row: Row) -> str | None:
    return _normalised(row["area"]) if row["area"] else None


_SEARCHED_COLUMNS = ("name", "name_kana", "description", "area", "personal")
# What a fold reads of a stored row: the version, what ``listed`` and the search columns are
# derived from, and what a profile update merges (``personal``).
_FOLD_INPUTS = ("actor_id", "version", "individual", *_SEARCHED_COLUMNS)


def _search_columns(row: Row) -> Row:
    """The search texts and sort key, from ``_SEARCHED_COLUMNS`` alone: a stored row whose
    searched columns are unchanged keeps its own."""
    personal = row["personal"]
    representative = personal.get("representative") or {}
    public = _normalised_texts([row["name"], row["name_kana"], row["description"], row["area"]])
    people = [personal.get(key) for key in PERSON_NAME_KEYS]
    people += [representative.get(key) for key in PERSON_NAME_KEYS]
    sort_name = row["name_kana"] or personal.get("name_kana") or row["name"] or ""
    return {
        "public_search": "\n".join(public),
        "staff_search": "\n".join(public + _normalised_texts(people)),
        "sort_key": _normalised(sort_name),
    }


def _normalised_texts(texts: Sequence[str | None]) -> list[str]:
    return [_normalised(t) for t in texts if t]


def _search_text(texts: Sequence[str | None]) -> str:
    return "\n".join(_normalised_texts(texts))


# An actor's texts are normalised again on each of its events, and areas, descriptions and
# names recur across actors: a bounded cache makes most of them a lookup.
_normalised = lru_cache(maxsize=1 << 12)(normalise_for_search)


def _last_per_key(rows: Sequence[Row], key: str) -> list[Row]:
    latest: dict[Any, Row] = {}
    for row in rows:
        latest[row[key]] = row
    return list(latest.values())


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _whatever_the_row(
    set_columns: Callable[[EventEnvelope], Row],
) -> Callable[[Row, EventEnvelope], Row]:
    def change(_row: Row, event: EventEnvelope) -> Row:
        return set_columns(event)

    return change


_FOLD_CHANGES: dict[str, Callable[[Row, EventEnvelope], Row]] = {
    ACTOR_REGISTERED: _registered_row,
    ACTOR_PROFILE_UPDATED: _profile_updated,
    **{t: _whatever_the_row(set_columns) for t, set_columns in _SET_COLUMNS.items()},
}
for _event_type in _FOLD_CHANGES:
    projection.on(_event_type)(actor_events)
