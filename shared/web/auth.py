"""Tenancy and roles: the ward comes from a verified JWT, never only from the request body."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request

from shared.errors import Forbidden, Unauthorized
from shared.events.envelope import ROLES, EventActor, Role
from shared.settings import Settings

security_log = logging.getLogger("kyodo.security")
PLATFORM_WARD = "*"
PLATFORM_ROLES: frozenset[str] = frozenset({"platform_admin", "auditor"})


@dataclass(frozen=True)
class Principal:
    subject: str
    ward: str
    roles: frozenset[str]
    actor_id: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return not self.roles

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def acts_for(self, ward: str) -> bool:
        return self.ward == ward or (self.ward == PLATFORM_WARD and self.has(*PLATFORM_ROLES))

    def event_actor(self) -> EventActor:
        return self._event_actor

    @cached_property
    def _event_actor(self) -> EventActor:
        # Made once per principal: a verified token's principal is kept for its next requests,
        # and EventActor is frozen, so every event of one caller shares it.
        role: Role = next((r for r in ROLES if r in self.roles), "anonymous")
        return EventActor(subject=self.subject, role=role)


ANONYMOUS = Principal(subject="anonymous", ward="", roles=frozenset())


VERIFIED_TOKENS_KEPT = 4096
JWKS_TOKEN_RECHECK_SECONDS = 300.0


@dataclass(frozen=True)
class _Verified:
    principal: Principal
    expires_at: float


class TokenVerifier:
    """Verifies bearer tokens; a token already verified is known until it expires.

    A client sends the same token on every request; checking its signature and claims once per
    token rather than once per request is what keeps authentication off the hot path. The
    signature of the same bytes cannot change, and expiry is checked on every use.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._verified: dict[str, _Verified] = {}
        self._lock = threading.Lock()
        self._jwks: jwt.PyJWKClient | None = (
            jwt.PyJWKClient(settings.jwks_url) if settings.jwks_url else None
        )

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None

    def _key(self, token: str) -> Any:
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self.settings.jwt_algorithm.startswith(("RS", "ES", "EdDSA")):
            return self.settings.jwt_public_key
        return self.settings.jwt_secret

    def verify(self, token: str) -> Principal:
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known.expires_at:
            return known.principal
        principal, expires_at = self._verify(token)
        if self._jwks is not None:  # a key withdrawn from the JWKS ends its tokens soon
            expires_at = min(expires_at, now + JWKS_TOKEN_RECHECK_SECONDS)
        with self._lock:  # JWKS verification runs in worker threads
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.pop(next(iter(self._verified)), None)
            self._verified[token] = _Verified(principal, expires_at)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            claims = jwt.decode(
                token,
                self._key(token),
                algorithms=[self.settings.jwt_algorithm],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": ["sub", "exp", "ward", "roles"]},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from error
        roles = frozenset(str(r) for r in claims["roles"])
        unknown = roles.difference(ROLES)
        if unknown:
            raise Unauthorized(f"unknown roles in token: {sorted(unknown)}")
        principal = Principal(
            subject=str(claims["sub"]),
            ward=str(claims["ward"]),
            roles=roles,
            actor_id=claims.get("actor"),
        )
        return principal, float(claims["exp"])


def issue_token(
    settings: Settings,
    *,
    ward: str,
    roles: list[str],
    subject: str | None = None,
    actor_id: str | None = None,
    ttl_seconds: int = 12 * 3600,
) -> str:
    """A development token signed with the HS256 secret (or a configured private key)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or f"{roles[0]}@{ward}",
        "ward": ward,
        "roles": roles,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    if actor_id:
        claims["actor"] = actor_id
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


async def principal_of(request: Request) -> Principal:
    # async on purpose: FastAPI runs a plain-def dependency in a worker thread, one hop per call.
    header = request.headers.get("authorization", "")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    verifier: TokenVerifier = request.app.state.token_verifier
    if verifier.fetches_keys:
        return await asyncio.to_thread(verifier.verify, token)  # a JWKS fetch may block
    return verifier.verify(token)


CurrentPrincipal = Annotated[Principal, Depends(principal_of)]


def deny(principal: Principal, ward: str, reason: str) -> Forbidden:
    security_log.warning(
        "access denied: subject=%s token_ward=%s target_ward=%s reason=%s",
        principal.subject,
        principal.ward,
        ward,
        reason,
    )
    return Forbidden(reason, ward=ward)


def authorize(principal: Principal, ward: str, roles: tuple[str, ...]) -> Principal:
    """The principal, if it acts for ``ward`` and holds one of ``roles`` (any, if none)."""
    if principal.is_anonymous:
        raise Unauthorized("this route needs a bearer token")
    if not principal.acts_for(ward):
        raise deny(principal, ward, f"a token for ward {principal.ward!r} cannot act on {ward!r}")
    if roles and not principal.has(*roles):
        raise deny(principal, ward, f"this route needs one of the roles {sorted(roles)}")
    return principal


def require(*roles: str) -> Any:
    """Dependency: the caller acts for the path's ward and holds one of ``roles``."""

    async def check(ward: str, principal: CurrentPrincipal) -> Principal:
        return authorize(principal, ward, roles)

    return Depends(check)


def optional_reader() -> Any:
    """Dependency: anonymous callers pass (they see disclosed data); tokens must match the ward."""

    async def check(ward: str, principal: CurrentPrincipal) -> Principal:
        if not principal.is_anonymous and not principal.acts_for(ward):
            raise deny(principal, ward, f"a token for ward {principal.ward!r} cannot read {ward!r}")
        return principal

    return Depends(check)
