"""A pure, in-memory fund for domain tests: deciders' events get envelopes and are folded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from services.fund.book import FundBook
from services.fund.commands import ReceiveDonation
from services.fund.designations import DesignationKind
from services.fund.donations import decide_donation, receipt_fiscal_year, with_receipt
from services.fund.events import fund_stream, receipt_stream
from services.fund.policy import FundPolicy, policy_from_pack
from services.fund.targets import Target, TargetStatus
from shared.events import SYSTEM_ACTOR, EventEnvelope, NewEvent
from shared.policy import load_builtin_pack

WARD = "ota"
TODAY = date(2025, 6, 30)
NOW = datetime(2025, 6, 30, 3, 0, tzinfo=UTC)


def ota_policy() -> FundPolicy:
    return policy_from_pack(load_builtin_pack(WARD), 1)


def actor(actor_id: str, status: TargetStatus = TargetStatus.ACTIVE, **kw: Any) -> Target:
    return Target(DesignationKind.ACTOR, actor_id, WARD, status, name=f"団体{actor_id}", **kw)


def project(project_id: str, lead: str, status: TargetStatus = TargetStatus.ACTIVE) -> Target:
    return Target(DesignationKind.PROJECT, project_id, WARD, status, lead_actor_id=lead)


def donor() -> dict[str, Any]:
    return {"kind": "person", "name": "大田 花子", "address": "東京都大田区蒲田5-13-14"}


class MemoryFund:
    """Events as a store would hold them (versions per stream, global positions), and the book."""

    def __init__(self) -> None:
        self.events: list[EventEnvelope] = []
        self.versions: dict[str, int] = {}
        self.book = FundBook()
        self.receipts: dict[int, int] = {}

    def record(self, stream: str, new_events: Sequence[NewEvent]) -> list[EventEnvelope]:
        recorded = []
        for new in new_events:
            version = self.versions.get(stream, 0) + 1
            self.versions[stream] = version
            envelope = EventEnvelope(
                event_id=new.event_id,
                event_type=new.event_type,
                schema_version=1,
                ward=WARD,
                stream_id=stream,
                version=version,
                position=len(self.events) + 1,
                occurred_at=NOW,
                recorded_at=NOW,
                actor=SYSTEM_ACTOR,
                correlation_id="test",
                data=new.data,
            )
            self.events.append(envelope)
            self.book.apply(envelope)
            recorded.append(envelope)
        return recorded

    def decided(self, new_events: Sequence[NewEvent]) -> list[EventEnvelope]:
        return self.record(fund_stream(WARD), new_events)

    def donate(
        self,
        amount: int,
        designation: dict[str, Any],
        received_on: date = TODAY,
        donation_id: str | None = None,
    ) -> str:
        command = ReceiveDonation(
            ward=WARD,
            donation_id=donation_id or str(uuid.uuid4()),
            amount_yen=amount,
            received_on=received_on,
            designation=designation,
            donor=donor(),
        )
        year = receipt_fiscal_year(command)
        number = self.receipts.get(year, 0) + 1
        self.receipts[year] = number
        received = decide_donation(command)
        data = with_receipt(WARD, year)(received.data, number)  # as the store stamps it
        self.record(receipt_stream(WARD, year), [received.model_copy(update={"data": data})])
        return command.donation_id
