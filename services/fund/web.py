"""Small HTTP helpers of the fund's routes: context, the command side, who sees what."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from services.fund.handlers import FundService
from shared.errors import InvalidCommand
from shared.service import ServiceContext, service_context
from shared.web.auth import Principal, optional_reader, require

M = TypeVar("M", bound=BaseModel)
PERSONAL_DATA_ROLES = ("finance", "auditor")
REPORT_ROLES = ("finance", "auditor", "ward_admin")
FINANCE_ROLES = ("finance",)


async def fund_service(request: Request) -> FundService:
    service: FundService = request.app.state.fund
    return service


Context = Annotated[ServiceContext, Depends(service_context)]
Fund = Annotated[FundService, Depends(fund_service)]
Reader = Annotated[Principal, optional_reader()]
Finance = Annotated[Principal, require(*FINANCE_ROLES)]
WardAdmin = Annotated[Principal, require("ward_admin")]
ReportReader = Annotated[Principal, require(*REPORT_ROLES)]


def sees_personal_data(principal: Principal, ward: str) -> bool:
    """Donors' personal data: the ward's finance staff and auditors only."""
    return principal.has(*PERSONAL_DATA_ROLES) and principal.acts_for(ward)


def build(model: type[M], **values: Any) -> M:
    """A command from path values and a validated body; a bad path value is a 422 problem."""
    try:
        return model(**values)
    except ValidationError as error:
        problems = [{"loc": [str(p) for p in e["loc"]], "msg": e["msg"]} for e in error.errors()]
        raise InvalidCommand("the request is not valid", errors=problems) from error
