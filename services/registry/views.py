"""What the HTTP API answers: public views, and the fuller views the ward's staff get.

Optional fields that are left unset are not sent (routes use ``response_model_exclude_unset``),
so a public answer carries no ``personal`` key at all.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field

from services.registry.domain import Actor
from services.registry.wards import Ward


class WardName(BaseModel):
    ja: str
    en: str


class WardSummary(BaseModel):
    ward: str
    name: WardName
    lg_code: str
    policy_version: int
    pack_hash: str


class WardPolicy(WardSummary):
    pack: dict[str, Any]
    policy_changed_at: datetime | None = None


class ActorView(BaseModel):
    actor_id: str
    ward: str
    kind: str
    status: str
    name: str | None = Field(description="Null for a single person: their name is personal data.")
    name_kana: str | None
    fields: list[str]
    area: str | None
    description: str | None
    website: str | None
    corporate_number: str | None
    version: int
    verified_at: datetime | None = None
    individual: bool | None = Field(default=None, description="Staff and the actor only.")
    personal: dict[str, Any] | None = Field(default=None, description="Staff and the actor only.")
    registered_at: datetime | None = None
    updated_at: datetime | None = None
    policy_version: int | None = None


class ActorPage(BaseModel):
    items: list[ActorView]
    total: int
    limit: int
    offset: int


class ActivityView(BaseModel):
    activity_id: str
    ward: str
    actor_id: str
    kind: str
    title: str
    description: str | None
    fields: list[str]
    starts_on: date
    ends_on: date | None
    venue: str | None
    url: str | None
    announced_at: datetime | None = None


class ActivityPage(BaseModel):
    items: list[ActivityView]
    total: int
    limit: int
    offset: int


PUBLIC_ACTOR_COLUMNS = (
    "actor_id",
    "ward",
    "kind",
    "status",
    "name",
    "name_kana",
    "fields",
    "area",
    "description",
    "website",
    "corporate_number",
    "version",
    "verified_at",
)
FULL_ACTOR_COLUMNS = (
    *PUBLIC_ACTOR_COLUMNS,
    "individual",
    "personal",
    "registered_at",
    "updated_at",
    "policy_version",
)


def actor_from_row(row: dict[str, Any], *, full: bool) -> ActorView:
    columns = FULL_ACTOR_COLUMNS if full else PUBLIC_ACTOR_COLUMNS
    return ActorView(**{column: row[column] for column in columns})


def actor_from_state(actor: Actor, version: int) -> ActorView:
    """The aggregate as a write left it (the writer is staff or the actor itself)."""
    profile = actor.profile
    return ActorView(
        actor_id=actor.actor_id,
        ward=actor.ward,
        kind=actor.kind,
        status=actor.status.value,
        name=profile.name,
        name_kana=profile.name_kana,
        fields=list(profile.fields),
        area=profile.area,
        description=profile.description,
        website=profile.website,
        corporate_number=actor.corporate_number,
        version=version,
        individual=actor.individual,
        personal=dict(actor.personal),
    )


def ward_summary_from_row(row: dict[str, Any]) -> WardSummary:
    return WardSummary(
        ward=row["ward"],
        name=WardName(ja=row["name_ja"], en=row["name_en"]),
        lg_code=row["lg_code"],
        policy_version=row["policy_version"],
        pack_hash=row["pack_hash"],
    )


def ward_policy_from_row(row: dict[str, Any]) -> WardPolicy:
    summary = ward_summary_from_row(row)
    return WardPolicy(
        **summary.model_dump(), pack=row["pack"], policy_changed_at=row["policy_changed_at"]
    )


def ward_policy_from_state(ward: Ward) -> WardPolicy:
    name = ward.pack["name"]
    return WardPolicy(
        ward=ward.ward,
        name=WardName(ja=name["ja"], en=name["en"]),
        lg_code=ward.pack["lg_code"],
        policy_version=ward.policy_version,
        pack_hash=ward.pack_hash,
        pack=ward.pack,
    )


def activity_from_row(row: dict[str, Any]) -> ActivityView:
    return ActivityView(**{k: row[k] for k in ActivityView.model_fields})


def activity_from_event(data: dict[str, Any], ward: str) -> ActivityView:
    return ActivityView(
        ward=ward,
        **{k: data.get(k) for k in ActivityView.model_fields if k not in ("ward", "announced_at")},
    )
