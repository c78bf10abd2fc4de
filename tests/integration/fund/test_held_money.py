"""Designated money whose target is gone is held, reported, and released only by a decision."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.integration.fund.conftest import (
    LiveFund,
    World,
    assert_problem,
    donation_body,
    eventually,
)
from tests.integration.fund.scenarios import (
    actor,
    field,
    grant_body,
    ota_group,
    project,
    started_project,
    verified_actor,
)

pytestmark = pytest.mark.redis


async def held_report(fund: LiveFund) -> list[dict[str, Any]]:
    await fund.caught_up()
    report = await fund.get_json("/v1/wards/ota/fund/held", headers=fund.auth("ota", "finance"))
    return list(report)


def decision(**overrides: Any) -> dict[str, Any]:
    return {
        "reference": "大田区長決裁 第7-123号",
        "decided_on": date.today().isoformat(),
        "reason": "団体の解散により、寄附者の意向に最も近い分野へ",
        **overrides,
    }


async def test_money_of_a_deregistered_actor_is_held_until_a_ward_decision(world: World) -> None:
    fund, registry = world.fund, world.registry
    group = await verified_actor(world, "ota")
    other = await verified_actor(world, "ota", ota_group("丸子川をきれいにする会"))
    gift = await fund.donate("ota", 20_000, actor(group))
    finance = fund.auth("ota", "finance")
    grant = await fund.post_json(
        "/v1/wards/ota/grants",
        grant_body({"kind": "actor", "actor_id": group}, "environment", 12_000),
        finance,
    )

    response = await registry.client.post(
        f"/v1/wards/ota/actors/{group}/deregister",
        json={"reason": "解散"},
        headers=registry.auth("ota", "staff"),
    )
    assert response.status_code == 200, response.text
    held = await eventually(lambda: held_report(fund), lambda rows: bool(rows))
    assert [(h["designation"]["key"], h["reason"], h["still_held_yen"]) for h in held] == [
        (f"actor:{group}", "actor_deregistered", 8_000)
    ]
    # No tranche reaches a gone recipient; what it gives back goes to held, not to available.
    base = f"/v1/wards/ota/grants/{grant['grant_id']}"
    today = date.today().isoformat()
    tranche = await fund.client.post(
        f"{base}/disbursements", json={"amount_yen": 1_000, "paid_on": today}, headers=finance
    )
    assert_problem(tranche, 409)
    await fund.post_json(
        f"{base}/returns",
        {"amount_yen": 12_000, "returned_on": today, "source": "undisbursed", "reason": "解散"},
        finance,
    )
    (row,) = await held_report(fund)
    assert row["still_held_yen"] == 20_000 and row["held_yen"] == 8_000
    # A new gift to the gone actor is refused; held money funds nothing.
    refused = await fund.client.post(
        "/v1/wards/ota/donations",
        json=donation_body(5_000, actor(group)),
        headers=fund.finance("ota"),
    )
    assert_problem(refused, 422)
    no_money = await fund.client.post(
        "/v1/wards/ota/grants",
        json=grant_body({"kind": "actor", "actor_id": other}, "environment", 1_000),
        headers=finance,
    )
    assert assert_problem(no_money, 409)["missing_yen"] == 1_000

    # The ward decides: to the field the donor's group worked in.
    release = {
        "designation": actor(group),
        "to": field("environment"),
        "decision": decision(),
    }
    released = await fund.post_json(
        "/v1/wards/ota/fund/held/release", release, fund.auth("ota", "ward_admin")
    )
    assert released["amount_yen"] == 20_000 and released["kind"] == "release"
    assert released["detail"]["decision"]["reference"] == "大田区長決裁 第7-123号"
    (row,) = await held_report(fund)
    assert row["still_held_yen"] == 0 and row["released_yen"] == 20_000
    assert row["releases"][0]["to_designation"] == "field:environment"
    await fund.post_json(
        "/v1/wards/ota/grants",
        grant_body({"kind": "actor", "actor_id": other}, "environment", 20_000),
        finance,
    )
    await fund.caught_up()
    statement = await fund.get_json(f"/v1/wards/ota/donations/{gift['donation_id']}/statement")
    lots = {lot["designation"]["key"]: lot["balances"] for lot in statement["donation"]["lots"]}
    assert lots[f"actor:{group}"]["fund"] == 0
    assert lots["field:environment"] == {
        "fund": 20_000,
        "available": 0,
        "held": 0,
        "committed": 20_000,
        "paid": 0,
        "refunded": 0,
    }
    report = await fund.reconciliation("ota")
    assert report["exact"], report


async def test_money_of_an_ended_project_is_held(world: World) -> None:
    fund = world.fund
    group = await verified_actor(world, "ota")
    project_id = await started_project(world, "ota", group, ["environment"])
    await fund.donate("ota", 9_000, project(project_id))
    await world.proposals.end_project("ota", project_id)
    held = await eventually(lambda: held_report(fund), lambda rows: bool(rows))
    assert [(h["designation"]["key"], h["reason"], h["still_held_yen"]) for h in held] == [
        (f"project:{project_id}", "project_ended", 9_000)
    ]
    balances = await fund.get_json("/v1/wards/ota/fund/balances")
    assert balances["by_designation"][f"project:{project_id}"]["held"] == 9_000
    report = await fund.reconciliation("ota")
    assert report["exact"] and report["totals"]["held"] == 9_000
