"""Where a pack's values come from: cited sources and paths marked as chosen defaults.

A path is dotted: ``fund.min_donation_yen``, ``screening.rubric.public_benefit.weight``.
Inside a list of objects an element is named by its key (``code``, ``id``, ``domain`` or
``actor_kind``) and ``*`` names every element. A default path covers everything beneath it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

KEY_FIELDS = ("code", "id", "domain", "actor_kind")
WILDCARD = "*"


def element_key(element: object) -> str | None:
    """The key naming a list element in a path, if it has one."""
    if isinstance(element, Mapping):
        for field in KEY_FIELDS:
            value = element.get(field)
            if isinstance(value, str):
                return value
    return None


def resolve(document: Any, path: str) -> list[Any]:
    """Every node a path names; raises ``ValueError`` if any segment names nothing."""
    nodes = [document]
    for segment in path.split("."):
        nodes = [child for node in nodes for child in _children(node, segment, path)]
    return nodes


def _children(node: Any, segment: str, path: str) -> list[Any]:
    if isinstance(node, Mapping):
        if segment in node:
            return [node[segment]]
    elif isinstance(node, Sequence) and not isinstance(node, str):
        if segment == WILDCARD:
            return list(node)
        matches = [element for element in node if element_key(element) == segment]
        if matches:
            return matches
    raise ValueError(f"path {path!r}: nothing named {segment!r}")


def covers(default_path: str, path: str) -> bool:
    """True when ``default_path`` names ``path`` or one of its ancestors."""
    wanted = default_path.split(".")
    actual = path.split(".")
    if len(wanted) > len(actual):
        return False
    return all(w in (WILDCARD, a) for w, a in zip(wanted, actual, strict=False))


def is_covered(defaults: Sequence[str], path: str) -> bool:
    return any(covers(default, path) for default in defaults)


def sourced_objects(document: Any, prefix: str = "") -> Iterator[tuple[str, str | None]]:
    """``(path, source)`` for every object in the document that carries a ``source`` key."""
    if isinstance(document, Mapping):
        if "source" in document and prefix:
            yield prefix, document["source"]
        for name, value in document.items():
            yield from sourced_objects(value, f"{prefix}.{name}" if prefix else name)
    elif isinstance(document, Sequence) and not isinstance(document, str):
        for index, element in enumerate(document):
            key = element_key(element) or str(index)
            yield from sourced_objects(element, f"{prefix}.{key}")
