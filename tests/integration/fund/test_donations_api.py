"""Donations over real HTTP: receipts, idempotent retries, designations, who sees personal data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.fund.conftest import World, assert_problem, donation_body
from tests.integration.fund.scenarios import (
    actor,
    field,
    general,
    project,
    started_project,
    verified_actor,
)

pytestmark = pytest.mark.redis


async def test_a_retry_with_the_same_key_returns_the_same_donation(world: World) -> None:
    fund = world.fund
    headers = fund.finance("ota", key="gift-2025-0001")
    body = donation_body(10_000, general(), received_on="2025-05-01")
    first = await fund.client.post("/v1/wards/ota/donations", json=body, headers=headers)
    assert first.status_code == 201, first.text
    donation = first.json()
    assert donation["receipt"] == {"fiscal_year": 2025, "number": 1, "label": "ota-2025-000001"}
    assert first.headers["location"] == f"/v1/wards/ota/donations/{donation['donation_id']}"
    count = await fund.event_count()

    again = await fund.client.post("/v1/wards/ota/donations", json=body, headers=headers)
    assert again.status_code == 201
    assert again.json() == donation
    assert again.headers["idempotent-replayed"] == "true"
    assert await fund.event_count() == count

    other = donation_body(20_000, general(), received_on="2025-05-01")
    refused = await fund.client.post("/v1/wards/ota/donations", json=other, headers=headers)
    assert assert_problem(refused, 422)["type"].endswith("idempotency-key-reused")
    assert await fund.event_count() == count

    second = await fund.donate("ota", 5_000, general(), received_on="2025-05-02")
    assert second["receipt"]["number"] == 2


async def test_receipts_are_numbered_per_ward_and_fiscal_year(world: World) -> None:
    fund = world.fund
    received = [
        ("ota", "2025-03-31"),
        ("ota", "2025-04-01"),
        ("nerima", "2025-04-01"),
        ("ota", "2025-03-01"),
        ("ota", "2025-06-30"),
    ]
    labels = [
        (await fund.donate(ward, 1_000, general(), received_on=day))["receipt"]["label"]
        for ward, day in received
    ]
    assert labels == [
        "ota-2024-000001",
        "ota-2025-000001",
        "nerima-2025-000001",
        "ota-2024-000002",
        "ota-2025-000002",
    ]


async def test_every_designation_kind_is_recorded_and_listed(world: World) -> None:
    fund = world.fund
    group = await verified_actor(world, "ota")
    project_id = await started_project(world, "ota", group, ["environment"])
    for designation in (general(), field("environment"), actor(group), project(project_id)):
        await fund.donate("ota", 3_000, designation)
    await fund.caught_up()
    page = await fund.get_json("/v1/wards/ota/donations")
    assert [item["designation"]["key"] for item in page["items"]] == [
        "general",
        "field:environment",
        f"actor:{group}",
        f"project:{project_id}",
    ]
    assert page["total"] == 4
    only = await fund.get_json("/v1/wards/ota/donations", params={"designation_kind": "actor"})
    assert [item["designation"]["target"] for item in only["items"]] == [group]
    balances = await fund.get_json("/v1/wards/ota/fund/balances")
    assert balances["total"]["available"] == 12_000
    assert set(balances["by_designation"]) == {
        "general",
        "field:environment",
        f"actor:{group}",
        f"project:{project_id}",
    }


PUBLISHED = {
    "kind": "company",
    "name": "株式会社 大田精密工業",
    "address": "東京都大田区下丸子1-2-3",
    "publish_name": True,
}
ANONYMOUS = {
    "kind": "person",
    "name": "匿名希望 太郎",
    "address": "東京都大田区大森北1-1-1",
    "phone": "03-1111-2222",
    "publish_name": False,
}


async def test_personal_data_is_shown_only_to_finance_and_auditors(world: World) -> None:
    fund = world.fund
    named = await fund.donate("ota", 50_000, general(), donor=PUBLISHED)
    hidden = await fund.donate("ota", 10_000, general(), donor=ANONYMOUS, note="窓口で受領")
    assert hidden["personal"]["name"] == "匿名希望 太郎"  # the finance staff who recorded it
    await fund.caught_up()
    path = f"/v1/wards/ota/donations/{hidden['donation_id']}"

    for roles in (("finance",), ("auditor",)):
        seen = await fund.get_json(path, headers=fund.auth("ota", *roles))
        assert seen["personal"]["address"] == "東京都大田区大森北1-1-1"
        assert seen["note"] == "窓口で受領"
    for headers in ({}, fund.auth("ota", "staff"), fund.auth("ota", "ward_admin")):
        public = await fund.get_json(path, headers=headers)
        assert "personal" not in public and "note" not in public
        assert public["donor"] == {"kind": "person", "publish_name": False, "public_name": "匿名"}
        assert "匿名希望" not in json.dumps(public, ensure_ascii=False)
    listed = await fund.get_json("/v1/wards/ota/donations")
    assert [item["donor"]["public_name"] for item in listed["items"]] == [
        "株式会社 大田精密工業",
        "匿名",
    ]
    statement = await fund.get_json(f"/v1/wards/ota/donations/{named['donation_id']}/statement")
    assert "address" not in json.dumps(statement, ensure_ascii=False)

    # An auditor of every ward sees it too; a finance officer of another ward is refused.
    platform_auditor = await fund.get_json(path, headers=fund.auth("*", "auditor"))
    assert platform_auditor["personal"]["phone"] == "03-1111-2222"
    assert_problem(await fund.client.get(path, headers=fund.auth("nerima", "finance")), 403)


async def test_personal_data_is_only_inside_personal_in_the_stored_event(world: World) -> None:
    fund = world.fund
    await fund.donate("ota", 10_000, general(), donor=ANONYMOUS)
    (received,) = [
        e for e in await fund.ctx.store.read_all() if e.event_type == "fund.DonationReceived"
    ]
    outside: dict[str, Any] = {k: v for k, v in received.data.items() if k != "personal"}
    text = json.dumps(outside, ensure_ascii=False)
    assert "匿名希望" not in text and "大森北" not in text and "03-1111" not in text
    assert received.data["personal"]["name"] == "匿名希望 太郎"
    assert received.actor.role == "finance" and received.policy_version == 1


async def test_the_donation_route_documents_its_body_and_answer(world: World) -> None:
    openapi = await world.fund.get_json("/openapi.json")
    route = openapi["paths"]["/v1/wards/{ward}/donations"]["post"]
    body_schema = route["requestBody"]["content"]["application/json"]["schema"]
    assert body_schema == {"$ref": "#/components/schemas/DonationBody"}
    answer = route["responses"]["201"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/DonationView"}
    schemas = openapi["components"]["schemas"]
    donation = schemas["DonationBody"]
    assert set(donation["required"]) >= {"amount_yen", "received_on", "designation", "donor"}
    assert donation["properties"]["donor"] == {"$ref": "#/components/schemas/Donor"}
    assert "Donor" in schemas and "FieldDesignation" in schemas


async def test_a_malformed_donation_body_is_a_validation_problem(world: World) -> None:
    fund = world.fund
    headers = {**fund.finance("ota", key="malformed-1"), "Content-Type": "application/json"}
    response = await fund.client.post(
        "/v1/wards/ota/donations", content=b'{"amount_yen": 1000,', headers=headers
    )
    problem = assert_problem(response, 422)
    assert problem["errors"][0]["loc"][0] == "body"
    assert await fund.event_count() == 0
