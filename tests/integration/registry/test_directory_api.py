"""The actor directory over real HTTP: roles, the public/staff split, kana search, lifecycle."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.registry.conftest import LiveRegistry, assert_problem
from tests.integration.registry.scenarios import (
    listed_ids,
    neighbourhood_association,
    npo,
    register,
    register_verified,
)

pytestmark = pytest.mark.redis


async def test_the_built_in_wards_are_onboarded_at_start(registry: LiveRegistry) -> None:
    wards = await registry.eventually(
        lambda: registry.get_json("/v1/wards"), lambda body: len(body) == 2
    )
    assert [(w["ward"], w["name"]["ja"], w["policy_version"]) for w in wards] == [
        ("nerima", "練馬区", 1),
        ("ota", "大田区", 1),
    ]


async def test_an_actor_user_registers_and_staff_verify(registry: LiveRegistry) -> None:
    response = await registry.client.post(
        "/v1/wards/nerima/actors",
        json=neighbourhood_association(),
        headers=registry.auth("nerima", "actor"),
    )
    assert response.status_code == 201
    created = response.json()
    actor_id = created["actor_id"]
    assert response.headers["location"] == f"/v1/wards/nerima/actors/{actor_id}"
    assert response.headers["etag"] == '"1"'
    assert created["status"] == "pending" and created["version"] == 1
    assert created["personal"]["representative"]["name"] == "田中 一郎"

    verify = await registry.client.post(
        f"/v1/wards/nerima/actors/{actor_id}/verify", headers=registry.auth("nerima", "staff")
    )
    assert verify.status_code == 200 and verify.json()["status"] == "active"

    public = await registry.eventually(
        lambda: registry.client.get(f"/v1/wards/nerima/actors/{actor_id}"),
        lambda r: r.status_code == 200,
    )
    assert public.json()["status"] == "active" and public.json()["name"] == "光が丘第一町会"
    assert "personal" not in public.json()
    assert "田中" not in public.text and "example.jp" not in public.text


async def test_the_public_sees_only_verified_groups_and_staff_see_everything(
    registry: LiveRegistry,
) -> None:
    pending = (await register(registry, "nerima", npo()))["actor_id"]
    active = await register_verified(registry, "nerima", neighbourhood_association())
    staff = registry.auth("nerima", "staff")

    await registry.caught_up()
    page = await registry.get_json("/v1/wards/nerima/actors", headers=staff)
    assert page["total"] == 2
    by_id = {item["actor_id"]: item for item in page["items"]}
    assert by_id[pending]["personal"]["representative"]["name"] == "山本 由美"
    assert by_id[active]["status"] == "active"
    assert await listed_ids(registry, "nerima") == [active]
    anonymous = await registry.client.get(f"/v1/wards/nerima/actors/{pending}")
    assert_problem(anonymous, 404)
    own = await registry.client.get(
        f"/v1/wards/nerima/actors/{pending}",
        headers=registry.auth("nerima", "actor", actor_id=pending),
    )
    assert own.status_code == 200 and own.json()["personal"]


async def test_a_single_person_never_shows_in_the_public_directory(registry: LiveRegistry) -> None:
    body = {
        "kind": "resident",
        "name": "佐藤 花子",
        "name_kana": "サトウ ハナコ",
        "fields": ["welfare"],
    }
    actor_id = await register_verified(registry, "nerima", body)
    staff = registry.auth("nerima", "staff")
    item = await registry.eventually(
        lambda: registry.client.get(f"/v1/wards/nerima/actors/{actor_id}", headers=staff),
        lambda r: r.status_code == 200 and r.json()["status"] == "active",
    )
    assert item.json()["name"] is None and item.json()["personal"]["name"] == "佐藤 花子"
    found = await registry.get_json(
        "/v1/wards/nerima/actors", params={"q": "さとう"}, headers=staff
    )
    assert [i["actor_id"] for i in found["items"]] == [actor_id]
    assert await listed_ids(registry, "nerima") == []
    assert_problem(await registry.client.get(f"/v1/wards/nerima/actors/{actor_id}"), 404)


async def test_search_by_kana_field_kind_and_area(any_registry: LiveRegistry) -> None:
    registry = any_registry
    association = await register_verified(registry, "nerima", neighbourhood_association())
    network = await register_verified(registry, "nerima", npo())
    await registry.eventually(lambda: listed_ids(registry, "nerima"), lambda ids: len(ids) == 2)

    async def search(**params: Any) -> list[str]:
        return await listed_ids(registry, "nerima", **params)

    assert await search(q="ネリマ") == [network]  # katakana query, katakana reading
    assert await search(q="ねりま　こそだて") == [network]  # hiragana, full-width space
    assert await search(q="ﾋｶﾘｶﾞｵｶ") == [association]  # half-width katakana
    assert await search(q="防災訓練") == [association]
    assert await search(q="田中") == []  # personal data is not searchable by the public
    assert await search(field="childcare") == [network]
    assert await search(kind="neighbourhood_association") == [association]
    assert await search(area="石神井") == [network]
    assert set(await search(field="safety", kind="npo_corporation")) == set()
    page = await registry.get_json("/v1/wards/nerima/actors", params={"limit": 1})
    assert page["total"] == 2 and len(page["items"]) == 1


async def test_staff_search_personal_names(registry: LiveRegistry) -> None:
    actor_id = (await register(registry, "nerima", neighbourhood_association()))["actor_id"]
    staff = registry.auth("nerima", "staff")

    async def staff_search() -> list[str]:
        page = await registry.get_json(
            "/v1/wards/nerima/actors", params={"q": "たなか"}, headers=staff
        )
        return [item["actor_id"] for item in page["items"]]

    assert await registry.eventually(staff_search, bool) == [actor_id]


async def test_the_lifecycle_and_refused_transitions(any_registry: LiveRegistry) -> None:
    registry = any_registry
    actor_id = await register_verified(registry, "nerima", neighbourhood_association())
    staff = registry.auth("nerima", "staff")
    base = f"/v1/wards/nerima/actors/{actor_id}"

    async def post(action: str, body: dict[str, Any] | None = None) -> Any:
        return await registry.client.post(f"{base}/{action}", json=body, headers=staff)

    before = await registry.event_count()
    assert_problem(await post("verify"), 409)
    assert_problem(await post("reinstate"), 409)
    assert_problem(await post("suspend", {}), 422)  # a suspension gives its reason
    assert await registry.event_count() == before

    suspended = await post("suspend", {"reason": "会費の未納が続いたため"})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert_problem(await post("suspend", {"reason": "again"}), 409)
    reinstated = await post("reinstate", {"reason": "解消"})
    assert reinstated.json()["status"] == "active"
    gone = await post("deregister", {"reason": "解散"})
    assert gone.json()["status"] == "deregistered"
    before = await registry.event_count()
    assert_problem(await post("verify"), 409)
    assert_problem(await post("deregister"), 409)
    patched = await registry.client.patch(base, json={"area": "練馬"}, headers=staff)
    assert_problem(patched, 409)
    assert await registry.event_count() == before


async def test_profile_updates_by_staff_and_by_the_actor_itself(registry: LiveRegistry) -> None:
    actor_id = await register_verified(registry, "nerima", neighbourhood_association())
    base = f"/v1/wards/nerima/actors/{actor_id}"
    member = registry.auth("nerima", "actor", actor_id=actor_id)
    stranger = registry.auth("nerima", "actor", actor_id="someone-else")

    own = await registry.client.patch(
        base, json={"website": "https://hikari.example.jp"}, headers=member
    )
    assert own.status_code == 200 and own.json()["website"] == "https://hikari.example.jp"
    assert own.json()["version"] == 3
    assert_problem(await registry.client.patch(base, json={"area": "x"}, headers=stranger), 403)

    staff = registry.auth("nerima", "staff")
    stale = await registry.client.patch(
        base, json={"area": "田柄"}, headers={**staff, "If-Match": '"2"'}
    )
    assert_problem(stale, 412)
    fresh = await registry.client.patch(
        base, json={"area": "田柄"}, headers={**staff, "If-Match": '"3"'}
    )
    assert fresh.status_code == 200 and fresh.headers["etag"] == '"4"'
    shown = await registry.eventually(
        lambda: registry.client.get(base), lambda r: r.json().get("area") == "田柄"
    )
    assert shown.headers["etag"] == '"4"'


async def test_a_repeated_request_with_the_same_idempotency_key_registers_once(
    registry: LiveRegistry,
) -> None:
    headers = {**registry.auth("nerima", "actor"), "Idempotency-Key": "reg-001"}
    first = await registry.client.post("/v1/wards/nerima/actors", json=npo(), headers=headers)
    count = await registry.event_count()
    again = await registry.client.post("/v1/wards/nerima/actors", json=npo(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["actor_id"] == again.json()["actor_id"]
    assert await registry.event_count() == count
    other = await registry.client.post(
        "/v1/wards/nerima/actors", json=npo(name="別の団体"), headers=headers
    )
    assert_problem(other, 422)


async def test_activities_are_listed_per_ward_and_field(registry: LiveRegistry) -> None:
    actor_id = await register_verified(registry, "nerima", neighbourhood_association())
    member = registry.auth("nerima", "actor", actor_id=actor_id)
    body = {
        "actor_id": actor_id,
        "kind": "event",
        "title": "光が丘 秋の防災訓練",
        "fields": ["safety"],
        "starts_on": "2026-10-04",
        "venue": "光が丘公園",
    }
    response = await registry.client.post("/v1/wards/nerima/activities", json=body, headers=member)
    assert response.status_code == 201, response.text
    activity_id = response.json()["activity_id"]

    async def public(**params: Any) -> list[str]:
        page = await registry.get_json("/v1/wards/nerima/activities", params=params)
        return [item["activity_id"] for item in page["items"]]

    assert await registry.eventually(lambda: public(field="safety"), bool) == [activity_id]
    assert await public(field="childcare") == []
    assert await public(q="ボウサイ") == []  # kana search of a kanji title finds nothing
    assert await public(q="防災") == [activity_id]
    assert await listed_ids(registry, "ota") == []
    shown = await registry.get_json(f"/v1/wards/nerima/activities/{activity_id}")
    assert shown["title"] == "光が丘 秋の防災訓練"

    stranger = registry.auth("nerima", "actor", actor_id="someone-else")
    refused = await registry.client.post("/v1/wards/nerima/activities", json=body, headers=stranger)
    assert_problem(refused, 403)

    await registry.client.post(
        f"/v1/wards/nerima/actors/{actor_id}/suspend",
        json={"reason": "調査中"},
        headers=registry.auth("nerima", "staff"),
    )
    assert await registry.eventually(lambda: public(), lambda ids: ids == []) == []
    suspended = await registry.client.post("/v1/wards/nerima/activities", json=body, headers=member)
    assert_problem(suspended, 409)
