"""Request bodies and short flows the API tests share."""

from __future__ import annotations

from typing import Any

from services.registry.corporate_number import with_check_digit
from tests.integration.registry.conftest import LiveRegistry

CORPORATION = with_check_digit("011105009876")


def neighbourhood_association(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "neighbourhood_association",
        "name": "光が丘第一町会",
        "name_kana": "ひかりがおかだいいちちょうかい",
        "fields": ["safety", "community_development"],
        "area": "光が丘",
        "description": "防災訓練と高齢者の見守りをしています。",
        "personal": {
            "representative": {"name": "田中 一郎", "name_kana": "タナカ イチロウ"},
            "contact": {"email": "tanaka@example.jp", "phone": "03-1234-5678"},
        },
    }
    return {**body, **overrides}


def npo(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "npo_corporation",
        "name": "NPO法人 ねりま子育てネットワーク",
        "name_kana": "ネリマコソダテネットワーク",
        "fields": ["childcare", "youth"],
        "area": "石神井",
        "corporate_number": CORPORATION,
        "personal": {"representative": {"name": "山本 由美"}},
    }
    return {**body, **overrides}


def ota_company(**overrides: Any) -> dict[str, Any]:
    body = {
        "kind": "business",
        "name": "株式会社 大田ものづくり",
        "name_kana": "オオタモノヅクリ",
        "fields": ["science_technology", "children"],
        "area": "下丸子",
        "corporate_number": CORPORATION,
    }
    return {**body, **overrides}


async def register(live: LiveRegistry, ward: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await live.client.post(
        f"/v1/wards/{ward}/actors", json=body, headers=live.auth(ward, "actor")
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def register_verified(live: LiveRegistry, ward: str, body: dict[str, Any]) -> str:
    actor_id = str((await register(live, ward, body))["actor_id"])
    response = await live.client.post(
        f"/v1/wards/{ward}/actors/{actor_id}/verify", headers=live.auth(ward, "staff")
    )
    assert response.status_code == 200, response.text
    return actor_id


async def listed_ids(live: LiveRegistry, ward: str, **params: Any) -> list[str]:
    page = await live.get_json(f"/v1/wards/{ward}/actors", params=params)
    return [item["actor_id"] for item in page["items"]]
