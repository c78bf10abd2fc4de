"""Errors the domain and the platform raise; the web layer maps each to an RFC 9457 problem."""

from __future__ import annotations

from typing import Any, ClassVar


class KyodoError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type_slug: ClassVar[str] = "bad-request"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class InvalidCommand(KyodoError):
    status = 422
    title = "Invalid command"
    type_slug = "invalid-command"


class NotFound(KyodoError):
    status = 404
    title = "Not found"
    type_slug = "not-found"


class Forbidden(KyodoError):
    status = 403
    title = "Forbidden"
    type_slug = "forbidden"


class Unauthorized(KyodoError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Conflict(KyodoError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class ConcurrencyError(Conflict):
    title = "Concurrent modification"
    type_slug = "concurrency"


class IdempotencyConflict(Conflict):
    """The same idempotency key was used again with a different request."""

    status = 422
    title = "Idempotency key reused with a different request"
    type_slug = "idempotency-key-reused"
