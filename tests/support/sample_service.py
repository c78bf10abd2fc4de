"""A minimal service built on the foundation, for HTTP, tenancy and tracing tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from shared.events import EventEnvelope, NewEvent
from shared.projections.runner import DispatchingProjection
from shared.projections.writes import upsert
from shared.service import ServiceContext, ServiceSpec
from shared.web.auth import Principal, optional_reader, require
from shared.web.commands import append_context

metadata = sa.MetaData()
totals = sa.Table(
    "sample_totals",
    metadata,
    sa.Column("ward", sa.String(40), primary_key=True),
    sa.Column("gifts", sa.Integer, nullable=False),
    sa.Column("yen", sa.BigInteger, nullable=False),
)
projection = DispatchingProjection("sample", metadata)


@projection.on("sample.GiftRecorded")
def gifts_recorded(connection: sa.Connection, events: Sequence[EventEnvelope]) -> None:
    per_ward: dict[str, tuple[int, int]] = {}
    for e in events:
        gifts, yen = per_ward.get(e.ward, (0, 0))
        per_ward[e.ward] = (gifts + 1, yen + int(e.data["amount"]))
    rows = [{"ward": w, "gifts": g, "yen": y} for w, (g, y) in per_ward.items()]
    upsert(connection, totals, rows, keys=["ward"], increment=["gifts", "yen"])


class RecordGift(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    amount: int = Field(gt=0, le=100_000_000)
    note: str = Field(default="", max_length=200)


router = APIRouter(prefix="/v1/wards/{ward}")
Finance = Annotated[Principal, require("finance")]
Reader = Annotated[Principal, optional_reader()]


@router.post("/gifts", status_code=201)
async def record_gift(
    ward: str, command: RecordGift, request: Request, principal: Finance
) -> dict[str, object]:
    ctx: ServiceContext = request.app.state.ctx
    event = NewEvent(event_type="sample.GiftRecorded", data=command.model_dump())
    context = append_context(request, principal, ward, payload=command.model_dump())
    result = await ctx.store.append(f"gift-{event.event_id}", 0, [event], context)
    return {"event_id": str(result.events[0].event_id), "replayed": result.replayed}


@router.get("/gifts/total")
async def gift_total(ward: str, request: Request, _principal: Reader) -> dict[str, int]:
    ctx: ServiceContext = request.app.state.ctx
    query = sa.select(totals.c.gifts, totals.c.yen).where(totals.c.ward == ward)
    row = await ctx.database.read(lambda c: c.execute(query).one_or_none())
    return {"gifts": row.gifts if row else 0, "yen": row.yen if row else 0}


SPEC = ServiceSpec(
    name="sample",
    title="Sample service",
    routers=[router],
    projections=[projection],
    consumes=["sample"],
)
