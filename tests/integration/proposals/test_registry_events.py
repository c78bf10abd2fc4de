"""What the registry says, over the real stream, changes what the proposals service decides."""

from __future__ import annotations

import pytest

from tests.integration.proposals.conftest import LivePlatform
from tests.integration.proposals.scenarios import (
    drafted,
    open_call,
    proposal_body,
    registered_actor,
    submit,
    suspend_in_registry,
)

pytestmark = pytest.mark.redis


async def test_an_actor_suspended_in_the_registry_is_ineligible_at_its_next_submission(
    platform: LivePlatform,
) -> None:
    live, ward = platform, "ota"
    lead = await registered_actor(live, ward)
    call_id = await open_call(live, ward)
    first = await drafted(live, ward, proposal_body(ward, call_id, lead))
    second = await drafted(live, ward, proposal_body(ward, call_id, lead, title="第二の提案"))
    eligible = await submit(live, ward, first, lead)
    assert eligible["eligibility"]["eligible"] is True

    await suspend_in_registry(live, ward, lead)
    await live.actor_known(ward, lead, "suspended")

    before = await live.event_count()
    ineligible = await submit(live, ward, second, lead)
    assert ineligible["status"] == "ineligible"
    assert ineligible["eligibility"]["reasons"] == [
        {"code": "actor_suspended", "message": f"actor {lead} is suspended", "actor_id": lead}
    ]
    assert await live.event_count() == before + 2  # ProposalSubmitted, EligibilityAssessed
    staff = live.auth(ward, "staff")
    stored = await live.eventually(
        lambda: live.proposals.get(f"/v1/wards/{ward}/proposals/{second}", headers=staff),
        lambda response: response.status_code == 200,
    )
    assert stored.json()["status"] == "ineligible"
    assert stored.json()["eligibility"]["reasons"][0]["code"] == "actor_suspended"


async def test_a_partner_verified_in_the_registry_makes_a_resubmission_possible(
    platform: LivePlatform,
) -> None:
    """An unverified partner makes a proposal ineligible; once staff verify it in the registry,
    a new proposal with it is eligible."""
    live, ward = platform, "nerima"
    lead = await registered_actor(live, ward)
    partner = await registered_actor(live, ward, name="準備中の団体", verify=False)
    call_id = await open_call(live, ward)
    first = await drafted(live, ward, proposal_body(ward, call_id, lead, [partner]))
    refused = await submit(live, ward, first, lead)
    assert [r["code"] for r in refused["eligibility"]["reasons"]] == ["actor_not_verified"]

    verified = await live.registry.post(
        f"/v1/wards/{ward}/actors/{partner}/verify", headers=live.auth(ward, "staff")
    )
    assert verified.status_code == 200
    await live.actor_known(ward, partner, "active")
    second = await drafted(live, ward, proposal_body(ward, call_id, lead, [partner]))
    assert (await submit(live, ward, second, lead))["eligibility"]["eligible"] is True


async def test_a_new_policy_pack_from_the_registry_applies_to_the_next_call(
    platform: LivePlatform,
) -> None:
    """The rubric of a call comes from the ward's pack as the registry last published it."""
    live, ward = platform, "nerima"
    policy = await live.registry.get(f"/v1/wards/{ward}/policy")
    pack = policy.json()["pack"]
    pack["version"] = 2
    pack["screening"]["min_counted_reviews"] = 1
    pack["screening"]["rubric"] = pack["screening"]["rubric"][:2]
    changed = await live.registry.put(
        f"/v1/wards/{ward}/policy",
        json={"pack": pack, "reason": "審査項目の見直し"},
        headers=live.auth(ward, "ward_admin"),
    )
    assert changed.status_code == 200, changed.text

    async def rubric_of_new_call() -> list[str]:
        call_id = await open_call(live, ward)
        call = await live.eventually(
            lambda: live.proposals.get(f"/v1/wards/{ward}/calls/{call_id}"),
            lambda r: r.status_code == 200,
        )
        return [item["code"] for item in call.json()["rubric"]]

    await live.eventually(rubric_of_new_call, lambda codes: len(codes) == 2)
