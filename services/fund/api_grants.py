"""Routes of grants: award (finance), tranches, returns of unused money, lineage."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.fund import queries
from services.fund.commands import (
    AwardGrant,
    DisburseGrant,
    DisbursementBody,
    GrantBody,
    ReturnBody,
    ReturnGrantFunds,
)
from services.fund.events import GRANT_AWARDED, GRANT_DISBURSED, GRANT_FUNDS_RETURNED
from services.fund.views import (
    GrantMovement,
    GrantPage,
    GrantView,
    Lineage,
    grant_balances,
    grant_from_event,
    grant_from_row,
    lineage_from_row,
    movement_from_event,
)
from services.fund.web import Context, Finance, Fund, Reader, build, sees_personal_data
from shared.ids import new_id
from shared.web.commands import append_context

router = APIRouter(prefix="/v1/wards/{ward}", tags=["grants"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


@router.post("/grants", status_code=201)
async def award_grant(
    ward: str,
    body: GrantBody,
    request: Request,
    response: Response,
    fund: Fund,
    principal: Finance,
) -> GrantView:
    """Award a grant funded only from matching money; not enough → 409 with what is missing."""
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    command = build(AwardGrant, ward=ward, grant_id=new_id(), **dict(body))
    decided = await fund.award_grant(command, context)
    awarded = next(e for e in decided.result.events if e.event_type == GRANT_AWARDED)
    response.headers["Location"] = f"/v1/wards/{ward}/grants/{awarded.data['grant_id']}"
    return grant_from_event(awarded.data, ward, decided.book)


@router.get("/grants")
async def list_grants(
    ward: str,
    ctx: Context,
    _reader: Reader,
    fiscal_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    recipient_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> GrantPage:
    await queries.fund_policy(ctx.database, ward)
    search = queries.GrantSearch(ward, fiscal_year, recipient_id, limit, offset)
    page = await queries.search_grants(ctx.database, search)
    items = [grant_from_row(row) for row in page.items]
    return GrantPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/grants/{grant_id}")
async def get_grant(ward: str, grant_id: str, ctx: Context, _reader: Reader) -> GrantView:
    return grant_from_row(await queries.grant(ctx.database, ward, grant_id))


@router.post("/grants/{grant_id}/disbursements", status_code=201)
async def disburse(
    ward: str,
    grant_id: str,
    body: DisbursementBody,
    request: Request,
    fund: Fund,
    principal: Finance,
) -> GrantMovement:
    """Pay a tranche; never more than what is left of the grant (409)."""
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    command = build(
        DisburseGrant,
        ward=ward,
        grant_id=grant_id,
        disbursement_id=new_id(),
        **dict(body),
    )
    decided = await fund.disburse(command, context)
    paid = next(e for e in decided.result.events if e.event_type == GRANT_DISBURSED)
    return GrantMovement(
        movement=movement_from_event(paid.event_type, paid.data),
        grant=grant_balances(decided.book, grant_id),
    )


@router.post("/grants/{grant_id}/returns", status_code=201)
async def return_funds(
    ward: str,
    grant_id: str,
    body: ReturnBody,
    request: Request,
    fund: Fund,
    principal: Finance,
) -> GrantMovement:
    """Unused money goes back to the lots it came from, keeping their designation."""
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    command = build(
        ReturnGrantFunds, ward=ward, grant_id=grant_id, return_id=new_id(), **dict(body)
    )
    decided = await fund.return_funds(command, context)
    returned = next(e for e in decided.result.events if e.event_type == GRANT_FUNDS_RETURNED)
    return GrantMovement(
        movement=movement_from_event(returned.event_type, returned.data),
        grant=grant_balances(decided.book, grant_id),
    )


@router.get("/grants/{grant_id}/lineage", response_model_exclude_unset=True)
async def grant_lineage(ward: str, grant_id: str, ctx: Context, principal: Reader) -> Lineage:
    """Who funded the grant: which donations, how much each, and where that money is now."""
    row = await queries.grant(ctx.database, ward, grant_id)
    return lineage_from_row(row, full=sees_personal_data(principal, ward))
