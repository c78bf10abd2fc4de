"""Actors registered through the real registry, and short flows the fund tests share."""

from __future__ import annotations

from typing import Any

from tests.integration.fund.conftest import World
from tests.integration.registry.scenarios import register_verified


def ota_group(name: str = "多摩川クリーンアップの会", **overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "civic_group",
        "name": name,
        "name_kana": "たまがわくりーんあっぷのかい",
        "fields": ["environment"],
        "area": "田園調布",
    }
    return {**body, **overrides}


def nerima_group(name: str = "石神井みどりの会", **overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "voluntary_group",
        "name": name,
        "name_kana": "しゃくじいみどりのかい",
        "fields": ["environment"],
        "area": "石神井",
    }
    return {**body, **overrides}


async def verified_actor(world: World, ward: str, body: dict[str, Any] | None = None) -> str:
    """Register and verify an actor in the registry; wait until the fund knows it."""
    body = body or (ota_group() if ward == "ota" else nerima_group())
    actor_id = await register_verified(world.registry, ward, body)
    await world.fund.knows(ward, "actor", actor_id)
    return actor_id


async def started_project(world: World, ward: str, lead: str, fields: list[str]) -> str:
    project_id = await world.proposals.start_project(ward, lead, fields)
    await world.fund.knows(ward, "project", project_id)
    return project_id


def general() -> dict[str, Any]:
    return {"kind": "general"}


def field(code: str) -> dict[str, Any]:
    return {"kind": "field", "field": code}


def actor(actor_id: str) -> dict[str, Any]:
    return {"kind": "actor", "actor_id": actor_id}


def project(project_id: str) -> dict[str, Any]:
    return {"kind": "project", "project_id": project_id}


def grant_body(
    recipient: dict[str, Any], purpose_field: str, amount: int, **extra: Any
) -> dict[str, Any]:
    from datetime import date

    body = {
        "recipient": recipient,
        "purpose_field": purpose_field,
        "fiscal_year": 2025,
        "amount_yen": amount,
        "title": "河川敷清掃の用具と保険",
        "awarded_on": date.today().isoformat(),
    }
    return {**body, **extra}
