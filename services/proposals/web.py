"""Small HTTP helpers of the proposals routes: context, roles, the ward's date, commands."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Response
from pydantic import BaseModel, ValidationError

from services.proposals.queries import Visibility
from shared.errors import InvalidCommand
from shared.service import ServiceContext, service_context
from shared.web.auth import Principal, optional_reader, require

STAFF_ROLES = ("staff", "ward_admin")
INSIDER_ROLES = (*STAFF_ROLES, "reviewer", "auditor")
TOKYO = ZoneInfo("Asia/Tokyo")
M = TypeVar("M", bound=BaseModel)


Context = Annotated[ServiceContext, Depends(service_context)]
Reader = Annotated[Principal, optional_reader()]
Staff = Annotated[Principal, require(*STAFF_ROLES)]
Insider = Annotated[Principal, require(*INSIDER_ROLES)]
ActorMember = Annotated[Principal, require("actor")]
Reviewer = Annotated[Principal, require("reviewer")]
Signer = Annotated[Principal, require("actor", *STAFF_ROLES)]


def today(ctx: ServiceContext) -> date:
    """The ward's calendar day (Tokyo) by the service clock."""
    return ctx.clock().astimezone(TOKYO).date()


def is_staff_of(principal: Principal, ward: str) -> bool:
    return principal.has(*STAFF_ROLES) and principal.acts_for(ward)


def member_actor(principal: Principal) -> str | None:
    """The actor a user acts for: an ``actor`` token's actor claim."""
    return principal.actor_id if principal.has("actor") else None


def visibility_of(principal: Principal, ward: str) -> Visibility:
    insider = principal.has(*INSIDER_ROLES) and principal.acts_for(ward)
    return Visibility(insider=insider, actor_id=member_actor(principal))


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def build(model: type[M], **values: Any) -> M:
    """A command from path and body values; a bad path value is a 422 problem, not a crash."""
    try:
        return model(**values)
    except ValidationError as error:
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in error.errors()]
        raise InvalidCommand("the request is not valid", errors=problems) from error
