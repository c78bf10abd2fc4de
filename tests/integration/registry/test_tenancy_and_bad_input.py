"""Ward isolation and bad input: a clear 4xx problem, and not one event appended."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.registry.conftest import LiveRegistry, assert_problem
from tests.integration.registry.scenarios import (
    CORPORATION,
    listed_ids,
    neighbourhood_association,
    npo,
    ota_company,
    register,
    register_verified,
)

pytestmark = pytest.mark.redis


async def test_a_nerima_actor_does_not_exist_in_ota(registry: LiveRegistry) -> None:
    actor_id = await register_verified(registry, "nerima", neighbourhood_association())
    await registry.eventually(lambda: listed_ids(registry, "nerima"), lambda ids: ids == [actor_id])
    assert_problem(await registry.client.get(f"/v1/wards/ota/actors/{actor_id}"), 404)
    ota_staff = registry.auth("ota", "staff")
    before = await registry.event_count()
    for action in ("verify", "reinstate", "deregister"):
        response = await registry.client.post(
            f"/v1/wards/ota/actors/{actor_id}/{action}", headers=ota_staff
        )
        assert_problem(response, 404)
    patched = await registry.client.patch(
        f"/v1/wards/ota/actors/{actor_id}", json={"area": "蒲田"}, headers=ota_staff
    )
    assert_problem(patched, 404)
    assert await listed_ids(registry, "ota") == []
    assert await registry.event_count() == before


OTA_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/wards/ota/policy", None),
    ("PUT", "/v1/wards/ota/policy", {"pack": {}}),
    ("GET", "/v1/wards/ota/actors", None),
    ("POST", "/v1/wards/ota/actors", ota_company()),
    ("GET", "/v1/wards/ota/actors/some-id", None),
    ("PATCH", "/v1/wards/ota/actors/some-id", {"area": "蒲田"}),
    ("POST", "/v1/wards/ota/actors/some-id/verify", None),
    ("POST", "/v1/wards/ota/actors/some-id/suspend", {"reason": "r"}),
    ("POST", "/v1/wards/ota/actors/some-id/reinstate", None),
    ("POST", "/v1/wards/ota/actors/some-id/deregister", None),
    ("POST", "/v1/wards/ota/activities", {"actor_id": "x"}),
    ("GET", "/v1/wards/ota/activities", None),
    ("GET", "/v1/wards/ota/activities/some-id", None),
]


@pytest.mark.parametrize("role", ["staff", "ward_admin", "actor"])
async def test_a_nerima_token_gets_403_on_every_ota_route(
    registry: LiveRegistry, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = registry.auth("nerima", role, actor_id="some-id")
    before = await registry.event_count()
    for method, path, body in OTA_ROUTES:
        response = await registry.client.request(method, path, json=body, headers=headers)
        problem = assert_problem(response, 403)
        assert problem["ward"] == "ota", (method, path)
    assert await registry.event_count() == before
    assert "target_ward=ota" in caplog.text


async def test_one_corporation_registers_in_both_wards_linked_by_its_number(
    any_registry: LiveRegistry,
) -> None:
    registry = any_registry
    nerima = await register_verified(registry, "nerima", npo())
    ota = await register_verified(registry, "ota", ota_company())
    assert nerima != ota
    for ward, actor_id in (("nerima", nerima), ("ota", ota)):
        ids = await registry.eventually(
            lambda w=ward: listed_ids(registry, w, corporate_number=CORPORATION),  # type: ignore[misc]
            bool,
        )
        assert ids == [actor_id]
    before = await registry.event_count()
    again = await registry.client.post(
        "/v1/wards/nerima/actors",
        json=npo(name="別名の同じ法人"),
        headers=registry.auth("nerima", "actor"),
    )
    assert_problem(again, 409)
    assert await registry.event_count() == before


async def test_a_deregistered_corporation_may_register_again(registry: LiveRegistry) -> None:
    first = await register_verified(registry, "nerima", npo())
    staff = registry.auth("nerima", "staff")
    response = await registry.client.post(
        f"/v1/wards/nerima/actors/{first}/deregister", json={"reason": "解散"}, headers=staff
    )
    assert response.status_code == 200
    second = await register(registry, "nerima", npo())
    assert second["actor_id"] != first


BAD_REGISTRATIONS: list[tuple[str, dict[str, Any], int]] = [
    ("unknown kind", neighbourhood_association(kind="guild"), 422),
    ("kind of the other ward", neighbourhood_association(kind="civic_group"), 422),
    ("unknown field", neighbourhood_association(fields=["tourism"]), 422),
    ("invalid 法人番号", npo(corporate_number="1234567890123"), 422),
    ("法人番号 missing", npo(corporate_number=None), 422),
    ("empty name", neighbourhood_association(name=""), 422),
    ("blank name", neighbourhood_association(name="　 "), 422),
    ("oversized name", neighbourhood_association(name="会" * 201), 422),
    ("oversized description", neighbourhood_association(description="あ" * 2001), 422),
    ("reading not in kana", neighbourhood_association(name_kana="Hikarigaoka"), 422),
    ("wrong type", neighbourhood_association(fields="safety"), 422),
    ("unknown property", neighbourhood_association(rank=1), 422),
    ("the ward itself", neighbourhood_association(kind="ward"), 403),
]


@pytest.mark.parametrize(
    ("case", "body", "status"), BAD_REGISTRATIONS, ids=[c[0] for c in BAD_REGISTRATIONS]
)
async def test_bad_registrations_change_nothing(
    registry: LiveRegistry, case: str, body: dict[str, Any], status: int
) -> None:
    before = await registry.event_count()
    response = await registry.client.post(
        "/v1/wards/nerima/actors", json=body, headers=registry.auth("nerima", "actor")
    )
    assert_problem(response, status)
    assert await registry.event_count() == before


async def test_wrong_roles_and_oversized_bodies_change_nothing(registry: LiveRegistry) -> None:
    actor_id = (await register(registry, "nerima", neighbourhood_association()))["actor_id"]
    before = await registry.event_count()
    url = "/v1/wards/nerima/actors"
    assert_problem(await registry.client.post(url, json=npo()), 401)
    reviewer = registry.auth("nerima", "reviewer")
    assert_problem(await registry.client.post(url, json=npo(), headers=reviewer), 403)
    actor = registry.auth("nerima", "actor", actor_id=actor_id)
    assert_problem(await registry.client.post(f"{url}/{actor_id}/verify", headers=actor), 403)
    finance = registry.auth("nerima", "finance")
    assert_problem(
        await registry.client.post(
            f"{url}/{actor_id}/suspend", json={"reason": "r"}, headers=finance
        ),
        403,
    )
    huge = neighbourhood_association(description="あ" * 200_000)
    response = await registry.client.post(url, json=huge, headers=registry.auth("nerima", "actor"))
    assert_problem(response, 413)
    bad_etag = await registry.client.patch(
        f"{url}/{actor_id}",
        json={"area": "x"},
        headers={**registry.auth("nerima", "staff"), "If-Match": "abc"},
    )
    assert_problem(bad_etag, 422)
    assert_problem(await registry.client.patch(f"{url}/{actor_id}", json={}, headers=actor), 422)
    assert await registry.event_count() == before


async def test_concurrent_registrations_of_one_corporation_leave_one_record(
    registry: LiveRegistry,
) -> None:
    headers = registry.auth("nerima", "actor")
    responses = await asyncio.gather(
        *(
            registry.client.post(
                "/v1/wards/nerima/actors", json=npo(name=f"法人 {n}"), headers=headers
            )
            for n in range(5)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409)
