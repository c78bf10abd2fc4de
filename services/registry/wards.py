"""Wards and their policy packs: onboarded once, then changed only by new versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.registry.commands import ChangeWardPolicy, OnboardWard
from services.registry.events import WARD_ONBOARDED, WARD_POLICY_CHANGED
from services.registry.policy import pack_document, pack_hash
from shared.errors import Conflict, InvalidCommand, NotFound
from shared.events import EventEnvelope, NewEvent

FIRST_POLICY_VERSION = 1


@dataclass(frozen=True)
class Ward:
    ward: str
    policy_version: int
    pack_hash: str
    pack: dict[str, Any]


def initial_ward() -> Ward | None:
    return None


def evolve_ward(_state: Ward | None, event: EventEnvelope) -> Ward | None:
    data = event.data
    return Ward(
        ward=event.ward,
        policy_version=int(data["policy_version"]),
        pack_hash=str(data["pack_hash"]),
        pack=data["pack"],
    )


def decide_onboard(state: Ward | None, command: OnboardWard) -> list[NewEvent]:
    pack = command.pack
    if state is not None:
        raise Conflict(f"ward {pack.ward!r} is already onboarded", ward=pack.ward)
    if pack.version != FIRST_POLICY_VERSION:
        raise InvalidCommand(
            f"a ward is onboarded with policy version {FIRST_POLICY_VERSION}, not {pack.version}"
        )
    data = {
        "name": pack.name.model_dump(mode="json"),
        "lg_code": pack.lg_code,
        "policy_version": FIRST_POLICY_VERSION,
        "pack_hash": pack_hash(pack),
        "pack": pack_document(pack),
    }
    return [NewEvent(event_type=WARD_ONBOARDED, data=data)]


def decide_change_policy(state: Ward | None, command: ChangeWardPolicy) -> list[NewEvent]:
    pack = command.pack
    current = existing_ward(state, command.ward)
    if pack.ward != command.ward:
        raise InvalidCommand(f"the pack is for ward {pack.ward!r}, not {command.ward!r}")
    expected = current.policy_version + 1
    if pack.version != expected:
        raise Conflict(
            f"policy version {current.policy_version} is in force; the new pack must be "
            f"version {expected}, not {pack.version}",
            current_version=current.policy_version,
        )
    data = {
        "name": pack.name.model_dump(mode="json"),
        "lg_code": pack.lg_code,
        "policy_version": expected,
        "previous_pack_hash": current.pack_hash,
        "pack_hash": pack_hash(pack),
        "pack": pack_document(pack),
        "reason": command.reason,
    }
    return [NewEvent(event_type=WARD_POLICY_CHANGED, data=data)]


def existing_ward(state: Ward | None, ward: str) -> Ward:
    if state is None:
        raise NotFound(f"ward {ward!r} is not onboarded", ward=ward)
    return state
