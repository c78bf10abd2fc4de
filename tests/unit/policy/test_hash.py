"""pack_hash identifies a pack's content: stable, and different when anything differs."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any

import pytest
import rfc8785
from pydantic import ValidationError

from shared.policy import canonical_json, load_builtin_pack, pack_hash, parse_pack
from tests.unit.policy._support import (
    WARDS,
    item_index,
    leaves,
    pack_document,
    raw_pack_text,
    validate,
    with_value,
)

# Built-in packs are recorded in events by version; changing one's content means a new version.
PINNED = {
    ("nerima", 1): "c7f20af49e28799b2f9266c65f9c441ff1d15cced514559ae288db2c1c825da8",
    ("ota", 1): "e0ed7ec52df10903073ffdfd0cdefe800b6c9233c835da048d3616d834aa5a10",
}


@pytest.mark.parametrize("ward", WARDS)
def test_builtin_pack_content_is_pinned_to_its_version(ward: str) -> None:
    pack = load_builtin_pack(ward)
    assert pack_hash(pack) == PINNED[(ward, pack.version)], (
        "pack content changed: bump its version and pin the new hash"
    )


@pytest.mark.parametrize("ward", WARDS)
def test_hash_is_sha256_of_rfc8785_json(ward: str) -> None:
    pack = load_builtin_pack(ward)
    expected = hashlib.sha256(rfc8785.dumps(json.loads(raw_pack_text(ward)))).hexdigest()
    assert pack_hash(pack) == expected
    assert len(expected) == 64
    assert canonical_json(pack) == rfc8785.dumps(pack.model_dump(mode="json"))


@pytest.mark.parametrize("ward", WARDS)
def test_hash_ignores_key_order_and_layout(ward: str) -> None:
    document = json.loads(raw_pack_text(ward))
    keys = list(document)
    random.Random(7).shuffle(keys)
    shuffled = json.dumps({key: document[key] for key in keys}, ensure_ascii=True)
    assert pack_hash(parse_pack(shuffled)) == pack_hash(load_builtin_pack(ward))


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    return None


@pytest.mark.parametrize("ward", WARDS)
def test_hash_changes_when_any_value_changes(ward: str) -> None:
    document = pack_document(ward)
    original = pack_hash(validate(document))
    checked = rejected = 0
    for path, value in leaves(document):
        if value is None:
            continue
        try:
            pack = validate(with_value(document, path, _changed(value)))
        except ValidationError:
            rejected += 1  # the change broke an invariant: such a pack cannot exist
            continue
        checked += 1
        assert pack_hash(pack) != original, path
    assert checked > 2 * rejected, (checked, rejected)


def _other_lg_code(document: dict[str, Any]) -> dict[str, Any]:
    return with_value(document, ("lg_code",), "131016")


def _subsidy_in_domain_c(document: dict[str, Any]) -> dict[str, Any]:
    index = item_index(document["forms"], "subsidy")
    return with_value(document, ("forms", index, "domain"), "C")


def _field_before_actor(document: dict[str, Any]) -> dict[str, Any]:
    order = ["project", "field", "actor", "general"]
    return with_value(document, ("fund", "specificity_order"), order)


def _one_basis_point_moved(document: dict[str, Any]) -> dict[str, Any]:
    moved = with_value(document, ("domain_baseline", "shares", 0, "share_bp"), 2541)
    return with_value(moved, ("domain_baseline", "shares", 1, "share_bp"), 1769)


@pytest.mark.parametrize(
    "edit", [_other_lg_code, _subsidy_in_domain_c, _field_before_actor, _one_basis_point_moved]
)
def test_hash_changes_for_edits_that_keep_the_pack_valid(
    edit: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    document = pack_document("nerima")
    assert pack_hash(validate(edit(document))) != pack_hash(validate(document))


@pytest.mark.parametrize("ward", WARDS)
def test_hash_changes_when_list_order_changes(ward: str) -> None:
    document = pack_document(ward)
    reordered = with_value(document, ("principles",), list(reversed(document["principles"])))
    assert pack_hash(validate(reordered)) != pack_hash(validate(document))
