"""Who may read what: checkpoints and keys are public; entries and proofs are for auditors of
the ward and platform auditors; bad parameters get a 4xx problem."""

from __future__ import annotations

import pytest

from tests.integration.audit.conftest import Platform, assert_problem

pytestmark = pytest.mark.redis

PROTECTED = (
    "/v1/wards/{ward}/audit/entries?start=0",
    "/v1/wards/{ward}/audit/proof/inclusion?index=0",
    "/v1/wards/{ward}/audit/proof/consistency?first=1",
)


async def test_the_public_reads_checkpoints_and_keys(platform: Platform) -> None:
    latest = await platform.audited("ota")
    assert latest["tree_size"] >= 1 and latest["origin"] == "kyodo.example/audit/ota"
    assert latest["note"].startswith("kyodo.example/audit/ota\n")
    assert (await platform.audit.client.get("/health/ready")).status_code == 200
    keys = (await platform.audit.client.get("/v1/audit/keys")).json()
    assert keys["signing_key"] in keys["keys"]
    someone_else = platform.audit.auth("nerima", "staff")
    response = await platform.audit.client.get(
        "/v1/wards/ota/audit/checkpoint", headers=someone_else
    )
    assert response.status_code == 200


async def test_a_nerima_auditor_cannot_read_ota(platform: Platform) -> None:
    await platform.audited("ota")
    nerima_auditor = platform.audit.auth("nerima", "auditor")
    for path in PROTECTED:
        response = await platform.audit.client.get(path.format(ward="ota"), headers=nerima_auditor)
        assert_problem(response, 403)


async def test_auditors_of_the_ward_and_platform_auditors_read(platform: Platform) -> None:
    await platform.audited("ota")
    for headers in (platform.audit.auth("ota", "auditor"), platform.audit.auth("*", "auditor")):
        for path in PROTECTED:
            response = await platform.audit.client.get(path.format(ward="ota"), headers=headers)
            assert response.status_code == 200, response.text


async def test_other_roles_and_anonymous_callers_are_refused(platform: Platform) -> None:
    await platform.audited("ota")
    for path in PROTECTED:
        url = path.format(ward="ota")
        assert_problem(await platform.audit.client.get(url), 401)
        for headers in (
            platform.audit.auth("ota", "staff", "ward_admin"),
            platform.audit.auth("*", "platform_admin"),
        ):
            assert_problem(await platform.audit.client.get(url, headers=headers), 403)


BAD_PARAMETERS = [
    ("/v1/wards/ota/audit/entries?start=-1", 422),
    ("/v1/wards/ota/audit/entries?start=5&end=5", 422),
    ("/v1/wards/ota/audit/entries?start=0&end=1001", 422),
    ("/v1/wards/ota/audit/entries?start=999", 422),
    ("/v1/wards/ota/audit/entries?start=x", 422),
    ("/v1/wards/ota/audit/proof/inclusion", 422),
    ("/v1/wards/ota/audit/proof/inclusion?index=0&event_id=e", 422),
    ("/v1/wards/ota/audit/proof/inclusion?index=999", 422),
    ("/v1/wards/ota/audit/proof/inclusion?index=0&size=999", 422),
    ("/v1/wards/ota/audit/proof/inclusion?event_id=no-such-event", 422),
    ("/v1/wards/ota/audit/proof/inclusion?event_id=00000000-0000-4000-8000-000000000000", 404),
    ("/v1/wards/ota/audit/proof/consistency?first=0", 422),
    ("/v1/wards/ota/audit/proof/consistency?first=2&second=1", 422),
    ("/v1/wards/ota/audit/proof/consistency?first=1&second=999", 422),
    ("/v1/wards/Ota!/audit/entries", 422),
    ("/v1/wards/setagaya/audit/entries", 404),
]


async def test_bad_parameters_get_a_problem(platform: Platform) -> None:
    await platform.audited("ota")
    auditor = platform.audit.auth("*", "auditor")
    for path, status in BAD_PARAMETERS:
        assert_problem(await platform.audit.client.get(path, headers=auditor), status)


async def test_a_malformed_event_id_is_named_as_such(platform: Platform) -> None:
    await platform.audited("ota")
    url = "/v1/wards/ota/audit/proof/inclusion?event_id=no-such-event"
    problem = assert_problem(
        await platform.audit.client.get(url, headers=platform.audit.auth("ota", "auditor")), 422
    )
    assert "event_id" in problem["detail"] and "UUID" in problem["detail"]


async def test_an_event_of_another_ward_is_not_found(platform: Platform) -> None:
    await platform.audited("ota")
    await platform.audited("nerima")
    nerima = await platform.audit.get_json("/v1/wards/nerima/audit/entries", start=0)
    nerima_event = nerima["entries"][0]["event_id"]
    url = f"/v1/wards/ota/audit/proof/inclusion?event_id={nerima_event}"
    response = await platform.audit.client.get(url, headers=platform.audit.auth("*", "auditor"))
    assert "not in the audit log of ward 'ota'" in assert_problem(response, 404)["detail"]


async def test_a_ward_without_a_log_has_no_checkpoint(platform: Platform) -> None:
    assert_problem(await platform.audit.client.get("/v1/wards/setagaya/audit/checkpoint"), 404)
