"""Done means: a citizen-proposed project goes from call to ProjectStarted through the HTTP API,
with the reasons recorded at every step."""

from __future__ import annotations

import json
from typing import Any

import pytest
from redis.asyncio import Redis

from shared.bus.streams import StreamNames
from tests.integration.proposals.conftest import LivePlatform, assert_problem
from tests.integration.proposals.scenarios import (
    agreement_body,
    decide,
    drafted,
    open_call,
    proposal_body,
    registered_actor,
    review,
    scores,
    submit,
)

pytestmark = pytest.mark.redis


async def proposals_stream(redis: Redis, names: StreamNames, ward: str) -> list[dict[str, Any]]:
    entries = await redis.xrange(names.events_for_ward("proposals", ward)) or []
    return [json.loads(fields[b"e"]) for _id, fields in entries if fields is not None]


async def test_a_citizen_proposed_project_goes_from_call_to_project_started(
    platform: LivePlatform, redis: Redis, stream_names: StreamNames
) -> None:
    live, ward = platform, "nerima"
    lead = await registered_actor(live, ward)
    partner = await registered_actor(live, ward, name="光が丘第一町会")
    lead_member = live.auth(ward, "actor", actor_id=lead)
    partner_member = live.auth(ward, "actor", actor_id=partner)
    staff = live.auth(ward, "staff")

    # 募集: staff open a citizen-proposed call with the pack's rubric.
    call_id = await open_call(live, ward)
    call = await live.eventually(
        lambda: live.proposals.get(f"/v1/wards/{ward}/calls/{call_id}"),
        lambda r: r.status_code == 200,
    )
    assert call.json()["citizen_proposed"] is True
    assert call.json()["rubric"][0]["code"] == "public_benefit"

    # 提案: the lead actor drafts, edits and submits; eligibility is recorded with its checks.
    body = proposal_body(ward, call_id, lead, [partner], title="石神井公園の自主管理")
    proposal_id = await drafted(live, ward, body)
    base = f"/v1/wards/{ward}/proposals/{proposal_id}"
    edited = await live.proposals.patch(
        base, json={"title": "石神井公園の住民自主管理"}, headers=lead_member
    )
    assert edited.status_code == 200, edited.text
    submitted = await submit(live, ward, proposal_id, lead)
    assert submitted["status"] == "under_review" and submitted["domain"] == "B"
    assert submitted["eligibility"]["eligible"] is True
    assert submitted["eligibility"]["reasons"] == []
    assert {c["rule"] for c in submitted["eligibility"]["checks"]} >= {
        "actor_in_good_standing",
        "call_open",
        "form_allowed",
        "collaboration_domain",
        "budget_within_limit",
        "term_within_limit",
        "exclusion",
    }

    # Not yet public: the proposers, staff and reviewers see it; the public does not.
    await live.eventually(
        lambda: live.proposals.get(base, headers=staff), lambda r: r.status_code == 200
    )
    assert_problem(await live.proposals.get(base), 404)
    assert (await live.proposals.get(base, headers=partner_member)).status_code == 200

    # 審査: a reviewer declaring a conflict and one who is a member of the partner are
    # recused; three others count.
    conflict = {"conflict_of_interest": True, "comment": "提案団体の役員を兼ねている"}
    recused = await review(live, ward, proposal_id, "r0@nerima", conflict)
    assert recused["counted"] is False
    assert recused["recusal_reason"] == "conflict_of_interest"
    member_reviewer = await live.proposals.post(
        f"{base}/reviews",
        json=scores(ward, 5),
        headers=live.auth(ward, "reviewer", actor_id=partner, subject="r-member@nerima"),
    )
    assert member_reviewer.status_code == 201
    assert member_reviewer.json()["recusal_reason"] == "member_of_proposing_actor"
    for reviewer, score in (("r1@nerima", 4), ("r2@nerima", 5), ("r3@nerima", 3)):
        counted = await review(live, ward, proposal_id, reviewer, scores(ward, score))
        assert counted["counted"] is True
    assert counted["counted_reviews"] == 3 and counted["weighted_score_sum"] == (4 + 5 + 3) * 14

    # 決定: adopted with reasons, and public from then on.
    decided = await decide(live, ward, proposal_id)
    assert decided["status"] == "adopted"
    assert decided["decision"]["reasons"] == ["地域の課題にこたえる公益性の高い事業である。"]
    public = await live.eventually(lambda: live.proposals.get(base), lambda r: r.status_code == 200)
    assert public.json()["decision"]["outcome"] == "adopted"

    # 協働協定書: drafted by staff, signed by every party; the last signature starts the project.
    agreement = await live.proposals.post(
        f"{base}/agreement", json=agreement_body(lead, [partner]), headers=staff
    )
    assert agreement.status_code == 201, agreement.text
    assert agreement.json()["versions"][0]["unsigned_parties"] == [lead, partner, "ward"]
    for headers in (lead_member, staff):
        signed = await live.proposals.post(f"{base}/agreement/sign", headers=headers)
        assert signed.status_code == 200, signed.text
        assert signed.json()["status"] == "drafting"
    last = await live.proposals.post(
        f"{base}/agreement/sign", json={"agreement_version": 1}, headers=partner_member
    )
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "started" and last.json()["in_force_version"] == 1

    # 公開: the started project is listed for everyone with its form, domain and parties.
    projects = await live.eventually(
        lambda: live.get_json(f"/v1/wards/{ward}/projects"), lambda page: page["total"] == 1
    )
    project = projects["items"][0]
    assert (project["form"], project["domain"], project["department"]) == (
        "subsidy",
        "B",
        "公園緑地課",
    )
    assert [p["party"] for p in project["parties"]] == [lead, partner, "ward"]

    # Every step is on the proposals stream, each with its reasons.
    events = await live.eventually(
        lambda: proposals_stream(redis, stream_names, ward),
        lambda found: "proposals.ProjectStarted" in {e["event_type"] for e in found},
    )
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_type.setdefault(event["event_type"], []).append(event["data"])
    assert [d["call_id"] for d in by_type["proposals.CallOpened"]] == [call_id]
    assert by_type["proposals.EligibilityAssessed"][0]["eligible"] is True
    assert {d["reason"] for d in by_type["proposals.ReviewerRecused"]} == {
        "conflict_of_interest",
        "member_of_proposing_actor",
    }
    assert len(by_type["proposals.ReviewSubmitted"]) == 3
    assert by_type["proposals.ProposalDecided"][0]["reasons"]
    assert len(by_type["proposals.AgreementSigned"]) == 3
    started = by_type["proposals.ProjectStarted"][0]
    assert started["proposal_id"] == proposal_id and started["call_id"] == call_id
    assert (started["form"], started["domain"]) == ("subsidy", "B")
    assert started["lead_actor_id"] == lead and started["partner_actor_ids"] == [partner]
    assert started["fields"] == ["environment"] and started["citizen_proposed"] is True
    assert started["budget_total_yen"] == 1_000_000 and started["requested_yen"] == 600_000
    assert sum(p["cost_share_yen"] for p in started["parties"]) == started["budget_total_yen"]
    assert (started["term_start"], started["term_end"]) == ("2026-06-01", "2027-03-31")
    assert started["agreement_version"] == 1 and started["department"] == "公園緑地課"
    assert started["project_id"] == project["project_id"]
