"""Done means: the money of a field-designated and of an actor-designated donation is followed
yen by yen through a grant, a tranche and returns, and the reconciliation is always exact."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.fund.conftest import LiveFund, World
from tests.integration.fund.scenarios import actor, field, general, grant_body, verified_actor

pytestmark = pytest.mark.redis

WARD = "ota"


async def statement(fund: LiveFund, donation_id: str) -> dict[str, Any]:
    await fund.caught_up()
    return dict(await fund.get_json(f"/v1/wards/{WARD}/donations/{donation_id}/statement"))


def lot(statement: dict[str, Any]) -> dict[str, int]:
    (only,) = statement["donation"]["lots"]
    return dict(only["balances"])


async def assert_exact(fund: LiveFund) -> dict[str, Any]:
    report = await fund.reconciliation(WARD)
    assert report["exact"], report
    assert report["events_not_yet_projected"] == 0
    totals = report["totals"]
    where = sum(totals[a] for a in ("available", "held", "committed", "paid", "refunded"))
    assert totals["donations"] == totals["fund"] == where
    return dict(report)


async def test_field_and_actor_money_followed_yen_by_yen(any_world: World) -> None:
    fund = any_world.fund
    group = await verified_actor(any_world, WARD)
    earlier = (date.today() - timedelta(days=3)).isoformat()
    by_field = await fund.donate(WARD, 30_000, field("environment"), received_on=earlier)
    by_actor = await fund.donate(WARD, 20_000, actor(group))
    await fund.donate(WARD, 50_000, general())
    await assert_exact(fund)

    # The grant draws the actor's money first (most specific), then the field's; general is kept.
    finance = fund.auth(WARD, "finance")
    grant = await fund.post_json(
        f"/v1/wards/{WARD}/grants",
        grant_body({"kind": "actor", "actor_id": group}, "environment", 45_000),
        finance,
    )
    grant_id = grant["grant_id"]
    assert grant["balances"]["committed"] == 45_000
    await fund.caught_up()
    lineage = await fund.get_json(f"/v1/wards/{WARD}/grants/{grant_id}/lineage")
    assert [
        (x["donation_id"], x["designation"]["key"], x["allocated"]) for x in lineage["lines"]
    ] == [
        (by_actor["donation_id"], f"actor:{group}", 20_000),
        (by_field["donation_id"], "field:environment", 25_000),
    ]
    assert lineage["by_designation"] == {f"actor:{group}": 20_000, "field:environment": 25_000}
    assert lot(await statement(fund, by_field["donation_id"])) == {
        "fund": 30_000,
        "available": 5_000,
        "held": 0,
        "committed": 25_000,
        "paid": 0,
        "refunded": 0,
    }
    await assert_exact(fund)

    # A tranche pays the lines in lineage order: the actor's 20,000, then 10,000 of the field's.
    paid = await fund.post_json(
        f"/v1/wards/{WARD}/grants/{grant_id}/disbursements",
        {"amount_yen": 30_000, "paid_on": date.today().isoformat()},
        finance,
    )
    assert [(x["donation_id"], x["amount_yen"]) for x in paid["movement"]["lines"]] == [
        (by_actor["donation_id"], 20_000),
        (by_field["donation_id"], 10_000),
    ]
    assert paid["grant"]["paid"] == 30_000 and paid["grant"]["committed"] == 15_000
    await assert_exact(fund)

    # Unused paid money goes back to the lot it came from last, keeping its designation.
    back = await fund.post_json(
        f"/v1/wards/{WARD}/grants/{grant_id}/returns",
        {"amount_yen": 8_000, "returned_on": date.today().isoformat(), "reason": "精算"},
        finance,
    )
    assert back["movement"]["lines"] == [
        {
            "donation_id": by_field["donation_id"],
            "designation": "field:environment",
            "amount_yen": 8_000,
            "to": "available",
            "to_designation": None,
        }
    ]
    # The part never paid is given up: back to the field's lot too.
    await fund.post_json(
        f"/v1/wards/{WARD}/grants/{grant_id}/returns",
        {
            "amount_yen": 15_000,
            "returned_on": date.today().isoformat(),
            "source": "undisbursed",
            "reason": "事業縮小",
        },
        finance,
    )
    field_statement = await statement(fund, by_field["donation_id"])
    assert lot(field_statement) == {
        "fund": 30_000,
        "available": 28_000,
        "held": 0,
        "committed": 0,
        "paid": 2_000,
        "refunded": 0,
    }
    assert field_statement["accounted_yen"] == 30_000
    (line,) = field_statement["grants"]
    assert (
        line["grant_id"],
        line["allocated"],
        line["paid"],
        line["returned"],
        line["given_up"],
    ) == (grant_id, 25_000, 2_000, 8_000, 15_000)
    actor_statement = await statement(fund, by_actor["donation_id"])
    assert lot(actor_statement)["paid"] == 20_000
    # Every journal line of the field's lot, in order: in, committed, paid, back, given up.
    moves = [
        (
            m["event_type"],
            [
                (x["account"], x["debit_yen"], x["credit_yen"])
                for x in m["lines"]
                if x["donation_id"] == by_field["donation_id"]
            ],
        )
        for m in field_statement["movements"]
    ]
    assert moves == [
        ("fund.DonationReceived", [("available", 30_000, 0), ("fund", 0, 30_000)]),
        ("fund.GrantAwarded", [("committed", 25_000, 0), ("available", 0, 25_000)]),
        ("fund.GrantDisbursed", [("paid", 10_000, 0), ("committed", 0, 10_000)]),
        ("fund.GrantFundsReturned", [("available", 8_000, 0), ("paid", 0, 8_000)]),
        ("fund.GrantFundsReturned", [("available", 15_000, 0), ("committed", 0, 15_000)]),
    ]
    for movement in field_statement["movements"]:
        assert movement["debits"] == movement["credits"]

    grant_now = await fund.get_json(f"/v1/wards/{WARD}/grants/{grant_id}")
    assert grant_now["balances"] == {
        "amount_yen": 45_000,
        "committed": 0,
        "paid": 22_000,
        "returned": 8_000,
        "given_up": 15_000,
        "tranches": 1,
        "returns": 2,
    }
    report = await assert_exact(fund)
    assert report["totals"] == {
        "donations": 100_000,
        "fund": 100_000,
        "available": 78_000,
        "held": 0,
        "committed": 0,
        "paid": 22_000,
        "refunded": 0,
    }
    journal = await fund.get_json(
        f"/v1/wards/{WARD}/fund/journal", headers=fund.auth(WARD, "auditor")
    )
    assert [e["event_type"] for e in journal["entries"]] == [
        "fund.DonationReceived",
        "fund.DonationReceived",
        "fund.DonationReceived",
        "fund.GrantAwarded",
        "fund.GrantDisbursed",
        "fund.GrantFundsReturned",
        "fund.GrantFundsReturned",
    ]
    assert all(e["debits"] == e["credits"] > 0 for e in journal["entries"])
    second_page = await fund.get_json(
        f"/v1/wards/{WARD}/fund/journal",
        params={"limit": 2, "offset": 3},
        headers=fund.auth(WARD, "finance"),
    )
    assert [e["event_type"] for e in second_page["entries"]] == [
        "fund.GrantAwarded",
        "fund.GrantDisbursed",
    ]
    assert second_page["total"] == 7
    balances = await fund.get_json(f"/v1/wards/{WARD}/fund/balances")
    assert balances["by_designation"]["field:environment"]["available"] == 28_000
    assert balances["by_designation"][f"actor:{group}"]["paid"] == 20_000
    assert balances["by_designation"]["general"]["available"] == 50_000
    assert balances["total"]["fund"] == 100_000
