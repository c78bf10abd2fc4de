"""Routes of the fund's reports, and of the ward decision that releases held money.

Balances are disclosed to everyone; the journal, the reconciliation and the report of held
money are for the ward's finance staff, auditors and ward administrators.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.fund import queries
from services.fund.commands import ReleaseBody, ReleaseHeldFunds
from services.fund.events import HELD_FUNDS_RELEASED
from services.fund.ledger import Account
from services.fund.reconciliation import Reconciliation, reconcile
from services.fund.views import (
    Balances,
    DesignationView,
    JournalPage,
    Movement,
    designation_view,
    entries_from_rows,
    movement_from_event,
)
from services.fund.web import Context, Fund, Reader, ReportReader, WardAdmin, build
from shared.web.commands import append_context

router = APIRouter(prefix="/v1/wards/{ward}/fund", tags=["reports"])

FiscalYearFilter = Annotated[int | None, Query(ge=2000, le=2100)]


class PoolBalance(BaseModel):
    designation: DesignationView
    fiscal_year: int
    balances: Balances


class GrantYear(BaseModel):
    fiscal_year: int
    grants: int
    amount_yen: int
    committed: int
    paid: int
    returned: int
    given_up: int


class FundBalances(BaseModel):
    ward: str
    fund_name: str
    fiscal_year: int | None
    pools: list[PoolBalance]
    by_designation: dict[str, Balances]
    by_fiscal_year: dict[int, Balances]
    total: Balances
    grants_by_fiscal_year: list[GrantYear]


def _balances(row: dict[str, Any]) -> Balances:
    return Balances(**{account.value: int(row[account.value] or 0) for account in Account})


def _add(into: dict[Any, Balances], key: Any, balances: Balances) -> None:
    current = into.get(key, Balances())
    into[key] = Balances(
        **{name: getattr(current, name) + getattr(balances, name) for name in Balances.model_fields}
    )


@router.get("/balances")
async def fund_balances(
    ward: str, ctx: Context, _reader: Reader, fiscal_year: FiscalYearFilter = None
) -> FundBalances:
    """Balances by pool (designation) and by the fiscal year the money was received in."""
    policy = await queries.fund_policy(ctx.database, ward)
    rows = await queries.pool_balances(ctx.database, ward, fiscal_year)
    pools = [
        PoolBalance(
            designation=designation_view(row["designation"]),
            fiscal_year=row["receipt_fiscal_year"],
            balances=_balances(row),
        )
        for row in rows
    ]
    by_designation: dict[str, Balances] = {}
    by_year: dict[int, Balances] = {}
    total: dict[str, Balances] = {}
    for pool in pools:
        _add(by_designation, pool.designation.key, pool.balances)
        _add(by_year, pool.fiscal_year, pool.balances)
        _add(total, "total", pool.balances)
    grants = await queries.grant_totals(ctx.database, ward, fiscal_year)
    return FundBalances(
        ward=ward,
        fund_name=policy.fund_name_ja,
        fiscal_year=fiscal_year,
        pools=pools,
        by_designation=by_designation,
        by_fiscal_year=by_year,
        total=total.get("total", Balances()),
        grants_by_fiscal_year=[GrantYear(**{k: int(v) for k, v in row.items()}) for row in grants],
    )


@router.get("/journal")
async def fund_journal(
    ward: str,
    ctx: Context,
    _reader: ReportReader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> JournalPage:
    """Every movement as a balanced double-entry journal entry, in posting order."""
    await queries.fund_policy(ctx.database, ward)
    page = await queries.journal(ctx.database, ward, limit, offset)
    return JournalPage(
        entries=entries_from_rows(page.items), total=page.total, limit=limit, offset=offset
    )


class CheckView(BaseModel):
    name: str
    compared: int
    exact: bool
    differences: list[dict[str, Any]]


class ReconciliationView(BaseModel):
    ward: str
    exact: bool
    events_recomputed: int
    events_not_yet_projected: int
    checks: list[CheckView]
    invariant_violations: list[str]
    unbalanced_entries: list[str]
    receipt_gaps: dict[int, list[int]]
    totals: dict[str, int]


def _reconciliation_view(result: Reconciliation) -> ReconciliationView:
    return ReconciliationView(
        ward=result.ward,
        exact=result.exact,
        events_recomputed=result.events_recomputed,
        events_not_yet_projected=result.events_not_yet_projected,
        checks=[
            CheckView(name=c.name, compared=c.compared, exact=c.exact, differences=c.differences)
            for c in result.checks
        ],
        invariant_violations=result.invariant_violations,
        unbalanced_entries=result.unbalanced_entries,
        receipt_gaps=result.receipt_gaps,
        totals=result.totals,
    )


@router.get("/reconciliation")
async def fund_reconciliation(ward: str, ctx: Context, _reader: ReportReader) -> ReconciliationView:
    """Recompute every balance from the events and compare it with the read model."""
    await queries.fund_policy(ctx.database, ward)
    return _reconciliation_view(await reconcile(ctx.store, ctx.database, ward))


class HeldLot(BaseModel):
    donation_id: str
    held: int


class Release(BaseModel):
    to_designation: str
    amount_yen: int
    decision: dict[str, Any]


class HeldDesignation(BaseModel):
    designation: DesignationView
    reason: str
    held_yen: int
    released_yen: int
    still_held_yen: int
    lots: list[HeldLot]
    releases: list[Release]


@router.get("/held")
async def held_funds(ward: str, ctx: Context, _reader: ReportReader) -> list[HeldDesignation]:
    """Designated money whose target is gone, waiting for a ward decision."""
    await queries.fund_policy(ctx.database, ward)
    return [
        HeldDesignation(
            designation=designation_view(row["designation"]),
            reason=row["reason"],
            held_yen=row["held_yen"],
            released_yen=row["released_yen"],
            still_held_yen=sum(int(lot["held"]) for lot in row["lots"]),
            lots=[HeldLot(donation_id=lot["donation_id"], held=lot["held"]) for lot in row["lots"]],
            releases=[
                Release(
                    to_designation=r["to_designation"],
                    amount_yen=r["amount_yen"],
                    decision=r["decision"],
                )
                for r in row["releases"]
            ],
        )
        for row in await queries.holds(ctx.database, ward)
    ]


@router.post("/held/release", status_code=201)
async def release_held_funds(
    ward: str, body: ReleaseBody, request: Request, fund: Fund, admin: WardAdmin
) -> Movement:
    """Record the ward's decision moving held money to another designation."""
    context = append_context(request, admin, ward, payload=body.model_dump(mode="json"))
    command = build(ReleaseHeldFunds, ward=ward, **dict(body))
    decided = await fund.release_held(command, context)
    released = next(e for e in decided.result.events if e.event_type == HELD_FUNDS_RELEASED)
    return movement_from_event(released.event_type, released.data)
