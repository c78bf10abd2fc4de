"""Actors (活動主体): registered, verified by staff, active; suspended, reinstated, deregistered.

Pure: ``evolve_actor`` folds the stream; each ``decide_*`` returns new events or raises
InvalidCommand (bad input), Conflict (a transition the status does not allow) or NotFound.
A single person's name is personal data, so for individual kinds it lives in ``personal``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from services.registry.commands import (
    AnnounceActivity,
    DeregisterActor,
    RegisterActor,
    ReinstateActor,
    SuspendActor,
    UpdateActorProfile,
    VerifyActor,
)
from services.registry.events import (
    ACTIVITY_ANNOUNCED,
    ACTOR_DEREGISTERED,
    ACTOR_PROFILE_UPDATED,
    ACTOR_REGISTERED,
    ACTOR_REINSTATED,
    ACTOR_SUSPENDED,
    ACTOR_VERIFIED,
)
from services.registry.policy import KindRule, RegistryPolicy
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent

PERSON_NAME_KEYS = ("name", "name_kana")


class ActorStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DEREGISTERED = "deregistered"


@dataclass(frozen=True)
class Profile:
    """What the public directory may show. ``name`` is None for a single person."""

    name: str | None
    name_kana: str | None
    fields: tuple[str, ...]
    area: str | None
    description: str | None
    website: str | None


@dataclass(frozen=True)
class Actor:
    actor_id: str
    ward: str
    kind: str
    individual: bool
    corporate_number: str | None
    status: ActorStatus
    profile: Profile
    personal: Mapping[str, Any]
    activity_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_listed(self) -> bool:
        """Shown in the public directory: verified, active, and not a single person."""
        return self.status is ActorStatus.ACTIVE and not self.individual


def initial_actor() -> Actor | None:
    return None


# --- evolve -------------------------------------------------------------------------------


def evolve_actor(state: Actor | None, event: EventEnvelope) -> Actor | None:
    data = event.data
    if event.event_type == ACTOR_REGISTERED:
        return _registered(event.ward, data)
    assert state is not None, f"{event.event_type} before {ACTOR_REGISTERED}"
    status = _STATUS_AFTER.get(event.event_type)
    if status is not None:
        return replace(state, status=status)
    if event.event_type == ACTOR_PROFILE_UPDATED:
        return _profile_updated(state, data)
    if event.event_type == ACTIVITY_ANNOUNCED:
        return replace(state, activity_ids=state.activity_ids | {str(data["activity_id"])})
    return state


_STATUS_AFTER = {
    ACTOR_VERIFIED: ActorStatus.ACTIVE,
    ACTOR_SUSPENDED: ActorStatus.SUSPENDED,
    ACTOR_REINSTATED: ActorStatus.ACTIVE,
    ACTOR_DEREGISTERED: ActorStatus.DEREGISTERED,
}


def _registered(ward: str, data: Mapping[str, Any]) -> Actor:
    return Actor(
        actor_id=str(data["actor_id"]),
        ward=ward,
        kind=str(data["kind"]),
        individual=bool(data["individual"]),
        corporate_number=data.get("corporate_number"),
        status=ActorStatus.PENDING,
        profile=Profile(
            name=data.get("name"),
            name_kana=data.get("name_kana"),
            fields=tuple(data["fields"]),
            area=data.get("area"),
            description=data.get("description"),
            website=data.get("website"),
        ),
        personal=dict(data.get("personal", {})),
    )


def _profile_updated(state: Actor, data: Mapping[str, Any]) -> Actor:
    changes: dict[str, Any] = {
        k: tuple(v) if k == "fields" else v for k, v in data["changes"].items()
    }
    personal = {**state.personal, **data.get("personal", {})}
    return replace(
        state,
        profile=replace(state.profile, **changes),
        personal={k: v for k, v in personal.items() if v is not None},
    )


# --- decide -------------------------------------------------------------------------------


def decide_register(
    state: Actor | None, command: RegisterActor, policy: RegistryPolicy, *, by_staff: bool
) -> list[NewEvent]:
    if state is not None:
        raise Conflict(f"actor {command.actor_id} is already registered")
    kind = _known_kind(policy, command.kind)
    if kind.is_ward and not by_staff:
        raise Forbidden("only ward staff register the ward's own departments")
    _check_fields(policy, command.fields)
    _check_corporate_number(kind, command.corporate_number)
    person_name = {"name": command.name, "name_kana": command.name_kana}
    public_name = {key: None for key in PERSON_NAME_KEYS} if kind.is_individual else person_name
    personal = {**(person_name if kind.is_individual else {}), **command.personal.document()}
    data = {
        "actor_id": command.actor_id,
        "kind": kind.code,
        "individual": kind.is_individual,
        "corporate_number": command.corporate_number,
        **public_name,
        "fields": list(command.fields),
        "area": command.area,
        "description": command.description,
        "website": command.website,
        "personal": personal,
    }
    return [NewEvent(event_type=ACTOR_REGISTERED, data=data)]


def decide_verify(state: Actor | None, command: VerifyActor) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    _require_status(actor, "verified", ActorStatus.PENDING)
    data = {
        "actor_id": actor.actor_id,
        "kind": actor.kind,
        "individual": actor.individual,
        "corporate_number": actor.corporate_number,
        "name": actor.profile.name,
        "fields": list(actor.profile.fields),
        "note": command.note,
    }
    return [NewEvent(event_type=ACTOR_VERIFIED, data=data)]


def decide_update_profile(
    state: Actor | None, command: UpdateActorProfile, policy: RegistryPolicy
) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    if actor.status is ActorStatus.DEREGISTERED:
        raise Conflict(f"actor {actor.actor_id} is deregistered; its profile is closed")
    sent = command.changes.sent()
    if "fields" in sent:
        _check_fields(policy, sent["fields"])
    public, personal = _split_changes(actor, sent)
    public = {k: v for k, v in public.items() if _public_value(actor, k) != v}
    personal = {k: v for k, v in personal.items() if actor.personal.get(k) != v}
    if not public and not personal:
        return []
    data: dict[str, Any] = {"actor_id": actor.actor_id, "changes": public}
    if personal:
        data["personal"] = personal
    return [NewEvent(event_type=ACTOR_PROFILE_UPDATED, data=data)]


def decide_suspend(state: Actor | None, command: SuspendActor) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    _require_status(actor, "suspended", ActorStatus.ACTIVE)
    data = {"actor_id": actor.actor_id, "reason": command.reason}
    return [NewEvent(event_type=ACTOR_SUSPENDED, data=data)]


def decide_reinstate(state: Actor | None, command: ReinstateActor) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    _require_status(actor, "reinstated", ActorStatus.SUSPENDED)
    data = {"actor_id": actor.actor_id, "note": command.note}
    return [NewEvent(event_type=ACTOR_REINSTATED, data=data)]


def decide_deregister(state: Actor | None, command: DeregisterActor) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    _require_status(
        actor, "deregistered", ActorStatus.PENDING, ActorStatus.ACTIVE, ActorStatus.SUSPENDED
    )
    data = {
        "actor_id": actor.actor_id,
        "corporate_number": actor.corporate_number,
        "reason": command.reason,
    }
    return [NewEvent(event_type=ACTOR_DEREGISTERED, data=data)]


def decide_announce(
    state: Actor | None, command: AnnounceActivity, policy: RegistryPolicy
) -> list[NewEvent]:
    actor = existing_actor(state, command.ward, command.actor_id)
    if actor.status is not ActorStatus.ACTIVE:
        raise Conflict(
            f"actor {actor.actor_id} is {actor.status}; only a verified, active actor announces",
            actor_status=str(actor.status),
        )
    if command.activity_id in actor.activity_ids:
        raise Conflict(f"activity {command.activity_id} is already announced")
    _check_fields(policy, command.fields)
    data = command.model_dump(mode="json", exclude={"ward"})
    return [NewEvent(event_type=ACTIVITY_ANNOUNCED, data=data)]


# --- rules --------------------------------------------------------------------------------


def existing_actor(state: Actor | None, ward: str, actor_id: str) -> Actor:
    """The actor, if it is registered in this ward: another ward's actor does not exist here."""
    if state is None or state.ward != ward:
        raise NotFound(f"no actor {actor_id} in ward {ward!r}", ward=ward)
    return state


def _require_status(actor: Actor, becoming: str, *allowed: ActorStatus) -> None:
    if actor.status not in allowed:
        raise Conflict(
            f"actor {actor.actor_id} is {actor.status} and cannot be {becoming}",
            actor_status=str(actor.status),
            allowed_from=[str(s) for s in allowed],
        )


def _known_kind(policy: RegistryPolicy, code: str) -> KindRule:
    kind = policy.kind(code)
    if kind is None:
        raise InvalidCommand(
            f"ward {policy.ward!r} has no actor kind {code!r}", known=sorted(policy.kinds)
        )
    return kind


def _check_fields(policy: RegistryPolicy, codes: Iterable[str]) -> None:
    unknown = sorted(set(codes) - policy.fields)
    if unknown:
        raise InvalidCommand(
            f"ward {policy.ward!r} has no activity field {', '.join(unknown)}",
            known=sorted(policy.fields),
        )


def _check_corporate_number(kind: KindRule, number: str | None) -> None:
    if kind.corporate_number_required and number is None:
        raise InvalidCommand(f"an actor of kind {kind.code!r} gives its 法人番号")
    if kind.is_individual and number is not None:
        raise InvalidCommand("a single person has no 法人番号")


def _split_changes(actor: Actor, sent: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    public: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    for name, value in sent.items():
        if name == "personal":
            document = value.model_dump(mode="json")
            personal.update({k: document[k] for k in ("representative", "contact")})
        elif name in PERSON_NAME_KEYS and actor.individual:
            personal[name] = value
        else:
            public[name] = list(value) if name == "fields" else value
    return public, _without_empty_members(personal)


def _without_empty_members(personal: dict[str, Any]) -> dict[str, Any]:
    return {
        key: {k: v for k, v in value.items() if v is not None} if isinstance(value, dict) else value
        for key, value in personal.items()
    }


def _public_value(actor: Actor, name: str) -> Any:
    value = getattr(actor.profile, name)
    return list(value) if name == "fields" else value
