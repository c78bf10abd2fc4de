"""Leaf encoding: the exact bytes of an event envelope that the audit log hashes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.audit.canonical import canonical_json
from shared.audit.errors import LeafEncodingError


def leaf_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) UTF-8 bytes of an event envelope.

    Values must already be JSON types (``model_dump(mode="json")``): datetimes and UUIDs are
    refused rather than formatted here, so that the bytes never depend on this module.
    Canonical JSON escapes every control character, so leaf bytes never contain a newline.
    """
    return canonical_json(dict(envelope))


def event_id_of(envelope: Mapping[str, Any]) -> str:
    event_id = envelope.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        raise LeafEncodingError(f"envelope has no event_id string: {event_id!r}")
    return event_id
