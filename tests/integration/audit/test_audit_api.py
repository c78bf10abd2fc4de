"""Registry events reach the audit log; its HTTP proofs verify against the public checkpoint."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from shared.audit import merkle
from shared.audit.checkpoint import open_checkpoint, origin_for_ward
from shared.audit.note import Verifier
from tests.integration.audit.conftest import Platform
from tests.integration.registry.scenarios import neighbourhood_association, register_verified

pytestmark = pytest.mark.redis


def b64(text: str) -> bytes:
    return base64.b64decode(text)


async def public_verifiers(platform: Platform) -> list[Verifier]:
    response = await platform.audit.client.get("/v1/audit/keys")
    assert response.status_code == 200
    return [Verifier.from_key_string(key) for key in response.json()["keys"]]


async def test_registry_events_are_logged_and_proven(platform: Platform) -> None:
    actor_id = await register_verified(platform.registry, "nerima", neighbourhood_association())
    latest = await platform.audited("nerima")
    verifiers = await public_verifiers(platform)
    signed = open_checkpoint(latest["note"], verifiers, origin=origin_for_ward("nerima"))
    assert signed.checkpoint.tree_size == latest["tree_size"] == 3
    assert signed.checkpoint.root == b64(latest["root"])

    page = await platform.audit.get_json("/v1/wards/nerima/audit/entries", start=0)
    types = [entry_type(entry) for entry in page["entries"]]
    assert types == ["registry.WardOnboarded", "registry.ActorRegistered", "registry.ActorVerified"]
    leaf_hashes = [merkle.leaf_hash(entry["leaf"].encode()) for entry in page["entries"]]
    assert merkle.root_of(leaf_hashes) == signed.checkpoint.root

    verified = page["entries"][2]
    proof = await platform.audit.get_json(
        "/v1/wards/nerima/audit/proof/inclusion", ward="nerima", event_id=verified["event_id"]
    )
    leaf = proof["leaf"].encode()
    assert actor_id in proof["leaf"]
    merkle.verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        merkle.leaf_hash(leaf),
        [b64(h) for h in proof["hashes"]],
        signed.checkpoint.root,
    )


async def test_an_event_id_in_capitals_finds_the_same_proof(platform: Platform) -> None:
    await register_verified(platform.registry, "nerima", neighbourhood_association())
    await platform.audited("nerima")
    page = await platform.audit.get_json("/v1/wards/nerima/audit/entries", start=0)
    event_id = page["entries"][1]["event_id"]
    path = "/v1/wards/nerima/audit/proof/inclusion"
    as_logged = await platform.audit.get_json(path, event_id=event_id)
    in_capitals = await platform.audit.get_json(path, event_id=event_id.upper())
    assert in_capitals == as_logged
    assert in_capitals["event_id"] == event_id and in_capitals["leaf_index"] == 1


def entry_type(entry: dict[str, Any]) -> str:
    return str(json.loads(entry["leaf"])["event_type"])


async def test_consistency_between_two_public_checkpoints(platform: Platform) -> None:
    first = await platform.audited("nerima")
    await register_verified(platform.registry, "nerima", neighbourhood_association(name="早宮町会"))
    second = await platform.audited("nerima")
    assert second["tree_size"] == first["tree_size"] + 2
    proof = await platform.audit.get_json(
        "/v1/wards/nerima/audit/proof/consistency",
        first=first["tree_size"],
        second=second["tree_size"],
    )
    merkle.verify_consistency(
        first["tree_size"],
        second["tree_size"],
        [b64(h) for h in proof["hashes"]],
        b64(first["root"]),
        b64(second["root"]),
    )


async def test_an_event_delivered_twice_is_logged_once(platform: Platform) -> None:
    before = await platform.audited("nerima")
    redis = platform.audit.ctx.redis
    stream = platform.audit.ctx.names.events_for_ward("registry", "nerima")
    (_entry_id, fields), *_ = await redis.xrange(stream, count=1)
    again = await redis.xadd(stream, fields)

    async def delivered() -> bool:
        groups = await redis.xinfo_groups(stream)
        audit = next(g for g in groups if g["name"] == b"audit")
        return bool(audit["last-delivered-id"] == again and audit["pending"] == 0)

    await platform.registry.eventually(delivered, lambda done: done)
    after = await platform.audited("nerima")
    assert (after["tree_size"], after["root"]) == (before["tree_size"], before["root"])
    page = await platform.audit.get_json("/v1/wards/nerima/audit/entries", start=0)
    event_ids = [entry["event_id"] for entry in page["entries"]]
    assert len(event_ids) == len(set(event_ids)) == before["tree_size"]
