"""Onboarding wards and changing their policy packs over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from shared.eventstore.store import EventStore
from shared.policy import load_builtin_pack, pack_hash
from tests.integration.registry.conftest import LiveRegistry, assert_problem
from tests.integration.registry.scenarios import register

pytestmark = pytest.mark.redis


def setagaya_pack() -> dict[str, Any]:
    document: dict[str, Any] = load_builtin_pack("nerima").model_dump(mode="json")
    document.update(
        ward="setagaya", lg_code="131121", name={"ja": "世田谷区", "en": "Setagaya City"}
    )
    return document


def nerima_pack(version: int) -> dict[str, Any]:
    document: dict[str, Any] = load_builtin_pack("nerima").model_dump(mode="json")
    document["version"] = version
    document["fields"] = [
        *document["fields"],
        {
            "code": "digital",
            "ja": "デジタル活用",
            "en": "Digital inclusion",
            "source": None,
        },
    ]
    document["defaults"] = [*document["defaults"], "fields.digital"]
    return document


async def test_a_platform_admin_onboards_a_ward(registry: LiveRegistry) -> None:
    admin = registry.auth("*", "platform_admin")
    response = await registry.client.post(
        "/v1/wards", json={"pack": setagaya_pack()}, headers=admin
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/wards/setagaya/policy"
    body = response.json()
    assert body["ward"] == "setagaya" and body["policy_version"] == 1
    policy = await registry.eventually(
        lambda: registry.client.get("/v1/wards/setagaya/policy"), lambda r: r.status_code == 200
    )
    assert policy.json()["pack_hash"] == body["pack_hash"]
    assert policy.json()["pack"]["name"]["ja"] == "世田谷区"
    actor = await register(
        registry,
        "setagaya",
        {
            "kind": "voluntary_group",
            "name": "三軒茶屋 見守り隊",
            "name_kana": "サンゲンジャヤ ミマモリタイ",
            "fields": ["welfare"],
        },
    )
    assert actor["ward"] == "setagaya"


async def test_onboarding_is_refused_without_change(registry: LiveRegistry) -> None:
    before = await registry.event_count()
    body = {"pack": setagaya_pack()}
    anonymous = await registry.client.post("/v1/wards", json=body)
    assert_problem(anonymous, 401)
    ward_admin = registry.auth("nerima", "ward_admin")
    assert_problem(await registry.client.post("/v1/wards", json=body, headers=ward_admin), 403)
    admin = registry.auth("*", "platform_admin")
    nerima = {"pack": load_builtin_pack("nerima").model_dump(mode="json")}
    assert_problem(await registry.client.post("/v1/wards", json=nerima, headers=admin), 409)
    broken = setagaya_pack()
    broken["lg_code"] = "131122"  # wrong check digit
    assert_problem(
        await registry.client.post("/v1/wards", json={"pack": broken}, headers=admin), 422
    )
    assert await registry.event_count() == before


async def test_a_ward_admin_changes_the_policy_to_a_new_version(registry: LiveRegistry) -> None:
    admin = registry.auth("nerima", "ward_admin")
    change = {"pack": nerima_pack(2), "reason": "デジタル活用の分野を追加"}
    response = await registry.client.put("/v1/wards/nerima/policy", json=change, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["policy_version"] == 2 and response.headers["etag"] == '"2"'
    policy = await registry.eventually(
        lambda: registry.get_json("/v1/wards/nerima/policy"), lambda p: p["policy_version"] == 2
    )
    assert "digital" in [f["code"] for f in policy["pack"]["fields"]]

    # The new field is usable at once, and the registration records the policy it was decided under.
    actor = await register(
        registry,
        "nerima",
        {
            "kind": "voluntary_group",
            "name": "スマホ相談室",
            "name_kana": "スマホソウダンシツ",
            "fields": ["digital"],
        },
    )
    store: EventStore = registry.ctx.store
    (registered,) = await store.read_stream(f"actor-{actor['actor_id']}")
    assert registered.policy_version == 2
    (onboarded, changed) = await store.read_stream("ward-nerima")
    assert (onboarded.policy_version, changed.policy_version) == (1, 1)
    assert changed.data["policy_version"] == 2
    assert changed.data["previous_pack_hash"] == pack_hash(load_builtin_pack("nerima"))


async def test_a_policy_change_is_refused_without_change(registry: LiveRegistry) -> None:
    before = await registry.event_count()
    change = {"pack": nerima_pack(2)}
    url = "/v1/wards/nerima/policy"
    assert_problem(
        await registry.client.put(url, json=change, headers=registry.auth("nerima", "staff")), 403
    )
    ota_admin = registry.auth("ota", "ward_admin")
    assert_problem(await registry.client.put(url, json=change, headers=ota_admin), 403)
    platform = registry.auth("*", "platform_admin")
    assert_problem(await registry.client.put(url, json=change, headers=platform), 403)
    admin = registry.auth("nerima", "ward_admin")
    skipped = await registry.client.put(url, json={"pack": nerima_pack(3)}, headers=admin)
    assert_problem(skipped, 409)
    ota_pack = load_builtin_pack("ota").model_dump(mode="json") | {"version": 2}
    assert_problem(await registry.client.put(url, json={"pack": ota_pack}, headers=admin), 422)
    stale = await registry.client.put(url, json=change, headers={**admin, "If-Match": '"7"'})
    assert_problem(stale, 412)
    assert await registry.event_count() == before


async def test_an_unknown_ward_is_not_found(registry: LiveRegistry) -> None:
    assert_problem(await registry.client.get("/v1/wards/atlantis/policy"), 404)
    assert_problem(await registry.client.get("/v1/wards/atlantis/actors"), 404)
    staff = registry.auth("atlantis", "staff")
    response = await registry.client.post("/v1/wards/atlantis/actors/x/verify", headers=staff)
    assert_problem(response, 404)


async def test_the_api_is_documented(registry: LiveRegistry) -> None:
    docs = await registry.client.get("/docs")
    assert docs.status_code == 200
    paths = (await registry.get_json("/openapi.json"))["paths"]
    assert {
        "/v1/wards",
        "/v1/wards/{ward}/policy",
        "/v1/wards/{ward}/actors",
        "/v1/wards/{ward}/actors/{actor_id}",
        "/v1/wards/{ward}/actors/{actor_id}/verify",
        "/v1/wards/{ward}/actors/{actor_id}/suspend",
        "/v1/wards/{ward}/actors/{actor_id}/reinstate",
        "/v1/wards/{ward}/actors/{actor_id}/deregister",
        "/v1/wards/{ward}/activities",
        "/v1/wards/{ward}/activities/{activity_id}",
    } <= set(paths)
