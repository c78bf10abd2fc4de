"""Request bodies and short flows the proposals API tests share."""

from __future__ import annotations

from typing import Any

from shared.policy import load_builtin_pack
from tests.integration.proposals.conftest import LivePlatform

EXCLUSIONS = {
    ward: {exclusion.code: False for exclusion in load_builtin_pack(ward).exclusions}
    for ward in ("nerima", "ota")
}
RUBRIC = {
    ward: [item.code for item in load_builtin_pack(ward).screening.rubric]
    for ward in ("nerima", "ota")
}

GROUPS: dict[str, dict[str, Any]] = {
    "nerima": {
        "kind": "voluntary_group",
        "name": "石神井公園みどりのボランティア",
        "name_kana": "しゃくじいこうえんみどりのぼらんてぃあ",
        "fields": ["environment"],
        "area": "石神井公園",
    },
    "ota": {
        "kind": "civic_group",
        "name": "多摩川河川敷クリーンアップの会",
        "name_kana": "たまがわかせんじきくりーんあっぷのかい",
        "fields": ["environment"],
        "area": "田園調布",
    },
}


async def registered_actor(
    live: LivePlatform, ward: str, *, name: str | None = None, verify: bool = True
) -> str:
    """An actor registered (and verified) through the registry's HTTP API, once the proposals
    service has seen it over the stream."""
    body = {**GROUPS[ward], **({"name": name} if name else {})}
    response = await live.registry.post(
        f"/v1/wards/{ward}/actors", json=body, headers=live.auth(ward, "actor")
    )
    assert response.status_code == 201, response.text
    actor_id = str(response.json()["actor_id"])
    if verify:
        verified = await live.registry.post(
            f"/v1/wards/{ward}/actors/{actor_id}/verify", headers=live.auth(ward, "staff")
        )
        assert verified.status_code == 200, verified.text
    await live.actor_known(ward, actor_id, "active" if verify else "pending")
    return actor_id


async def suspend_in_registry(live: LivePlatform, ward: str, actor_id: str) -> None:
    response = await live.registry.post(
        f"/v1/wards/{ward}/actors/{actor_id}/suspend",
        json={"reason": "活動実態の確認中"},
        headers=live.auth(ward, "staff"),
    )
    assert response.status_code == 200, response.text


def call_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "title": "区民提案型 協働事業の募集",
        "kind": "citizen_proposed",
        "opens_on": "2026-04-01",
        "closes_on": "2026-05-31",
        "allowed_forms": ["subsidy", "co_hosting", "commission"],
        "budget_limit_yen": 3_000_000,
    }
    return {**body, **overrides}


async def open_call(live: LivePlatform, ward: str, **overrides: Any) -> str:
    response = await live.proposals.post(
        f"/v1/wards/{ward}/calls", json=call_body(**overrides), headers=live.auth(ward, "staff")
    )
    assert response.status_code == 201, response.text
    return str(response.json()["call_id"])


def proposal_body(
    ward: str, call_id: str, lead: str, partners: list[str] | None = None, **overrides: Any
) -> dict[str, Any]:
    partners = partners or []
    body = {
        "call_id": call_id,
        "lead_actor_id": lead,
        "partner_actor_ids": partners,
        "title": "公園の住民自主管理",
        "local_issue": "公園の花壇の手入れが行き届かない。",
        "purpose": "住民の管理運営委員会が花壇と広場の点検・清掃を担う。",
        "form": "subsidy",
        "department": "公園緑地課",
        "fields": ["environment"],
        "roles": [
            {"party": lead, "role": "点検と清掃"},
            *({"party": p, "role": "参加者の募集"} for p in partners),
            {"party": "ward", "role": "経費の一部補助"},
        ],
        "budget_total_yen": 1_000_000,
        "requested_yen": 600_000,
        "term_start": "2026-06-01",
        "term_end": "2027-03-31",
        "exclusions": EXCLUSIONS[ward],
    }
    return {**body, **overrides}


async def drafted(live: LivePlatform, ward: str, body: dict[str, Any]) -> str:
    lead = body["lead_actor_id"]
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals", json=body, headers=live.auth(ward, "actor", actor_id=lead)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["proposal_id"])


async def submit(live: LivePlatform, ward: str, proposal_id: str, lead: str) -> dict[str, Any]:
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/submit",
        headers=live.auth(ward, "actor", actor_id=lead),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def scores(ward: str, score: int = 4) -> dict[str, Any]:
    return {"scores": {code: score for code in RUBRIC[ward]}}


async def review(
    live: LivePlatform, ward: str, proposal_id: str, reviewer: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/reviews",
        json=body,
        headers=live.auth(ward, "reviewer", subject=reviewer),
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def decide(
    live: LivePlatform, ward: str, proposal_id: str, outcome: str = "adopted"
) -> dict[str, Any]:
    response = await live.proposals.post(
        f"/v1/wards/{ward}/proposals/{proposal_id}/decision",
        json={"outcome": outcome, "reasons": ["地域の課題にこたえる公益性の高い事業である。"]},
        headers=live.auth(ward, "staff"),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def under_review(
    live: LivePlatform, ward: str, *, partners: int = 0
) -> tuple[str, str, list[str]]:
    """A verified lead (and partners) and an eligible proposal under review."""
    lead = await registered_actor(live, ward)
    others = [await registered_actor(live, ward, name=f"協力団体{i}") for i in range(partners)]
    call_id = await open_call(live, ward)
    proposal_id = await drafted(live, ward, proposal_body(ward, call_id, lead, others))
    submitted = await submit(live, ward, proposal_id, lead)
    assert submitted["eligibility"]["eligible"] is True, submitted["eligibility"]
    return proposal_id, lead, others


async def adopted(
    live: LivePlatform, ward: str, *, partners: int = 0
) -> tuple[str, str, list[str]]:
    proposal_id, lead, others = await under_review(live, ward, partners=partners)
    for reviewer in ("r1", "r2", "r3"):
        await review(live, ward, proposal_id, f"{reviewer}@{ward}", scores(ward))
    await decide(live, ward, proposal_id)
    return proposal_id, lead, others


def agreement_body(lead: str, partners: list[str], **overrides: Any) -> dict[str, Any]:
    parties = [
        {"party": lead, "role": "点検と清掃", "cost_share_yen": 400_000},
        *({"party": p, "role": "参加者の募集", "cost_share_yen": 0} for p in partners),
        {"party": "ward", "role": "経費の一部補助", "cost_share_yen": 600_000},
    ]
    body = {
        "parties": parties,
        "information_sharing": "月に一度、連絡会で活動の状況を共有する。",
        "disclosure": "成果と収支を区のホームページで公開する。",
    }
    return {**body, **overrides}
