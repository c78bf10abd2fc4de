"""Inertia flags and portfolio figures over HTTP, from the proposals' and the fund's events."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.evaluation.sweep import sweep
from tests.integration.evaluation.conftest import LiveEvaluation, assert_problem

pytestmark = pytest.mark.redis
INERTIA = "/v1/wards/nerima/insights/inertia"


async def flags(live: LiveEvaluation, count: int, **params: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        page = await live.get_json(INERTIA, params=params, headers=live.staff())
        return list(page["items"])

    return await live.eventually(read, lambda items: len(items) >= count)


async def test_repeat_grants_raise_a_flag_that_only_a_recorded_decision_clears(
    evaluation: LiveEvaluation,
) -> None:
    upstream = evaluation.upstream
    started = await upstream.start_project("nerima", term_start="2023-04-01", term_end="2026-03-31")
    project_id, lead = started["project_id"], started["lead_actor_id"]
    for year in (2023, 2024, 2025):
        await upstream.award_grant(
            "nerima",
            recipient_id=project_id,
            paid_actor_id=lead,
            amount_yen=300_000,
            fiscal_year=year,
        )
    await evaluation.project_known(project_id)
    await evaluation.grants_known(3)
    # Three grants for one purpose are within Nerima's limit of three.
    assert (await sweep(evaluation.ctx)).raised_flags == []
    await evaluation.caught_up()
    assert (await evaluation.get_json(INERTIA, headers=evaluation.staff()))["total"] == 0

    await upstream.award_grant(
        "nerima", recipient_id=project_id, paid_actor_id=lead, amount_yen=100_000, fiscal_year=2025
    )
    [flag] = await flags(evaluation, 1)
    assert flag["status"] == "open"
    assert (flag["rule"], flag["subject"], flag["project_id"]) == (
        "repeat_grants",
        "project",
        project_id,
    )
    assert (flag["limit"], flag["observed"], flag["fiscal_years"]) == (3, 4, [2023, 2025])
    assert flag["evidence"]["purpose"] == "childcare" and len(flag["evidence"]["grant_ids"]) == 4

    # Visible to staff (and auditors), not to the actor or the public.
    assert_problem(await evaluation.client.get(INERTIA, headers=evaluation.member(lead)), 403)
    assert_problem(await evaluation.client.get(INERTIA), 401)
    auditor = evaluation.auth("*", "auditor")
    assert (await evaluation.get_json(INERTIA, headers=auditor))["total"] == 1

    clearance = f"{INERTIA}/{flag['flag_id']}/clearance"
    count = await evaluation.event_count()
    for bad in ({"decision": "継続"}, {"decision": "継続", "reason": " "}, {}):
        assert_problem(
            await evaluation.client.post(clearance, json=bad, headers=evaluation.staff()), 422
        )
    assert_problem(
        await evaluation.client.post(
            clearance, json={"decision": "継続", "reason": "r"}, headers=evaluation.member(lead)
        ),
        403,
    )
    assert await evaluation.event_count() == count

    decision = {
        "decision": "継続を認める",
        "reason": "公開募集で他の応募がなく、成果も上がっている。",
    }
    response = await evaluation.client.post(clearance, json=decision, headers=evaluation.staff())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cleared"
    assert_problem(
        await evaluation.client.post(clearance, json=decision, headers=evaluation.staff()), 409
    )
    [cleared] = await evaluation.eventually(
        lambda: flags(evaluation, 1, status="cleared"), lambda items: len(items) == 1
    )
    assert cleared["decision"] == "継続を認める" and cleared["cleared_at"] is not None
    assert (
        await evaluation.get_json(INERTIA, params={"status": "open"}, headers=evaluation.staff())
    )["total"] == 0
    event = (await evaluation.ctx.store.read_all(limit=1000))[-1]
    assert event.event_type == "evaluation.InertiaFlagCleared"
    assert event.actor.role == "staff" and event.policy_version == 1


async def test_a_pair_continuing_without_an_open_call_is_flagged(
    evaluation: LiveEvaluation,
) -> None:
    upstream = evaluation.upstream
    await upstream.open_call("nerima", "call-2024", date(2024, 1, 10))
    first = await upstream.start_project(
        "nerima", call_id="call-2024", term_start="2024-04-01", term_end="2025-03-31"
    )
    second = await upstream.start_project(
        "nerima", call_id="call-2024", term_start="2025-04-01", term_end="2026-03-31"
    )
    found = await flags(evaluation, 2)
    assert {(f["rule"], f["actor_id"]) for f in found} == {
        ("no_open_call", "npo-kodomo"),
        ("no_open_call", "school-hikarigaoka"),
    }
    assert {f["project_id"] for f in found} == {second["project_id"]}
    assert found[0]["evidence"]["project_ids"] == [first["project_id"], second["project_id"]]
    assert found[0]["department"] == "子育て支援課"


PORTFOLIO = "/v1/wards/nerima/insights/portfolio"


async def test_the_portfolio_of_a_fiscal_year_against_nerimas_baseline(
    evaluation: LiveEvaluation,
) -> None:
    upstream = evaluation.upstream
    specs = [
        ("subsidy", "B", True),
        ("subsidy", "B", True),
        ("co_hosting", "C", False),
        ("commission", "D", False),
    ]
    ids = []
    for form, domain, citizen in specs:
        started = await upstream.start_project(
            "nerima", form=form, domain=domain, citizen_proposed=citizen
        )
        ids.append(started["project_id"])
    # Outside fiscal year 2025: ended before it, started after it; and one in Ota.
    await upstream.start_project(
        "nerima", domain="D", form="commission", term_start="2023-04-01", term_end="2024-03-31"
    )
    await upstream.start_project(
        "nerima", domain="D", form="commission", term_start="2026-04-01", term_end="2027-03-31"
    )
    await upstream.start_project("ota", domain="D", form="commission")
    await upstream.award_grant(
        "nerima",
        recipient_id=ids[0],
        paid_actor_id="npo-kodomo",
        amount_yen=700_000,
        fiscal_year=2025,
    )
    await upstream.award_grant(
        "nerima",
        recipient_id="npo-green",
        paid_actor_id="npo-green",
        amount_yen=300_000,
        fiscal_year=2025,
        field="environment",
        kind="actor",
    )
    await upstream.award_grant(
        "nerima", recipient_id=ids[1], paid_actor_id="npo-kodomo", amount_yen=999, fiscal_year=2024
    )

    def complete(figures: dict[str, Any]) -> bool:
        return bool(figures["projects"] == 4 and figures["grants"] == 2)

    figures = await evaluation.eventually(
        lambda: evaluation.get_json(PORTFOLIO, params={"fiscal_year": 2025}), complete
    )
    by_domain = {row["domain"]: row for row in figures["by_domain"]}
    assert [(d, by_domain[d]["share_bp"], by_domain[d]["baseline_bp"]) for d in "BCD"] == [
        ("B", 5000, 2540),
        ("C", 2500, 1770),
        ("D", 2500, 5690),
    ]
    assert by_domain["B"]["share_percent"] == "50.00" and by_domain["B"]["difference_bp"] == 2460
    assert figures["citizen_proposed"] == {
        "projects": 2,
        "share_bp": 5000,
        "share_percent": "50.00",
    }
    assert figures["granted_total_yen"] == 1_000_000
    assert [(g["field"], g["amount_yen"], g["share_bp"]) for g in figures["granted_by_field"]] == [
        ("childcare", 700_000, 7000),
        ("environment", 300_000, 3000),
    ]
    assert all(isinstance(row["share_bp"], int) for row in figures["by_form"])
    # Without a year, the current fiscal year (2026 on 5 April 2026) is shown.
    current = await evaluation.get_json(PORTFOLIO)
    assert current["fiscal_year"] == 2026
    assert_problem(await evaluation.client.get(PORTFOLIO, params={"fiscal_year": "2025.5"}), 422)
    assert_problem(await evaluation.client.get(PORTFOLIO, headers=evaluation.staff("ota")), 403)
