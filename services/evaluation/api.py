"""HTTP routes under /v1/wards/{ward}: request → command → handler; GET → read-model query.

Who may do what:
- open a round, reconcile, conclude, clear an inertia flag: the ward's staff (or ward_admin);
- submit an assessment: the ward's staff (the ward side) or a member of the project's lead or a
  partner actor (the actor side) — the side follows from the caller;
- attach a third-party review: the ward's staff or a reviewer;
- read a round: its two sides and observers (reviewer, auditor) while it is open, anyone once it
  is concluded; list inertia flags: staff and auditors; portfolio figures: anyone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response

from services.evaluation import handlers, queries
from services.evaluation.commands import (
    Assessment,
    AttachReview,
    ClearInertiaFlag,
    ConcludeRound,
    FlagClearance,
    ReconcileScores,
    Reconciliation,
    Review,
    RoundConclusion,
    RoundOpening,
    SubmitAssessment,
)
from services.evaluation.handlers import Outcome
from services.evaluation.inertia import Flag
from services.evaluation.portfolio import portfolio
from services.evaluation.rounds import Round
from services.evaluation.sweep import today_in_japan
from services.evaluation.views import (
    FlagPage,
    FlagView,
    RoundPage,
    RoundView,
    flag_view,
    round_summary,
    round_view,
)
from services.evaluation.web import (
    STAFF_ROLES,
    Context,
    assessing_side,
    build,
    is_observer_of,
    is_staff_of,
    member_actor,
    set_etag,
    viewer_of,
)
from shared.errors import NotFound
from shared.policy import fiscal_year as fiscal_year_of
from shared.web.auth import Principal, optional_reader, require
from shared.web.commands import append_context

router = APIRouter(prefix="/v1/wards/{ward}")

Reader = Annotated[Principal, optional_reader()]
Staff = Annotated[Principal, require(*STAFF_ROLES)]
Assessor = Annotated[Principal, require("actor", *STAFF_ROLES)]
ReviewerOrStaff = Annotated[Principal, require("reviewer", *STAFF_ROLES)]
FlagReader = Annotated[Principal, require("auditor", *STAFF_ROLES)]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
Year = Annotated[int | None, Query(ge=1989, le=9999)]
RoundStatus = Literal["open", "reconciling", "ready", "concluded"]
IdFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]

# --- rounds -------------------------------------------------------------------------------


@router.post("/evaluations", status_code=201, tags=["evaluations"])
async def open_round(
    ward: str,
    body: RoundOpening,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> RoundView:
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    today = today_in_japan(ctx.clock)
    outcome = await handlers.open_round(ctx.store, ctx.database, ward, body, context, today)
    view = _written(outcome, response, staff, ward)
    response.headers["Location"] = f"/v1/wards/{ward}/evaluations/{view.round_id}"
    return view


@router.get("/evaluations", tags=["evaluations"])
async def list_rounds(
    ward: str,
    ctx: Context,
    principal: Reader,
    project_id: IdFilter = None,
    status: RoundStatus | None = None,
    fiscal_year: Year = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RoundPage:
    await _known_ward(ctx, ward)
    everything = is_staff_of(principal, ward) or is_observer_of(principal, ward)
    search = queries.RoundSearch(ward, project_id, status, fiscal_year, limit, offset)
    page = await queries.search_rounds(
        ctx.database, search, everything=everything, actor_id=member_actor(principal)
    )
    items = [round_summary(row) for row in page.items]
    return RoundPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/evaluations/{round_id}", tags=["evaluations"])
async def get_round(
    ward: str, round_id: str, response: Response, ctx: Context, principal: Reader
) -> RoundView:
    row = await queries.find_round(ctx.database, ward, round_id)
    if row is None:
        raise NotFound(f"no evaluation round {round_id} in ward {ward!r}", ward=ward)
    state = Round.model_validate(row["document"])
    viewer = viewer_of(principal, ward, state)
    if state.status != "concluded" and not viewer.sees_open_rounds:
        raise NotFound(f"no evaluation round {round_id} in ward {ward!r}", ward=ward)
    set_etag(response, row["version"])
    return round_view(state, row["version"], viewer)


@router.post("/evaluations/{round_id}/assessments", tags=["evaluations"])
async def submit_assessment(
    ward: str,
    round_id: str,
    body: Assessment,
    request: Request,
    response: Response,
    ctx: Context,
    principal: Assessor,
) -> RoundView:
    side, actor_id = assessing_side(principal, ward)
    command = build(
        SubmitAssessment,
        ward=ward,
        round_id=round_id,
        side=side,
        actor_id=actor_id,
        assessment=body,
    )
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.submit_assessment(ctx.store, ctx.database, command, context)
    return _written(outcome, response, principal, ward)


@router.post("/evaluations/{round_id}/reconciliation", tags=["evaluations"])
async def reconcile(
    ward: str,
    round_id: str,
    body: Reconciliation,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> RoundView:
    command = build(ReconcileScores, ward=ward, round_id=round_id, reconciliation=body)
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.reconcile_scores(ctx.store, ctx.database, command, context)
    return _written(outcome, response, staff, ward)


@router.post("/evaluations/{round_id}/review", tags=["evaluations"])
async def attach_review(
    ward: str,
    round_id: str,
    body: Review,
    request: Request,
    response: Response,
    ctx: Context,
    principal: ReviewerOrStaff,
) -> RoundView:
    command = build(AttachReview, ward=ward, round_id=round_id, review=body)
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.attach_review(ctx.store, ctx.database, command, context)
    return _written(outcome, response, principal, ward)


@router.post("/evaluations/{round_id}/conclusion", tags=["evaluations"])
async def conclude(
    ward: str,
    round_id: str,
    body: RoundConclusion,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> RoundView:
    command = build(ConcludeRound, ward=ward, round_id=round_id, conclusion=body)
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.conclude_round(ctx.store, ctx.database, command, context)
    return _written(outcome, response, staff, ward)


# --- insights -----------------------------------------------------------------------------


@router.get("/insights/portfolio", tags=["insights"])
async def get_portfolio(
    ward: str, ctx: Context, _reader: Reader, fiscal_year: Year = None
) -> dict[str, object]:
    policy = await queries.ward_policy(ctx.database, ward)
    if policy is None:
        raise NotFound(f"ward {ward!r} is not known to the evaluation", ward=ward)
    year = fiscal_year if fiscal_year is not None else fiscal_year_of(ctx.clock())
    projects, grants = await queries.portfolio_inputs(ctx.database, ward, year)
    return portfolio(ward, year, projects, grants, policy)


@router.get("/insights/inertia", tags=["insights"])
async def list_inertia_flags(
    ward: str,
    ctx: Context,
    _reader: FlagReader,
    status: Literal["open", "cleared"] | None = None,
) -> FlagPage:
    rows = await queries.search_flags(ctx.database, ward, status)
    items = [flag_view(Flag.model_validate(row["document"]), row) for row in rows]
    return FlagPage(items=items, total=len(items))


@router.post("/insights/inertia/{flag_id}/clearance", tags=["insights"])
async def clear_inertia_flag(
    ward: str,
    flag_id: str,
    body: FlagClearance,
    request: Request,
    response: Response,
    ctx: Context,
    staff: Staff,
) -> FlagView:
    command = build(ClearInertiaFlag, ward=ward, flag_id=flag_id, clearance=body)
    context = append_context(request, staff, ward, payload=body.model_dump(mode="json"))
    outcome = await handlers.clear_flag(ctx.store, ctx.database, command, context)
    assert outcome.state is not None
    set_etag(response, outcome.version)
    return flag_view(outcome.state)


# --- helpers ------------------------------------------------------------------------------


async def _known_ward(ctx: Context, ward: str) -> None:
    if await queries.ward_policy(ctx.database, ward) is None:
        raise NotFound(f"ward {ward!r} is not known to the evaluation", ward=ward)


def _written(
    outcome: Outcome[Round | None], response: Response, principal: Principal, ward: str
) -> RoundView:
    assert outcome.state is not None
    set_etag(response, outcome.version)
    return round_view(outcome.state, outcome.version, viewer_of(principal, ward, outcome.state))
