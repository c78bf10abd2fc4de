"""Routes of donations: record (finance, Idempotency-Key required), read, refund, statement.

Everyone reads donations as disclosed (the published name or 匿名); the ward's finance staff and
auditors also see the donor's personal data.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from services.fund import queries
from services.fund.commands import DonationBody, ReceiveDonation, RefundBody, RefundDonation
from services.fund.events import DONATION_RECEIVED, DONATION_REFUNDED
from services.fund.handlers import FundService
from services.fund.views import (
    DonationPage,
    DonationView,
    RefundAnswer,
    Statement,
    donation_balances,
    donation_from_event,
    donation_from_row,
    movement_from_event,
    statement_from_row,
)
from services.fund.web import (
    FINANCE_ROLES,
    Context,
    Finance,
    Fund,
    Reader,
    build,
    sees_personal_data,
)
from shared.ids import new_id
from shared.web.auth import authorize, principal_of
from shared.web.bodies import documented_body, json_response, parse_body
from shared.web.commands import append_context
from shared.web.hot import hot

router = APIRouter(prefix="/v1/wards/{ward}", tags=["donations"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
DesignationKey = Annotated[str | None, Query(max_length=80, pattern=r"^[a-z]+(:[A-Za-z0-9_\-]+)?$")]
DesignationKindFilter = Annotated[str | None, Query(pattern="^(general|field|actor|project)$")]
FiscalYearFilter = Annotated[int | None, Query(ge=2000, le=2100)]


@router.post(
    "/donations",
    status_code=201,
    response_model=DonationView,
    response_model_exclude_unset=True,
    openapi_extra=documented_body(DonationBody),
)
@hot
async def receive_donation(ward: str, request: Request) -> Response:
    """Record a donation (finance); the Idempotency-Key header is required (a retry gets the
    same one). The hottest route: served as a hot route (:mod:`shared.web.hot`), it reads its
    body and answers without FastAPI's machinery."""
    principal = authorize(await principal_of(request), ward, FINANCE_ROLES)
    body = parse_body(DonationBody, await request.body())
    context = append_context(
        request,
        principal,
        ward,
        payload=body.model_dump(mode="json"),
        require_idempotency_key=True,
    )
    command = build(ReceiveDonation, ward=ward, donation_id=new_id(), **dict(body))
    fund: FundService = request.app.state.fund
    result = await fund.receive_donation(command, context)
    received = next(e for e in result.events if e.event_type == DONATION_RECEIVED)
    headers = {"Location": f"/v1/wards/{ward}/donations/{received.data['donation_id']}"}
    if result.replayed:
        headers["Idempotent-Replayed"] = "true"
    answer = donation_from_event(received.data, ward, full=True)
    return json_response(answer, status_code=201, headers=headers)


@router.get("/donations", response_model_exclude_unset=True)
async def list_donations(
    ward: str,
    ctx: Context,
    principal: Reader,
    fiscal_year: FiscalYearFilter = None,
    designation: DesignationKey = None,
    designation_kind: DesignationKindFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> DonationPage:
    await queries.fund_policy(ctx.database, ward)
    search = queries.DonationSearch(ward, fiscal_year, designation, designation_kind, limit, offset)
    page = await queries.search_donations(ctx.database, search)
    full = sees_personal_data(principal, ward)
    items = [donation_from_row(row, full=full) for row in page.items]
    return DonationPage(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/donations/{donation_id}", response_model_exclude_unset=True)
async def get_donation(
    ward: str, donation_id: str, ctx: Context, principal: Reader
) -> DonationView:
    row = await queries.donation(ctx.database, ward, donation_id)
    return donation_from_row(row, full=sees_personal_data(principal, ward))


@router.post("/donations/{donation_id}/refund", status_code=201)
async def refund_donation(
    ward: str,
    donation_id: str,
    body: RefundBody,
    request: Request,
    fund: Fund,
    principal: Finance,
) -> RefundAnswer:
    """Refund (part of) the donation's unallocated remainder; allocated money is refused (409)."""
    context = append_context(request, principal, ward, payload=body.model_dump(mode="json"))
    command = build(
        RefundDonation,
        ward=ward,
        donation_id=donation_id,
        refund_id=new_id(),
        **dict(body),
    )
    decided = await fund.refund_donation(command, context)
    refunded = next(e for e in decided.result.events if e.event_type == DONATION_REFUNDED)
    return RefundAnswer(
        movement=movement_from_event(refunded.event_type, refunded.data),
        donation=donation_balances(decided.book, donation_id),
    )


@router.get("/donations/{donation_id}/statement", response_model_exclude_unset=True)
async def donation_statement(
    ward: str, donation_id: str, ctx: Context, principal: Reader
) -> Statement:
    """Where every yen went: the lots, the grants they funded, every journal line."""
    row = await queries.donation_statement(ctx.database, ward, donation_id)
    return statement_from_row(row, full=sees_personal_data(principal, ward))
