"""Small HTTP helpers of the registry's routes: context, roles, ETags, commands from bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from pydantic import BaseModel, ValidationError

from shared.errors import InvalidCommand, Unauthorized
from shared.service import ServiceContext, service_context
from shared.web.auth import CurrentPrincipal, Principal, deny

STAFF_ROLES = ("staff", "ward_admin")
M = TypeVar("M", bound=BaseModel)
_ETAG = re.compile(r'^(?:W/)?"?([0-9]{1,9})"?$')


Context = Annotated[ServiceContext, Depends(service_context)]


async def platform_admin(principal: CurrentPrincipal) -> Principal:
    if principal.is_anonymous:
        raise Unauthorized("this route needs a bearer token")
    if not principal.has("platform_admin"):
        raise deny(principal, "*", "onboarding a ward needs the platform_admin role")
    return principal


PlatformAdmin = Annotated[Principal, Depends(platform_admin)]


def is_staff_of(principal: Principal, ward: str) -> bool:
    return principal.has(*STAFF_ROLES) and principal.acts_for(ward)


def is_member_of(principal: Principal, actor_id: str) -> bool:
    """A user acting for this very actor (an ``actor`` token whose actor claim names it)."""
    return principal.has("actor") and principal.actor_id == actor_id


def require_staff_or_member(principal: Principal, ward: str, actor_id: str) -> None:
    if not (is_staff_of(principal, ward) or is_member_of(principal, actor_id)):
        raise deny(principal, ward, f"only the ward's staff or actor {actor_id} may do this")


def expected_version(request: Request) -> int | None:
    """The version an If-Match header names, if any (``"3"``, ``W/"3"`` or ``3``)."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    match = _ETAG.match(header.strip())
    if match is None:
        raise InvalidCommand('If-Match names a version, as in If-Match: "3"')
    return int(match.group(1))


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def build(model: type[M], **values: Any) -> M:
    """A command from path and body values; a bad path value is a 422 problem, not a crash."""
    try:
        return model(**values)
    except ValidationError as error:
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in error.errors()]
        raise InvalidCommand("the request is not valid", errors=problems) from error
