"""Bad input and other wards' tokens get a 4xx problem, and nothing is appended."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.evaluation.conftest import LiveEvaluation, assert_problem
from tests.integration.evaluation.scenarios import assessment, scores, started_with_round

pytestmark = pytest.mark.redis


async def refused(
    live: LiveEvaluation, status: int, path: str, body: Any, headers: dict[str, str]
) -> dict[str, Any]:
    before = await live.event_count()
    problem = assert_problem(await live.client.post(path, json=body, headers=headers), status)
    assert await live.event_count() == before
    return problem


async def test_the_actor_side_cannot_submit_the_wards_side_or_another_projects(
    evaluation: LiveEvaluation,
) -> None:
    started, round_id = await started_with_round(evaluation)
    path = f"/v1/wards/nerima/evaluations/{round_id}/assessments"
    lead = evaluation.member(started["lead_actor_id"])
    await refused(evaluation, 403, path, assessment(side="ward"), lead)
    stranger = evaluation.member("npo-elsewhere")
    await refused(evaluation, 403, path, assessment(), stranger)
    # Staff who are also members of an actor assess neither side.
    both = evaluation.auth("nerima", "staff", "actor", actor_id=started["lead_actor_id"])
    await refused(evaluation, 403, path, assessment(), both)
    # Roles that are no side at all.
    await refused(evaluation, 403, path, assessment(), evaluation.auth("nerima", "finance"))
    await refused(evaluation, 401, path, assessment(), {})


async def test_scores_off_the_scale_or_not_whole_numbers_are_refused(
    evaluation: LiveEvaluation,
) -> None:
    _started, round_id = await started_with_round(evaluation)
    path = f"/v1/wards/nerima/evaluations/{round_id}/assessments"
    staff = evaluation.staff()
    problem = await refused(evaluation, 422, path, assessment(scores(disclosure=6)), staff)
    assert problem["off_scale"] == ["disclosure"] and problem["scale_max"] == 5
    await refused(evaluation, 422, path, assessment(scores(disclosure=0)), staff)
    await refused(evaluation, 422, path, assessment({**scores(), "equality": 3.5}), staff)
    await refused(evaluation, 422, path, assessment({**scores(), "equality": "3"}), staff)
    missing = scores()
    del missing["process"]
    assert (await refused(evaluation, 422, path, assessment(missing), staff))["missing"] == [
        "process"
    ]
    negative = assessment()
    negative["outcomes"]["beneficiaries"] = -1
    await refused(evaluation, 422, path, negative, staff)
    await refused(evaluation, 422, path, {**assessment(), "comments": "  "}, staff)
    await refused(evaluation, 422, path, {**assessment(), "extra": 1}, staff)


async def test_no_conclusion_reconciliation_or_review_before_both_sides_have_submitted(
    evaluation: LiveEvaluation,
) -> None:
    started, round_id = await started_with_round(evaluation)
    base = f"/v1/wards/nerima/evaluations/{round_id}"
    staff = evaluation.staff()
    conclusion = {"conclusion": "continue", "reasons": "r"}
    problem = await refused(evaluation, 409, f"{base}/conclusion", conclusion, staff)
    assert "both sides" in problem["detail"]
    await evaluation.client.post(f"{base}/assessments", json=assessment(), headers=staff)
    await refused(evaluation, 409, f"{base}/conclusion", conclusion, staff)
    await refused(
        evaluation, 409, f"{base}/reconciliation", {"scores": {"equality": 3}, "note": "n"}, staff
    )
    review = {"reviewer_body": "協働推進会議", "summary": "s"}
    await refused(evaluation, 409, f"{base}/review", review, staff)
    await refused(
        evaluation, 422, f"{base}/conclusion", {"conclusion": "stop", "reasons": "r"}, staff
    )
    # Only staff conclude or reconcile; an actor of the project cannot.
    lead = evaluation.member(started["lead_actor_id"])
    await refused(evaluation, 403, f"{base}/conclusion", conclusion, lead)
    # A submitted side cannot submit again.
    await refused(evaluation, 409, f"{base}/assessments", assessment(), staff)


async def test_another_wards_token_is_refused_and_another_wards_round_is_not_found(
    evaluation: LiveEvaluation,
) -> None:
    started, round_id = await started_with_round(evaluation)
    base = f"/v1/wards/nerima/evaluations/{round_id}"
    ota_staff = evaluation.staff("ota")
    await refused(evaluation, 403, f"{base}/assessments", assessment(), ota_staff)
    await refused(
        evaluation, 403, f"{base}/conclusion", {"conclusion": "end", "reasons": "r"}, ota_staff
    )
    await refused(
        evaluation,
        403,
        "/v1/wards/nerima/evaluations",
        {"project_id": started["project_id"]},
        ota_staff,
    )
    assert_problem(await evaluation.client.get(base, headers=ota_staff), 403)
    assert_problem(
        await evaluation.client.get("/v1/wards/nerima/insights/inertia", headers=ota_staff), 403
    )
    # Ota's own staff, on Ota's path, find no Nerima round there.
    await refused(
        evaluation,
        404,
        f"/v1/wards/ota/evaluations/{round_id}/assessments",
        assessment(),
        ota_staff,
    )
    assert_problem(
        await evaluation.client.get(f"/v1/wards/ota/evaluations/{round_id}", headers=ota_staff), 404
    )
    # Nor can Ota open a round for Nerima's project.
    await refused(
        evaluation,
        404,
        "/v1/wards/ota/evaluations",
        {"project_id": started["project_id"]},
        ota_staff,
    )


async def test_an_unknown_ward_or_round(evaluation: LiveEvaluation) -> None:
    assert_problem(await evaluation.client.get("/v1/wards/setagaya/evaluations"), 404)
    assert_problem(await evaluation.client.get("/v1/wards/setagaya/insights/portfolio"), 404)
    staff = evaluation.staff()
    await refused(
        evaluation,
        404,
        "/v1/wards/nerima/evaluations/no-such-round/assessments",
        assessment(),
        staff,
    )
    assert_problem(
        await evaluation.client.get("/v1/wards/nerima/evaluations/nope", headers=staff), 404
    )


async def test_a_retried_submission_gets_its_first_answer(evaluation: LiveEvaluation) -> None:
    _started, round_id = await started_with_round(evaluation)
    path = f"/v1/wards/nerima/evaluations/{round_id}/assessments"
    headers = {**evaluation.staff(), "Idempotency-Key": "ward-side-2025"}
    first = await evaluation.client.post(path, json=assessment(), headers=headers)
    count = await evaluation.event_count()
    again = await evaluation.client.post(path, json=assessment(), headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert await evaluation.event_count() == count
    other = await evaluation.client.post(path, json=assessment(scores(2)), headers=headers)
    assert_problem(other, 422)
    assert await evaluation.event_count() == count
