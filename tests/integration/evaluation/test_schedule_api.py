"""Rounds open on schedule, driven by the clock; staff may open one ahead of its date."""

from __future__ import annotations

from datetime import date

import pytest

from services.evaluation.sweep import sweep
from tests.integration.evaluation.conftest import LiveEvaluation, assert_problem, jst

pytestmark = pytest.mark.redis


async def test_a_project_gets_a_round_after_each_year_end_and_after_its_end(
    evaluation: LiveEvaluation,
) -> None:
    started = await evaluation.upstream.start_project("nerima")
    project_id = started["project_id"]
    [first] = await evaluation.rounds_of(project_id, 1)
    assert (first["occasion"], first["fiscal_year"], first["status"]) == (
        "fiscal_year_end",
        2025,
        "open",
    )
    assert first["title"] == "光が丘こども食堂"

    evaluation.clock.now = jst(date(2027, 3, 31))
    assert (await sweep(evaluation.ctx)).opened_rounds == []
    evaluation.clock.now = jst(date(2027, 4, 1))
    rounds = await evaluation.rounds_of(project_id, 2)
    assert [(r["occasion"], r["fiscal_year"]) for r in rounds] == [
        ("project_end", 2026),
        ("fiscal_year_end", 2025),
    ]
    detail = await evaluation.get_json(
        f"/v1/wards/nerima/evaluations/{rounds[0]['round_id']}", headers=evaluation.staff()
    )
    assert (detail["period_start"], detail["period_end"]) == ("2025-04-01", "2027-03-31")
    assert [item["code"] for item in detail["items"]][:2] == ["equality", "mutual_understanding"]
    # Sweeping again opens nothing more.
    assert (await sweep(evaluation.ctx)).opened_rounds == []
    await evaluation.caught_up()
    assert len(await evaluation.rounds(project_id=project_id)) == 2


async def test_an_early_end_brings_the_end_round_forward(evaluation: LiveEvaluation) -> None:
    evaluation.clock.now = jst(date(2025, 12, 1))
    started = await evaluation.upstream.start_project("nerima")
    project_id = started["project_id"]
    await evaluation.project_known(project_id)
    assert (await sweep(evaluation.ctx)).opened_rounds == []
    await evaluation.upstream.end_project("nerima", project_id, date(2025, 11, 30))
    [only] = await evaluation.rounds_of(project_id, 1)
    assert (only["occasion"], only["fiscal_year"]) == ("project_end", 2025)


async def test_staff_open_an_interim_round_or_a_scheduled_one_ahead_of_its_date(
    evaluation: LiveEvaluation,
) -> None:
    evaluation.clock.now = jst(date(2025, 10, 1))
    started = await evaluation.upstream.start_project("nerima")
    project_id = started["project_id"]
    await evaluation.project_known(project_id)
    base = "/v1/wards/nerima/evaluations"
    interim = await evaluation.client.post(
        base,
        json={"project_id": project_id, "reason": "中間の振り返り"},
        headers=evaluation.staff(),
    )
    assert interim.status_code == 201, interim.text
    body = interim.json()
    assert interim.headers["location"] == f"{base}/{body['round_id']}"
    assert (body["occasion"], body["fiscal_year"], body["reason"]) == (
        "interim",
        2025,
        "中間の振り返り",
    )
    assert (body["period_start"], body["period_end"]) == ("2025-04-01", "2025-10-01")

    early = await evaluation.client.post(
        base,
        json={"project_id": project_id, "occasion": "fiscal_year_end", "fiscal_year": 2025},
        headers=evaluation.staff(),
    )
    assert early.status_code == 201, early.text
    count = await evaluation.event_count()
    again = await evaluation.client.post(
        base,
        json={"project_id": project_id, "occasion": "fiscal_year_end", "fiscal_year": 2025},
        headers=evaluation.staff(),
    )
    assert_problem(again, 409)
    missing = await evaluation.client.post(
        base,
        json={"project_id": project_id, "occasion": "fiscal_year_end", "fiscal_year": 2030},
        headers=evaluation.staff(),
    )
    problem = assert_problem(missing, 422)
    assert [o["occasion"] for o in problem["schedule"]] == ["fiscal_year_end", "project_end"]
    assert_problem(
        await evaluation.client.post(
            base, json={"project_id": "no-such-project"}, headers=evaluation.staff()
        ),
        404,
    )
    assert await evaluation.event_count() == count

    # When the year is over, the sweep finds the round already open and opens no other.
    evaluation.clock.now = jst(date(2026, 4, 2))
    assert (await sweep(evaluation.ctx)).opened_rounds == []
    await evaluation.caught_up()
    rounds = await evaluation.rounds(project_id=project_id)
    assert sorted(r["occasion"] for r in rounds) == ["fiscal_year_end", "interim"]
