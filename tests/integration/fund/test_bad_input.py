"""Bad input: a clear 4xx problem+json, and not one event appended."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.fund.conftest import LiveFund, World, assert_problem, donation_body
from tests.integration.fund.scenarios import (
    actor,
    field,
    general,
    grant_body,
    nerima_group,
    project,
    verified_actor,
)
from tests.integration.registry.scenarios import register

pytestmark = pytest.mark.redis


async def refused(
    fund: LiveFund, path: str, body: Any, status: int, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    before = await fund.event_count()
    response = await fund.client.post(path, json=body, headers=headers or fund.finance("ota"))
    problem = assert_problem(response, status)
    assert await fund.event_count() == before, path
    return problem


@pytest.mark.parametrize(
    "amount", [0, -1_000, 1000.5, 1000.0, "1000", "千円", None, True, 999, 10_000_001, 10**13]
)
async def test_an_amount_that_is_not_whole_positive_yen_within_limits(
    world: World, amount: Any
) -> None:
    await refused(world.fund, "/v1/wards/ota/donations", donation_body(amount, general()), 422)


async def test_a_designation_target_that_is_not_there(world: World) -> None:
    fund = world.fund
    nerima_actor = await verified_actor(world, "nerima", nerima_group())
    pending = str(
        (
            await register(
                world.registry,
                "ota",
                {
                    "kind": "civic_group",
                    "name": "準備中の会",
                    "name_kana": "じゅんびちゅうのかい",
                    "fields": ["environment"],
                },
            )
        )["actor_id"]
    )
    await fund.knows("ota", "actor", pending, status="pending")
    nerima_project = await world.proposals.start_project("nerima", nerima_actor, ["environment"])
    await fund.knows("nerima", "project", nerima_project)
    cases = [
        (actor("no-such-actor"), "no actor"),
        (actor(nerima_actor), "no actor"),  # another ward's actor does not exist in Ota
        (actor(pending), "pending"),
        (project("no-such-project"), "no project"),
        (project(nerima_project), "no project"),
        (field("safety"), "no activity field"),  # a Nerima field, not an Ota one
        ({"kind": "shop", "shop_id": "x"}, "designation"),
        ({"kind": "field"}, "field"),
    ]
    for designation, detail in cases:
        problem = await refused(
            fund, "/v1/wards/ota/donations", donation_body(5_000, designation), 422
        )
        assert detail in problem["detail"], (designation, problem)


async def test_a_donation_needs_an_idempotency_key_and_a_past_date(world: World) -> None:
    fund = world.fund
    problem = await refused(
        fund,
        "/v1/wards/ota/donations",
        donation_body(5_000, general()),
        422,
        fund.auth("ota", "finance"),
    )
    assert "Idempotency-Key" in problem["detail"]
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    await refused(
        fund, "/v1/wards/ota/donations", donation_body(5_000, general(), received_on=tomorrow), 422
    )
    await refused(
        fund, "/v1/wards/ota/donations", {**donation_body(5_000, general()), "extra": 1}, 422
    )
    no_name = donation_body(5_000, general(), donor={"kind": "person", "address": "大田区"})
    await refused(fund, "/v1/wards/ota/donations", no_name, 422)


async def test_grants_tranches_returns_and_refunds_beyond_the_money(world: World) -> None:
    fund = world.fund
    group = await verified_actor(world, "ota")
    gift = await fund.donate("ota", 10_000, actor(group))
    finance = fund.auth("ota", "finance")
    recipient = {"kind": "actor", "actor_id": group}

    problem = await refused(
        fund, "/v1/wards/ota/grants", grant_body(recipient, "environment", 10_001), 409, finance
    )
    assert (problem["missing_yen"], problem["matching_yen"]) == (1, 10_000)
    await refused(
        fund, "/v1/wards/ota/grants", grant_body(recipient, "environment", 100.5), 422, finance
    )
    await refused(
        fund, "/v1/wards/ota/grants", grant_body(recipient, "safety", 1_000), 422, finance
    )
    stranger = {"kind": "actor", "actor_id": "someone-else"}
    await refused(
        fund, "/v1/wards/ota/grants", grant_body(stranger, "environment", 1_000), 422, finance
    )

    grant = await fund.post_json(
        "/v1/wards/ota/grants", grant_body(recipient, "environment", 6_000), finance
    )
    base = f"/v1/wards/ota/grants/{grant['grant_id']}"
    today = date.today().isoformat()
    problem = await refused(
        fund, f"{base}/disbursements", {"amount_yen": 6_001, "paid_on": today}, 409, finance
    )
    assert problem["remaining_yen"] == 6_000
    await refused(fund, f"{base}/disbursements", {"amount_yen": -1, "paid_on": today}, 422, finance)
    await fund.post_json(f"{base}/disbursements", {"amount_yen": 2_000, "paid_on": today}, finance)
    back = {"amount_yen": 2_001, "returned_on": today, "reason": "精算"}
    await refused(fund, f"{base}/returns", back, 409, finance)
    await refused(
        fund,
        "/v1/wards/ota/grants/no-such-grant/disbursements",
        {"amount_yen": 1, "paid_on": today},
        404,
        finance,
    )

    refund = f"/v1/wards/ota/donations/{gift['donation_id']}/refund"
    problem = await refused(
        fund, refund, {"amount_yen": 4_001, "refunded_on": today, "reason": "申出"}, 409, finance
    )
    assert problem["unallocated_yen"] == 4_000
    done = await fund.post_json(refund, {"refunded_on": today, "reason": "申出"}, finance)
    assert done["movement"]["amount_yen"] == 4_000
    assert done["donation"] == {
        "fund": 10_000,
        "available": 0,
        "held": 0,
        "committed": 4_000,
        "paid": 2_000,
        "refunded": 4_000,
    }
    await refused(fund, refund, {"refunded_on": today, "reason": "申出"}, 409, finance)
    report = await fund.reconciliation("ota")
    assert report["exact"], report


OTA_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/wards/ota/donations", donation_body(5_000, {"kind": "general"})),
    ("GET", "/v1/wards/ota/donations", None),
    ("GET", "/v1/wards/ota/donations/some-id", None),
    (
        "POST",
        "/v1/wards/ota/donations/some-id/refund",
        {"refunded_on": "2025-05-01", "reason": "r"},
    ),
    ("GET", "/v1/wards/ota/donations/some-id/statement", None),
    (
        "POST",
        "/v1/wards/ota/grants",
        grant_body({"kind": "actor", "actor_id": "x"}, "environment", 1),
    ),
    ("GET", "/v1/wards/ota/grants", None),
    ("GET", "/v1/wards/ota/grants/some-id", None),
    (
        "POST",
        "/v1/wards/ota/grants/some-id/disbursements",
        {"amount_yen": 1, "paid_on": "2025-05-01"},
    ),
    (
        "POST",
        "/v1/wards/ota/grants/some-id/returns",
        {"amount_yen": 1, "returned_on": "2025-05-01", "reason": "r"},
    ),
    ("GET", "/v1/wards/ota/grants/some-id/lineage", None),
    ("GET", "/v1/wards/ota/fund/balances", None),
    ("GET", "/v1/wards/ota/fund/journal", None),
    ("GET", "/v1/wards/ota/fund/reconciliation", None),
    ("GET", "/v1/wards/ota/fund/held", None),
    ("POST", "/v1/wards/ota/fund/held/release", {}),
]


@pytest.mark.parametrize("role", ["finance", "auditor", "ward_admin", "staff"])
async def test_a_nerima_token_gets_403_on_every_ota_route(
    world: World, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    fund = world.fund
    headers = {**fund.auth("nerima", role), "Idempotency-Key": "k"}
    before = await fund.event_count()
    for method, path, body in OTA_ROUTES:
        response = await fund.client.request(method, path, json=body, headers=headers)
        assert assert_problem(response, 403)["ward"] == "ota", (method, path)
    assert await fund.event_count() == before
    assert "target_ward=ota" in caplog.text


async def test_only_finance_moves_money_and_only_a_ward_admin_releases(world: World) -> None:
    fund = world.fund
    body = donation_body(5_000, general())
    for roles in (("staff",), ("auditor",), ("ward_admin",), ("actor",)):
        headers = {**fund.auth("ota", *roles), "Idempotency-Key": "k"}
        await refused(fund, "/v1/wards/ota/donations", body, 403, headers)
    await refused(fund, "/v1/wards/ota/donations", body, 401, {"Idempotency-Key": "k"})
    for path in ("/v1/wards/ota/fund/journal", "/v1/wards/ota/fund/reconciliation"):
        assert_problem(await fund.client.get(path), 401)
        assert_problem(await fund.client.get(path, headers=fund.auth("ota", "staff")), 403)
    release = {
        "designation": {"kind": "actor", "actor_id": "x"},
        "to": {"kind": "general"},
        "decision": {"reference": "決裁", "decided_on": "2025-05-01", "reason": "r"},
    }
    await refused(
        fund, "/v1/wards/ota/fund/held/release", release, 403, fund.auth("ota", "finance")
    )
    await refused(
        fund, "/v1/wards/ota/fund/held/release", release, 409, fund.auth("ota", "ward_admin")
    )


async def test_an_unknown_ward_or_record_is_404(world: World) -> None:
    fund = world.fund
    assert_problem(await fund.client.get("/v1/wards/setagaya/fund/balances"), 404)
    assert_problem(await fund.client.get("/v1/wards/ota/donations/nope"), 404)
    assert_problem(await fund.client.get("/v1/wards/ota/grants/nope/lineage"), 404)
    headers = fund.finance("setagaya")
    await refused(
        fund, "/v1/wards/setagaya/donations", donation_body(5_000, general()), 404, headers
    )
