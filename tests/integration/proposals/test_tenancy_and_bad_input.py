"""Tenancy, roles and bad input: each refusal is a 4xx problem+json that appends nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.proposals.conftest import LivePlatform, assert_problem
from tests.integration.proposals.scenarios import (
    adopted,
    agreement_body,
    call_body,
    drafted,
    open_call,
    proposal_body,
    registered_actor,
    review,
    scores,
    suspend_in_registry,
    under_review,
)

pytestmark = pytest.mark.redis


async def test_a_nerima_reviewer_cannot_review_in_ota(platform: LivePlatform) -> None:
    live = platform
    proposal_id, _lead, _ = await under_review(live, "ota")
    before = await live.event_count()
    nerima_reviewer = live.auth("nerima", "reviewer", subject="r1@nerima")
    response = await live.proposals.post(
        f"/v1/wards/ota/proposals/{proposal_id}/reviews",
        json=scores("ota"),
        headers=nerima_reviewer,
    )
    assert assert_problem(response, 403)["ward"] == "ota"
    # Nor through its own ward's path: the Ota proposal does not exist in Nerima.
    response = await live.proposals.post(
        f"/v1/wards/nerima/proposals/{proposal_id}/reviews",
        json=scores("nerima"),
        headers=nerima_reviewer,
    )
    assert_problem(response, 404)
    assert await live.event_count() == before


OTA_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/v1/wards/ota/calls", call_body()),
    ("GET", "/v1/wards/ota/calls", None),
    ("GET", "/v1/wards/ota/calls/c/ranking", None),
    ("POST", "/v1/wards/ota/proposals", {"call_id": "c"}),
    ("GET", "/v1/wards/ota/proposals", None),
    ("GET", "/v1/wards/ota/proposals/p", None),
    ("PATCH", "/v1/wards/ota/proposals/p", {"title": "x"}),
    ("POST", "/v1/wards/ota/proposals/p/submit", None),
    ("POST", "/v1/wards/ota/proposals/p/withdraw", None),
    ("POST", "/v1/wards/ota/proposals/p/reviews", {"conflict_of_interest": True}),
    ("GET", "/v1/wards/ota/proposals/p/reviews", None),
    ("POST", "/v1/wards/ota/proposals/p/decision", {"outcome": "adopted", "reasons": ["r"]}),
    ("POST", "/v1/wards/ota/proposals/p/agreement", {}),
    ("GET", "/v1/wards/ota/proposals/p/agreement", None),
    ("POST", "/v1/wards/ota/proposals/p/agreement/sign", None),
    ("GET", "/v1/wards/ota/projects", None),
    ("POST", "/v1/wards/ota/projects/x/end", {"reason": "r"}),
]


@pytest.mark.parametrize("role", ["staff", "reviewer", "actor"])
async def test_a_nerima_token_gets_403_on_every_ota_route(
    platform: LivePlatform, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = platform.auth("nerima", role, actor_id="some-actor")
    before = await platform.event_count()
    for method, path, body in OTA_ROUTES:
        response = await platform.proposals.request(method, path, json=body, headers=headers)
        assert assert_problem(response, 403)["ward"] == "ota", (method, path)
    assert await platform.event_count() == before
    assert "target_ward=ota" in caplog.text


async def test_an_actor_cannot_propose_or_submit_for_another_actor(platform: LivePlatform) -> None:
    live, ward = platform, "nerima"
    lead = await registered_actor(live, ward)
    other = await registered_actor(live, ward, name="別の団体")
    call_id = await open_call(live, ward)
    proposal_id = await drafted(live, ward, proposal_body(ward, call_id, lead))
    before = await live.event_count()
    other_member = live.auth(ward, "actor", actor_id=other)
    base = f"/v1/wards/{ward}/proposals"

    for_lead = await live.proposals.post(
        base, json=proposal_body(ward, call_id, lead), headers=other_member
    )
    assert_problem(for_lead, 403)
    no_actor_claim = await live.proposals.post(
        base, json=proposal_body(ward, call_id, lead), headers=live.auth(ward, "actor")
    )
    assert_problem(no_actor_claim, 403)
    assert_problem(
        await live.proposals.post(f"{base}/{proposal_id}/submit", headers=other_member), 403
    )
    assert_problem(
        await live.proposals.patch(
            f"{base}/{proposal_id}", json={"title": "x"}, headers=other_member
        ),
        403,
    )
    assert_problem(
        await live.proposals.post(f"{base}/{proposal_id}/withdraw", headers=other_member), 403
    )
    staff_submit = await live.proposals.post(
        f"{base}/{proposal_id}/submit", headers=live.auth(ward, "staff")
    )
    assert_problem(staff_submit, 403)
    assert await live.event_count() == before


async def test_a_suspended_actor_cannot_submit_a_proposal(platform: LivePlatform) -> None:
    live, ward = platform, "nerima"
    lead = await registered_actor(live, ward)
    call_id = await open_call(live, ward)
    await suspend_in_registry(live, ward, lead)
    await live.actor_known(ward, lead, "suspended")
    before = await live.event_count()
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals",
        json=proposal_body(ward, call_id, lead),
        headers=live.auth(ward, "actor", actor_id=lead),
    )
    problem = assert_problem(response, 409)
    assert problem["actor_status"] == "suspended"
    assert await live.event_count() == before


async def test_a_decision_without_enough_counted_reviews_is_refused(platform: LivePlatform) -> None:
    live, ward = platform, "ota"
    proposal_id, lead, _ = await under_review(live, ward)
    await review(live, ward, proposal_id, "r1@ota", scores(ward))
    await review(live, ward, proposal_id, "r2@ota", scores(ward))
    member = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/reviews",
        json=scores(ward, 5),
        headers=live.auth(ward, "reviewer", actor_id=lead, subject="r3@ota"),
    )
    assert member.json()["recusal_reason"] == "member_of_proposing_actor"
    before = await live.event_count()
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/decision",
        json={"outcome": "adopted", "reasons": ["良い提案"]},
        headers=live.auth(ward, "staff"),
    )
    problem = assert_problem(response, 409)
    assert (problem["counted_reviews"], problem["min_counted_reviews"]) == (2, 3)
    not_staff = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/decision",
        json={"outcome": "adopted", "reasons": ["良い提案"]},
        headers=live.auth(ward, "reviewer"),
    )
    assert_problem(not_staff, 403)
    assert await live.event_count() == before


async def test_a_party_outside_the_agreement_cannot_sign(platform: LivePlatform) -> None:
    live, ward = platform, "nerima"
    proposal_id, lead, _ = await adopted(live, ward)
    outsider = await registered_actor(live, ward, name="協定外の団体")
    staff = live.auth(ward, "staff")
    base = f"/v1/wards/{ward}/proposals/{proposal_id}/agreement"
    drafted_agreement = await live.proposals.post(
        base, json=agreement_body(lead, []), headers=staff
    )
    assert drafted_agreement.status_code == 201, drafted_agreement.text
    before = await live.event_count()

    outside = await live.proposals.post(
        f"{base}/sign", headers=live.auth(ward, "actor", actor_id=outsider)
    )
    assert "not a party" in assert_problem(outside, 403)["detail"]
    for_the_lead = await live.proposals.post(
        f"{base}/sign", json={"party": lead}, headers=live.auth(ward, "actor", actor_id=outsider)
    )
    assert_problem(for_the_lead, 403)
    staff_for_actor = await live.proposals.post(f"{base}/sign", json={"party": lead}, headers=staff)
    assert_problem(staff_for_actor, 403)
    reviewer = await live.proposals.post(f"{base}/sign", headers=live.auth(ward, "reviewer"))
    assert_problem(reviewer, 403)
    stale = await live.proposals.post(
        f"{base}/sign",
        json={"agreement_version": 2},
        headers=live.auth(ward, "actor", actor_id=lead),
    )
    assert_problem(stale, 409)
    assert await live.event_count() == before


async def test_an_agreement_whose_shares_do_not_sum_to_the_total_changes_nothing(
    platform: LivePlatform,
) -> None:
    live, ward = platform, "ota"
    proposal_id, lead, _ = await adopted(live, ward)
    before = await live.event_count()
    base = f"/v1/wards/{ward}/proposals/{proposal_id}/agreement"
    staff = live.auth(ward, "staff")
    body = agreement_body(lead, [])
    body["parties"][0]["cost_share_yen"] = 399_999
    assert_problem(await live.proposals.post(base, json=body, headers=staff), 422)
    body["parties"][0]["cost_share_yen"] = 400_000.5
    assert_problem(await live.proposals.post(base, json=body, headers=staff), 422)
    body["parties"][0]["cost_share_yen"] = -1
    assert_problem(await live.proposals.post(base, json=body, headers=staff), 422)
    missing_ward = agreement_body(lead, [])
    missing_ward["parties"] = missing_ward["parties"][:1]
    assert_problem(await live.proposals.post(base, json=missing_ward, headers=staff), 422)
    assert await live.event_count() == before


def bad_proposals(call_id: str, lead: str) -> list[tuple[str, dict[str, Any], int]]:
    def body(**overrides: Any) -> dict[str, Any]:
        return proposal_body("nerima", call_id, lead, **overrides)

    return [
        ("float money", body(budget_total_yen=1_000_000.5), 422),
        ("money as text", body(requested_yen="600000"), 422),
        ("negative money", body(requested_yen=-1), 422),
        ("zero total", body(budget_total_yen=0, requested_yen=0), 422),
        ("requested over total", body(requested_yen=1_000_001), 422),
        ("term ends before it starts", body(term_end="2026-05-01"), 422),
        ("field of the other ward", body(fields=["tourism"]), 422),
        ("no fields", body(fields=[]), 422),
        ("unknown exclusion", body(exclusions={"gambling": False}), 422),
        ("exclusion not a bool", body(exclusions={"political": "no"}), 422),
        ("role of a stranger", body(roles=[{"party": "someone", "role": "x"}]), 422),
        ("oversized title", body(title="事" * 201), 422),
        ("blank purpose", body(purpose="　 "), 422),
        ("unknown property", body(priority=1), 422),
        ("unknown call", {**body(), "call_id": "no-such-call"}, 422),
        ("not a date", body(term_start="next spring"), 422),
    ]


async def test_bad_proposals_change_nothing(platform: LivePlatform) -> None:
    live, ward = platform, "nerima"
    lead = await registered_actor(live, ward)
    call_id = await open_call(live, ward)
    before = await live.event_count()
    headers = live.auth(ward, "actor", actor_id=lead)
    for case, body, status in bad_proposals(call_id, lead):
        response = await live.proposals.post(
            f"/v1/wards/{ward}/proposals", json=body, headers=headers
        )
        assert response.status_code == status, (case, response.text)
        assert_problem(response, status)
    oversized = proposal_body(ward, call_id, lead, purpose="あ" * 300_000)
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals", json=oversized, headers=headers
    )
    assert response.status_code in (413, 422)
    assert await live.event_count() == before


BAD_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("unknown form", call_body(allowed_forms=["guild_support"])),
    ("side support", call_body(allowed_forms=["other_support"])),
    ("closes before it opens", call_body(opens_on="2026-06-01", closes_on="2026-05-01")),
    ("float budget", call_body(budget_limit_yen=3_000_000.0)),
    ("unknown kind", call_body(kind="lottery")),
    (
        "repeated rubric code",
        call_body(rubric=[{"code": "a", "ja": "甲", "weight": 1, "max_score": 5}] * 2),
    ),
    ("zero weight", call_body(rubric=[{"code": "a", "ja": "甲", "weight": 0, "max_score": 5}])),
]


async def test_bad_calls_change_nothing(platform: LivePlatform) -> None:
    before = await platform.event_count()
    staff = platform.auth("nerima", "staff")
    for case, body in BAD_CALLS:
        response = await platform.proposals.post("/v1/wards/nerima/calls", json=body, headers=staff)
        assert response.status_code == 422, (case, response.text)
        assert_problem(response, 422)
    not_staff = await platform.proposals.post(
        "/v1/wards/nerima/calls", json=call_body(), headers=platform.auth("nerima", "reviewer")
    )
    assert_problem(not_staff, 403)
    assert_problem(await platform.proposals.post("/v1/wards/nerima/calls", json=call_body()), 401)
    assert await platform.event_count() == before


async def test_undecided_proposals_are_seen_only_by_proposers_staff_and_reviewers(
    platform: LivePlatform,
) -> None:
    live, ward = platform, "nerima"
    proposal_id, lead, [partner] = await under_review(live, ward, partners=1)
    draft_id = await drafted(
        live,
        ward,
        proposal_body(ward, (await live.get_json(f"/v1/wards/{ward}/calls"))[0]["call_id"], lead),
    )
    other = await registered_actor(live, ward, name="無関係の団体")
    path = f"/v1/wards/{ward}/proposals"

    async def listed(headers: dict[str, str] | None = None) -> set[str]:
        page = await live.get_json(path, headers=headers or {})
        return {item["proposal_id"] for item in page["items"]}

    lead_member = live.auth(ward, "actor", actor_id=lead)
    await live.eventually(lambda: listed(lead_member), lambda ids: ids == {proposal_id, draft_id})
    assert await listed(live.auth(ward, "actor", actor_id=partner)) == {proposal_id}
    assert await listed(live.auth(ward, "staff")) == {proposal_id}
    assert await listed(live.auth(ward, "reviewer")) == {proposal_id}
    assert await listed(live.auth(ward, "actor", actor_id=other)) == set()
    assert await listed() == set()
    assert_problem(
        await live.proposals.get(f"{path}/{draft_id}", headers=live.auth(ward, "staff")), 404
    )
    assert_problem(
        await live.proposals.get(
            f"{path}/{proposal_id}", headers=live.auth(ward, "actor", actor_id=other)
        ),
        404,
    )
    assert_problem(
        await live.proposals.get(f"{path}/{proposal_id}/reviews", headers=lead_member), 403
    )
    assert_problem(await live.proposals.get(f"/v1/wards/ota/proposals/{proposal_id}"), 404)


async def test_a_retried_submission_is_assessed_once(platform: LivePlatform) -> None:
    live, ward = platform, "ota"
    lead = await registered_actor(live, ward)
    call_id = await open_call(live, ward)
    proposal_id = await drafted(live, ward, proposal_body(ward, call_id, lead))
    headers = {**live.auth(ward, "actor", actor_id=lead), "Idempotency-Key": "submit-once"}
    path = f"/v1/wards/{ward}/proposals/{proposal_id}/submit"
    first = await live.proposals.post(path, headers=headers)
    count = await live.event_count()
    again = await live.proposals.post(path, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert await live.event_count() == count
    without_key = await live.proposals.post(path, headers=live.auth(ward, "actor", actor_id=lead))
    assert_problem(without_key, 409)
