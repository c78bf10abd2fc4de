"""The actor directory's read model against a plain model of its rules, on both backends.

Random histories of a few actors, delivered with events repeated and out of order, mixed
across actors and cut into random batches: the tables hold what applying each event on its own
to a full row gives (an event not newer than the row is skipped, one before the registration
changes nothing).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.registry.events import (
    ACTIVITY_ANNOUNCED,
    ACTOR_DEREGISTERED,
    ACTOR_PROFILE_UPDATED,
    ACTOR_REGISTERED,
    ACTOR_REINSTATED,
    ACTOR_SUSPENDED,
    ACTOR_VERIFIED,
)
from services.registry.japanese import normalise_for_search
from services.registry.projections import activities_table, actors_table, projection
from shared.db import Database
from shared.events import EventActor, EventEnvelope
from shared.projections.runner import ProjectionRunner

Row = dict[str, Any]
START = datetime(2026, 4, 1, tzinfo=UTC)
STATUS_AFTER = {
    ACTOR_VERIFIED: "active",
    ACTOR_SUSPENDED: "suspended",
    ACTOR_REINSTATED: "active",
    ACTOR_DEREGISTERED: "deregistered",
}
names = st.sampled_from(["ヒカリ会", "ひかり会", "練馬 子ども食堂", None])
areas = st.sampled_from(["光が丘", "早宮", "石神井", None])
fields = st.lists(st.sampled_from(["safety", "childcare", "environment"]), unique=True)
person = st.fixed_dictionaries(
    {"name": st.sampled_from(["田中 一郎", "鈴木 花子"])},
    optional={"name_kana": st.sampled_from(["タナカ イチロウ", "スズキ ハナコ"])},
)


@st.composite
def registered(draw: st.DrawFn, actor_id: str) -> tuple[str, Row]:
    individual = draw(st.booleans())
    personal: Row = {"name": "山田 太郎", "name_kana": "ヤマダ タロウ"} if individual else {}
    if draw(st.booleans()):
        personal["representative"] = draw(person)
    return ACTOR_REGISTERED, {
        "actor_id": actor_id,
        "kind": "individual" if individual else "npo_corporation",
        "individual": individual,
        "corporate_number": None,
        "name": None if individual else draw(names),
        "name_kana": draw(st.sampled_from(["ネリマ", "ヒカリカイ", None])),
        "fields": draw(fields),
        "area": draw(areas),
        "description": draw(st.sampled_from(["子育て支援", "防災\n訓練", None])),
        "website": None,
        "personal": personal,
    }


@st.composite
def profile_updated(draw: st.DrawFn, actor_id: str) -> tuple[str, Row]:
    changes = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "name": names,
                "name_kana": st.sampled_from(["ネリマ", "サクラ", None]),
                "area": areas,
                "description": st.sampled_from(["子育て支援", "見守り", None]),
                "website": st.sampled_from(["https://example.jp", None]),
                "fields": fields,
            },
        )
    )
    data: Row = {"actor_id": actor_id, "changes": changes}
    personal = draw(
        st.dictionaries(st.sampled_from(["representative", "contact"]), person | st.none())
    )
    if personal:
        data["personal"] = personal
    return ACTOR_PROFILE_UPDATED, data


@st.composite
def later_event(draw: st.DrawFn, actor_id: str) -> tuple[str, Row]:
    kind = draw(st.sampled_from([*STATUS_AFTER, ACTOR_PROFILE_UPDATED, ACTIVITY_ANNOUNCED]))
    if kind == ACTOR_PROFILE_UPDATED:
        return draw(profile_updated(actor_id))
    if kind == ACTIVITY_ANNOUNCED:
        return kind, {
            "activity_id": str(uuid.uuid4()),
            "actor_id": actor_id,
            "kind": "event",
            "title": draw(st.sampled_from(["防災訓練", "子ども食堂"])),
            "description": draw(st.sampled_from(["地域の催しです。", None])),
            "fields": draw(fields),
            "starts_on": "2026-05-10",
            "ends_on": draw(st.sampled_from(["2026-05-11", None])),
            "venue": draw(st.sampled_from(["光が丘公園", None])),
            "url": None,
        }
    return kind, {"actor_id": actor_id}


@st.composite
def history(draw: st.DrawFn, actor_id: str) -> list[EventEnvelope]:
    """One actor's events in version order, then delivered with repeats and swaps."""
    events = [draw(registered(actor_id)), *draw(st.lists(later_event(actor_id), max_size=7))]
    policy_versions = st.sampled_from([1, 2, None])
    versions = list(range(1, len(events) + 1))
    repeats = draw(st.lists(st.sampled_from(versions), max_size=3))
    delivered = sorted(versions + repeats)
    for i in (
        draw(st.lists(st.integers(0, len(delivered) - 2), max_size=3)) if delivered[1:] else []
    ):
        delivered[i], delivered[i + 1] = delivered[i + 1], delivered[i]
    return [envelope(actor_id, v, *events[v - 1], draw(policy_versions)) for v in delivered]


def envelope(
    actor_id: str, version: int, event_type: str, data: Row, policy_version: int | None
) -> EventEnvelope:
    moment = START + timedelta(minutes=version, microseconds=len(actor_id))
    return EventEnvelope(
        event_id=uuid.uuid4(),
        event_type=event_type,
        schema_version=1,
        ward="nerima",
        stream_id=f"actor-{actor_id}",
        version=version,
        position=version,
        occurred_at=moment,
        recorded_at=moment,
        actor=EventActor(subject="staff@nerima", role="staff"),
        correlation_id="c",
        policy_version=policy_version,
        data=data,
    )


@st.composite
def deliveries(draw: st.DrawFn) -> list[list[EventEnvelope]]:
    """Histories of a few actors mixed (each in its delivered order), cut into batches."""
    actors = [f"actor-{n}" for n in range(draw(st.integers(1, 3)))]
    pending = [draw(history(a)) for a in actors]
    mixed: list[EventEnvelope] = []
    while any(pending):
        events = draw(st.sampled_from([p for p in pending if p]))
        mixed.append(events.pop(0))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(mixed) - 1)), max_size=4)))
    bounds = [0, *(c for c in cuts if c < len(mixed)), len(mixed)]
    return [mixed[a:b] for a, b in pairwise(bounds)]


# --- the model ----------------------------------------------------------------------------


def modelled(events: Sequence[EventEnvelope]) -> tuple[list[Row], list[Row]]:
    """Actor and activity rows after applying each event on its own, in order."""
    actors: dict[str, Row] = {}
    activities: dict[str, Row] = {}
    for event in events:
        actor_id = event.data["actor_id"]
        if event.event_type == ACTIVITY_ANNOUNCED:
            activities[event.data["activity_id"]] = activity(event)
        row = actors.get(actor_id)
        if row is None and event.event_type != ACTOR_REGISTERED:
            continue
        if row is not None and event.version <= row["version"]:
            continue
        actors[actor_id] = with_derived(changed(row, event), event)
    return [actors[a] for a in sorted(actors)], [activities[a] for a in sorted(activities)]


def changed(row: Row | None, event: EventEnvelope) -> Row:
    data = event.data
    if event.event_type == ACTOR_REGISTERED:
        return {
            **{k: v for k, v in data.items() if k != "personal"},
            "ward": event.ward,
            "status": "pending",
            "personal": dict(data["personal"]),
            "registered_at": event.occurred_at,
            "verified_at": None,
        }
    assert row is not None
    if event.event_type == ACTOR_PROFILE_UPDATED:
        personal = {**row["personal"], **data.get("personal", {})}
        personal = {k: v for k, v in personal.items() if v is not None}
        return {**row, **data["changes"], "personal": personal}
    if event.event_type == ACTOR_VERIFIED:
        return {**row, "status": "active", "verified_at": event.occurred_at}
    return {**row, "status": STATUS_AFTER.get(event.event_type, row["status"])}


def with_derived(row: Row, event: EventEnvelope) -> Row:
    personal = row["personal"]
    representative = personal.get("representative", {})
    public = [row["name"], row["name_kana"], row["description"], row["area"]]
    people = [personal.get("name"), personal.get("name_kana")]
    people += [representative.get("name"), representative.get("name_kana")]
    sort_name = row["name_kana"] or personal.get("name_kana") or row["name"] or ""
    return {
        **row,
        "listed": row["status"] == "active" and not row["individual"],
        "fields_key": "|" + "|".join(sorted(row["fields"])) + "|",
        "area_key": normalise_for_search(row["area"]) if row["area"] else None,
        "public_search": search_text(public),
        "staff_search": search_text(public + people),
        "sort_key": normalise_for_search(sort_name),
        "version": event.version,
        "policy_version": event.policy_version,
        "updated_at": event.occurred_at,
    }


def activity(event: EventEnvelope) -> Row:
    data = event.data
    return {
        **{k: v for k, v in data.items() if k not in ("starts_on", "ends_on")},
        "ward": event.ward,
        "fields_key": "|" + "|".join(sorted(data["fields"])) + "|",
        "starts_on": date.fromisoformat(data["starts_on"]),
        "ends_on": date.fromisoformat(data["ends_on"]) if data["ends_on"] else None,
        "search_text": search_text([data["title"], data["description"], data["venue"]]),
        "announced_at": event.occurred_at,
        "policy_version": event.policy_version,
    }


def search_text(texts: Sequence[str | None]) -> str:
    return "\n".join(normalise_for_search(t) for t in texts if t)


# --- the test -----------------------------------------------------------------------------


async def table_rows(database: Database, table: sa.Table, key: sa.Column[Any]) -> list[Row]:
    query = sa.select(table).order_by(key)
    return await database.read(lambda c: [dict(r) for r in c.execute(query).mappings()])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=deliveries())
async def test_batches_give_the_rows_of_one_event_at_a_time(
    database: Database, batches: list[list[EventEnvelope]]
) -> None:
    runner = ProjectionRunner(database, projection)
    await runner.create_tables()
    await database.write(
        lambda c: [c.execute(sa.delete(t)) for t in projection.metadata.sorted_tables]
    )
    for batch in batches:
        await runner.apply(batch)
    actors, activities = modelled([e for batch in batches for e in batch])
    assert await table_rows(database, actors_table, actors_table.c.actor_id) == actors
    stored = await table_rows(database, activities_table, activities_table.c.activity_id)
    assert stored == activities
