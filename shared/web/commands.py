"""From an HTTP request to the context an append needs."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import Request

from shared.errors import InvalidCommand
from shared.eventstore.store import AppendContext
from shared.jsontext import json_text
from shared.telemetry.context import current_traceparent
from shared.web.auth import Principal

IDEMPOTENCY_HEADER = "idempotency-key"


def fingerprint(payload: Any) -> str:
    """A stable hash of a request body: the same key with another body is refused."""
    return hashlib.sha256(json_text(payload, sort_keys=True).encode()).hexdigest()


def request_path(request: Request) -> str:
    """``request.url.path``, without parsing the whole URL: the path as Starlette escapes it."""
    return str(request.scope["path"]).translate(_ESCAPED_IN_URLS)


# Starlette escapes these three; urllib.parse.urlsplit drops tabs and line breaks.
_ESCAPED_IN_URLS = str.maketrans(
    {"?": "%3F", "#": "%23", "\\": "%5C", "\t": "", "\r": "", "\n": ""}
)


def append_context(
    request: Request,
    principal: Principal,
    ward: str,
    *,
    payload: Any = None,
    scope: str | None = None,
    require_idempotency_key: bool = False,
    policy_version: int | None = None,
) -> AppendContext:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if require_idempotency_key and not key:
        raise InvalidCommand("this request needs an Idempotency-Key header")
    if key is not None and not 1 <= len(key) <= 200:
        raise InvalidCommand("Idempotency-Key must be 1 to 200 characters")
    return AppendContext(
        ward=ward,
        actor=principal.event_actor(),
        correlation_id=request.headers.get("x-correlation-id"),
        policy_version=policy_version,
        idempotency_scope=scope or request_path(request),
        idempotency_key=key,
        fingerprint=fingerprint(payload) if key else None,
        traceparent=current_traceparent(),
    )
