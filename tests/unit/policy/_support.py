"""Helpers shared by the policy pack tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from importlib import resources
from typing import Any

from shared.policy import PolicyPack, load_builtin_pack

WARDS = ("nerima", "ota")
Path = tuple[str | int, ...]


def raw_pack_text(ward: str) -> str:
    return resources.files("shared.policy").joinpath("packs", f"{ward}.json").read_text("utf-8")


def pack_document(ward: str) -> dict[str, Any]:
    """A fresh, mutable JSON document of a built-in pack."""
    return load_builtin_pack(ward).model_dump(mode="json")


def with_value(document: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node: Any = changed
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return changed


def item_index(items: list[dict[str, Any]], code: str) -> int:
    return next(i for i, item in enumerate(items) if item.get("code") == code)


def leaves(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def validate(document: dict[str, Any]) -> PolicyPack:
    return PolicyPack.model_validate(document)
