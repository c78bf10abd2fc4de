"""HTTP routes under /v1: request → command → handler; GET → read-model query.

Who may do what:
- onboard a ward: platform_admin; change a ward's policy: that ward's ward_admin;
- register an actor: an ``actor`` user (a citizen or a member of a group) or the ward's staff;
  only staff register the ward's own departments;
- update a profile: the ward's staff, or a member of that actor (``actor`` token naming it);
- verify, suspend, reinstate, deregister: staff or ward_admin of the ward;
- announce an activity: a member of that actor, or the ward's staff;
- read the directory and activities: anyone sees public fields of verified, active groups;
  the ward's staff see all of their ward's data, personal data included.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.registry import handlers, queries
from services.registry.commands import (
    ActivityAnnouncement,
    ActorProfileChanges,
    ActorRegistration,
    AnnounceActivity,
    ChangeWardPolicy,
    DeregisterActor,
    OnboardWard,
    PolicyChange,
    RegisterActor,
    ReinstateActor,
    StatusChange,
    SuspendActor,
    UpdateActorProfile,
    VerifyActor,
)
from services.registry.domain import Actor
from services.registry.handlers import Outcome
from services.registry.views import (
    ActivityPage,
    ActivityView,
    ActorPage,
    ActorView,
    WardPolicy,
    WardSummary,
    activity_from_event,
    activity_from_row,
    actor_from_row,
    actor_from_state,
    ward_policy_from_row,
    ward_policy_from_state,
    ward_summary_from_row,
)
from services.registry.web import (
    STAFF_ROLES,
    Context,
    PlatformAdmin,
    build,
    expected_version,
    is_member_of,
    is_staff_of,
    require_staff_or_member,
    set_etag,
)
from shared.errors import InvalidCommand, NotFound
from shared.ids import new_id
from shared.web.auth import Principal, optional_reader, require
from shared.web.commands import append_context

router = APIRouter(prefix="/v1")

Reader = Annotated[Principal, optional_reader()]
Staff = Annotated[Principal, require(*STAFF_ROLES)]
WardAdmin = Annotated[Principal, require("ward_admin")]
Registrant = Annotated[Principal, require("actor", *STAFF_ROLES)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
SearchText = Annotated[str | None, Query(max_length=200)]
CodeFilter = Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]

# --- wards and policy ---------------------------------------------------------------------


@router.get("/wards", tags=["wards"])
async def list_wards(ctx: Context) -> list[WardSummary]:
    return [ward_summary_from_row(row) for row in await queries.list_wards(ctx.database)]


@router.post("/wards", status_code=201, tags=["wards"])
async def onboard_ward(
    body: OnboardWard, request: Request, response: Response, ctx: Context, admin: PlatformAdmin
) -> WardPolicy:
    ward = body.pack.ward
    context = append_context(request, admin, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.onboard_ward(ctx.store, body, context)
    assert outcome.state is not None
    response.headers["Location"] = f"/v1/wards/{ward}/policy"
    set_etag(response, outcome.state.policy_version)
    return ward_policy_from_state(outcome.state)


@router.get("/wards/{ward}/policy", tags=["wards"])
async def get_policy(ward: str, response: Response, ctx: Context, _reader: Reader) -> WardPolicy:
    row = await _ward_row(ctx, ward)
    set_etag(response, row["policy_version"])
    return ward_policy_from_row(row)


@router.put("/wards/{ward}/policy", tags=["wards"])
async def change_policy(
    ward: str,
    body: PolicyChange,
    request: Request,
    response: Response,
    ctx: Context,
    admin: WardAdmin,
) -> WardPolicy:
    command = build(ChangeWardPolicy, ward=ward, pack=body.pack, reason=body.reason)
    context = append_context(request, admin, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.change_ward_policy(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    assert outcome.state is not None
    set_etag(response, outcome.state.policy_version)
    return ward_policy_from_state(outcome.state)


# --- the actor directory ------------------------------------------------------------------


@router.post(
    "/wards/{ward}/actors", status_code=201, tags=["actors"], response_model_exclude_unset=True
)
async def register_actor(
    ward: str,
    body: ActorRegistration,
    request: Request,
    response: Response,
    ctx: Context,
    principal: Registrant,
) -> ActorView:
    actor_id = new_id()
    command = build(RegisterActor, ward=ward, actor_id=actor_id, **dict(body))
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.register_actor(
        ctx.store, command, context, by_staff=is_staff_of(principal, ward)
    )
    view = _written(outcome, response)
    response.headers["Location"] = f"/v1/wards/{ward}/actors/{view.actor_id}"
    return view


@router.get("/wards/{ward}/actors", tags=["actors"], response_model_exclude_unset=True)
async def search_actors(
    ward: str,
    ctx: Context,
    principal: Reader,
    q: SearchText = None,
    field: CodeFilter = None,
    kind: CodeFilter = None,
    area: SearchText = None,
    status: Annotated[
        str | None, Query(pattern="^(pending|active|suspended|deregistered)$")
    ] = None,
    corporate_number: Annotated[str | None, Query(pattern=r"^[0-9]{13}$")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ActorPage:
    await _ward_row(ctx, ward)
    staff = is_staff_of(principal, ward)
    search = queries.ActorSearch(
        ward, q, field, kind, area, status, corporate_number, limit, offset
    )
    page = await queries.search_actors(ctx.database, search, staff=staff)
    items = [actor_from_row(row, full=staff) for row in page.items]
    return ActorPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/wards/{ward}/actors/{actor_id}", tags=["actors"], response_model_exclude_unset=True)
async def get_actor(
    ward: str, actor_id: str, response: Response, ctx: Context, principal: Reader
) -> ActorView:
    row = await queries.find_actor(ctx.database, ward, actor_id)
    full = is_staff_of(principal, ward) or is_member_of(principal, actor_id)
    if row is None or not (full or row["listed"]):
        raise NotFound(f"no actor {actor_id} in ward {ward!r}", ward=ward)
    set_etag(response, row["version"])
    return actor_from_row(row, full=full)


@router.patch("/wards/{ward}/actors/{actor_id}", tags=["actors"], response_model_exclude_unset=True)
async def update_actor(
    ward: str,
    actor_id: str,
    body: ActorProfileChanges,
    request: Request,
    response: Response,
    ctx: Context,
    principal: Registrant,
) -> ActorView:
    require_staff_or_member(principal, ward, actor_id)
    command = build(UpdateActorProfile, ward=ward, actor_id=actor_id, changes=body)
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.update_actor_profile(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    return _written(outcome, response)


@router.post(
    "/wards/{ward}/actors/{actor_id}/verify", tags=["actors"], response_model_exclude_unset=True
)
async def verify_actor(
    ward: str,
    actor_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
    body: StatusChange | None = None,
) -> ActorView:
    reason = body.reason if body else None
    command = build(VerifyActor, ward=ward, actor_id=actor_id, note=reason)
    context = append_context(request, staff, ward, payload={"reason": reason})
    outcome = await handlers.verify_actor(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    return _written(outcome, response)


@router.post(
    "/wards/{ward}/actors/{actor_id}/suspend", tags=["actors"], response_model_exclude_unset=True
)
async def suspend_actor(
    ward: str,
    actor_id: str,
    body: StatusChange,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> ActorView:
    if body.reason is None:
        raise InvalidCommand("a suspension gives its reason")
    command = build(SuspendActor, ward=ward, actor_id=actor_id, reason=body.reason)
    context = append_context(request, staff, ward, payload={"reason": body.reason})
    outcome = await handlers.suspend_actor(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    return _written(outcome, response)


@router.post(
    "/wards/{ward}/actors/{actor_id}/reinstate", tags=["actors"], response_model_exclude_unset=True
)
async def reinstate_actor(
    ward: str,
    actor_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
    body: StatusChange | None = None,
) -> ActorView:
    reason = body.reason if body else None
    command = build(ReinstateActor, ward=ward, actor_id=actor_id, note=reason)
    context = append_context(request, staff, ward, payload={"reason": reason})
    outcome = await handlers.reinstate_actor(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    return _written(outcome, response)


@router.post(
    "/wards/{ward}/actors/{actor_id}/deregister", tags=["actors"], response_model_exclude_unset=True
)
async def deregister_actor(
    ward: str,
    actor_id: str,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
    body: StatusChange | None = None,
) -> ActorView:
    reason = body.reason if body else None
    command = build(DeregisterActor, ward=ward, actor_id=actor_id, reason=reason)
    context = append_context(request, staff, ward, payload={"reason": reason})
    outcome = await handlers.deregister_actor(
        ctx.store, command, context, expected_version=expected_version(request)
    )
    return _written(outcome, response)


# --- activities ---------------------------------------------------------------------------


@router.post("/wards/{ward}/activities", status_code=201, tags=["activities"])
async def announce_activity(
    ward: str,
    body: ActivityAnnouncement,
    request: Request,
    response: Response,
    ctx: Context,
    principal: Registrant,
) -> ActivityView:
    require_staff_or_member(principal, ward, body.actor_id)
    activity_id = new_id()
    command = build(AnnounceActivity, ward=ward, activity_id=activity_id, **dict(body))
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.announce_activity(ctx.store, command, context)
    announced = outcome.events[-1]
    response.headers["Location"] = f"/v1/wards/{ward}/activities/{announced.data['activity_id']}"
    return activity_from_event(announced.data, ward)


@router.get("/wards/{ward}/activities", tags=["activities"])
async def list_activities(
    ward: str,
    ctx: Context,
    principal: Reader,
    q: SearchText = None,
    field: CodeFilter = None,
    kind: Annotated[str | None, Query(pattern="^(event|course)$")] = None,
    actor_id: Annotated[str | None, Query(max_length=64)] = None,
    starts_from: date | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ActivityPage:
    await _ward_row(ctx, ward)
    search = queries.ActivitySearch(ward, q, field, kind, actor_id, starts_from, limit, offset)
    page = await queries.search_activities(ctx.database, search, staff=is_staff_of(principal, ward))
    items = [activity_from_row(row) for row in page.items]
    return ActivityPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/wards/{ward}/activities/{activity_id}", tags=["activities"])
async def get_activity(
    ward: str, activity_id: str, ctx: Context, principal: Reader
) -> ActivityView:
    staff = is_staff_of(principal, ward)
    row = await queries.find_activity(ctx.database, ward, activity_id, staff=staff)
    if row is None:
        raise NotFound(f"no activity {activity_id} in ward {ward!r}", ward=ward)
    return activity_from_row(row)


# --- helpers ------------------------------------------------------------------------------


async def _ward_row(ctx: Context, ward: str) -> dict[str, Any]:
    row = await queries.ward_policy(ctx.database, ward)
    if row is None:
        raise NotFound(f"ward {ward!r} is not onboarded", ward=ward)
    return row


def _written(outcome: Outcome[Actor | None], response: Response) -> ActorView:
    assert outcome.state is not None
    set_etag(response, outcome.version)
    return actor_from_state(outcome.state, outcome.version)
