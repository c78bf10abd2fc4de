"""Small HTTP helpers of the evaluation's routes: context, who is looking, ETags."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Response
from pydantic import BaseModel, ValidationError

from services.evaluation.rounds import ACTOR_SIDE, WARD_SIDE, Round
from shared.errors import Forbidden, InvalidCommand
from shared.service import ServiceContext, service_context
from shared.web.auth import Principal, deny

STAFF_ROLES = ("staff", "ward_admin")
OBSERVER_ROLES = ("reviewer", "auditor")
M = TypeVar("M", bound=BaseModel)


Context = Annotated[ServiceContext, Depends(service_context)]


def is_staff_of(principal: Principal, ward: str) -> bool:
    return principal.has(*STAFF_ROLES) and principal.acts_for(ward)


def is_observer_of(principal: Principal, ward: str) -> bool:
    return principal.has(*OBSERVER_ROLES) and principal.acts_for(ward)


def member_actor(principal: Principal) -> str | None:
    """The actor an ``actor`` token acts for, if any."""
    return principal.actor_id if principal.has("actor") else None


@dataclass(frozen=True)
class Viewer:
    """Who reads a round: one of its sides, an observer, or the public."""

    side: str | None
    observer: bool

    @property
    def sees_open_rounds(self) -> bool:
        return self.side is not None or self.observer


PUBLIC = Viewer(side=None, observer=False)


def viewer_of(principal: Principal, ward: str, round_: Round) -> Viewer:
    if is_staff_of(principal, ward):
        return Viewer(side=WARD_SIDE, observer=False)
    actor_id = member_actor(principal)
    if actor_id is not None and principal.acts_for(ward) and actor_id in round_.project.actor_ids:
        return Viewer(side=ACTOR_SIDE, observer=False)
    if is_observer_of(principal, ward):
        return Viewer(side=None, observer=True)
    return PUBLIC


def assessing_side(principal: Principal, ward: str) -> tuple[str, str | None]:
    """The side a submission is for, from the caller's role (and actor): (side, actor_id)."""
    staff = is_staff_of(principal, ward)
    actor_id = member_actor(principal)
    if staff and actor_id is not None:
        raise Forbidden(
            "a user who is both ward staff and a member of an actor cannot assess either side",
            ward=ward,
        )
    if staff:
        return WARD_SIDE, None
    if actor_id is not None:
        return ACTOR_SIDE, actor_id
    raise deny(principal, ward, "an assessment is submitted by the ward's staff or the actor side")


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = f'"{version}"'


def build(model: type[M], **values: Any) -> M:
    """A command from path and body values; a bad path value is a 422 problem, not a crash."""
    try:
        return model(**values)
    except ValidationError as error:
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in error.errors()]
        raise InvalidCommand("the request is not valid", errors=problems) from error
