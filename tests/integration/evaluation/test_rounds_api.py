"""A round over HTTP: both sides reflect unseen by the other, divergence is reconciled, a
third party reviews, the conclusion publishes the result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.evaluation.conftest import LiveEvaluation, assert_problem
from tests.integration.evaluation.scenarios import assessment, scores, started_with_round

pytestmark = pytest.mark.redis


def side(view: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in view["assessments"] if a["side"] == name)


async def test_a_round_from_reflection_to_publication(evaluation: LiveEvaluation) -> None:
    started, round_id = await started_with_round(evaluation)
    lead, partner = started["lead_actor_id"], started["partner_actor_ids"][0]
    path = f"/v1/wards/nerima/evaluations/{round_id}"
    staff = evaluation.staff()

    actor_scores = scores(equality=5, disclosure=2)
    response = await evaluation.client.post(
        f"{path}/assessments", json=assessment(actor_scores), headers=evaluation.member(lead)
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    mine = side(response.json(), "actor")
    assert mine["scores"] == actor_scores and mine["actor_id"] == lead

    # The ward side sees only that the actor side has submitted, not what it said.
    await evaluation.caught_up()
    seen_by_staff = await evaluation.get_json(path, headers=staff)
    hidden = side(seen_by_staff, "actor")
    assert hidden["submitted"] is True
    assert hidden["scores"] is None and hidden["comments"] is None and hidden["outcomes"] is None
    # A partner is on the actor side: it sees the actor side's assessment.
    seen_by_partner = await evaluation.get_json(path, headers=evaluation.member(partner))
    assert side(seen_by_partner, "actor")["scores"] == actor_scores
    assert side(seen_by_partner, "ward")["submitted"] is False
    # An observer (a reviewer) sees neither side's scores yet.
    seen_by_reviewer = await evaluation.get_json(
        path, headers=evaluation.auth("nerima", "reviewer")
    )
    assert side(seen_by_reviewer, "actor")["scores"] is None

    ward_scores = scores(equality=2, disclosure=3)
    response = await evaluation.client.post(
        f"{path}/assessments",
        json=assessment(ward_scores, comments="区の広報が遅れた。"),
        headers=staff,
    )
    assert response.status_code == 200, response.text
    compared = response.json()
    assert compared["status"] == "reconciling"
    assert compared["divergent_items"] == [
        {"code": "equality", "actor_score": 5, "ward_score": 2, "difference": 3}
    ]
    assert side(compared, "actor")["scores"] == actor_scores  # both in: both visible

    response = await evaluation.client.post(
        f"{path}/reconciliation",
        json={"scores": {"equality": 4}, "note": "協議の上、4で合意。"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"

    response = await evaluation.client.post(
        f"{path}/review",
        json={
            "reviewer_body": "練馬区協働推進会議",
            "summary": "双方の振り返りは具体的で妥当。",
            "recommendation": "continue",
        },
        headers=evaluation.auth("nerima", "reviewer"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["review"]["reviewer_body"] == "練馬区協働推進会議"

    # Not public until concluded.
    assert_problem(await evaluation.client.get(path), 404)
    assert (await evaluation.get_json("/v1/wards/nerima/evaluations"))["total"] == 0

    response = await evaluation.client.post(
        f"{path}/conclusion",
        json={"conclusion": "continue", "reasons": "目標をおおむね達成した。"},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "concluded"

    await evaluation.caught_up()
    public = await evaluation.get_json(path)
    assert public["status"] == "concluded"
    assert public["conclusion"]["conclusion"] == "continue"
    result = {item["code"]: item for item in public["result"]}
    assert result["equality"] == {
        "code": "equality",
        "ja": "対等",
        "en": "Equality",
        "basis": "equality",
        "actor_score": 5,
        "ward_score": 2,
        "divergent": True,
        "result": "4",
    }
    assert result["disclosure"]["result"] == "2.5"
    assert side(public, "ward")["comments"] == "区の広報が遅れた。"
    assert side(public, "actor")["outcomes"]["targets"][1]["achieved"] == 480
    listed = await evaluation.get_json("/v1/wards/nerima/evaluations")
    assert [r["round_id"] for r in listed["items"]] == [round_id]
    assert listed["items"][0]["conclusion"] == "continue"


async def test_without_divergence_the_round_concludes_without_reconciliation(
    evaluation: LiveEvaluation,
) -> None:
    started, round_id = await started_with_round(evaluation)
    path = f"/v1/wards/nerima/evaluations/{round_id}"
    await evaluation.client.post(
        f"{path}/assessments", json=assessment(), headers=evaluation.staff()
    )
    response = await evaluation.client.post(
        f"{path}/assessments",
        json=assessment(scores(3)),
        headers=evaluation.member(started["partner_actor_ids"][0]),
    )
    assert response.json()["status"] == "ready" and response.json()["divergent_items"] == []
    count = await evaluation.event_count()
    assert_problem(
        await evaluation.client.post(
            f"{path}/reconciliation",
            json={"scores": {"equality": 3}, "note": "n"},
            headers=evaluation.staff(),
        ),
        409,
    )
    assert await evaluation.event_count() == count
    response = await evaluation.client.post(
        f"{path}/conclusion",
        json={
            "conclusion": "improve",
            "reasons": "周知の方法を改める。",
            "improvements": "SNSを使う",
        },
        headers=evaluation.staff(),
    )
    assert response.status_code == 200
    assert {item["result"] for item in response.json()["result"]} == {"3.5"}


async def test_an_actor_sees_its_own_projects_open_rounds_only(evaluation: LiveEvaluation) -> None:
    started, round_id = await started_with_round(evaluation)
    other, other_round = await started_with_round(
        evaluation, lead_actor_id="npo-other", partner_actor_ids=[]
    )
    mine = await evaluation.get_json(
        "/v1/wards/nerima/evaluations", headers=evaluation.member(started["lead_actor_id"])
    )
    assert [r["round_id"] for r in mine["items"]] == [round_id]
    assert_problem(
        await evaluation.client.get(
            f"/v1/wards/nerima/evaluations/{other_round}",
            headers=evaluation.member(started["lead_actor_id"]),
        ),
        404,
    )
    everything = await evaluation.get_json(
        "/v1/wards/nerima/evaluations", headers=evaluation.staff()
    )
    assert everything["total"] == 2
    assert other["project_id"] in {r["project_id"] for r in everything["items"]}
