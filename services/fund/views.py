"""What the fund's routes answer. Donors' personal data appears only for finance and auditors;
everyone else sees the name the donor allowed to be published, or 匿名."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import BaseModel

from services.fund.book import FundBook
from services.fund.designations import Designation
from services.fund.ledger import Account
from services.fund.projections import public_name

Row = Mapping[str, Any]


class DesignationView(BaseModel):
    key: str
    kind: str
    target: str | None = None


def designation_view(key: str) -> DesignationView:
    parsed = Designation.parse(key)
    return DesignationView(key=key, kind=parsed.kind.value, target=parsed.target)


class Receipt(BaseModel):
    fiscal_year: int
    number: int
    label: str


class DonorView(BaseModel):
    kind: str
    publish_name: bool
    public_name: str


class Balances(BaseModel):
    fund: int = 0
    available: int = 0
    held: int = 0
    committed: int = 0
    paid: int = 0
    refunded: int = 0


class LotView(BaseModel):
    designation: DesignationView
    balances: Balances


class DonationView(BaseModel):
    donation_id: str
    ward: str
    receipt: Receipt
    received_on: date
    amount_yen: int
    designation: DesignationView
    channel: str
    donor: DonorView
    balances: Balances
    lots: list[LotView]
    personal: dict[str, Any] | None = None
    note: str | None = None


class DonationPage(BaseModel):
    items: list[DonationView]
    total: int
    limit: int
    offset: int


def _balances(values: Mapping[str, Any]) -> Balances:
    return Balances(**{account.value: int(values[account.value]) for account in Account})


def _sum_balances(rows: Iterable[Mapping[str, Any]]) -> Balances:
    totals = dict.fromkeys((a.value for a in Account), 0)
    for row in rows:
        for account in totals:
            totals[account] += int(row[account])
    return Balances(**totals)


def donation_from_row(row: Row, *, full: bool) -> DonationView:
    lots = [
        LotView(designation=designation_view(lot["designation"]), balances=_balances(lot))
        for lot in row.get("lots", [])
    ]
    view = DonationView(
        donation_id=row["donation_id"],
        ward=row["ward"],
        receipt=Receipt(
            fiscal_year=row["receipt_fiscal_year"],
            number=row["receipt_number"],
            label=row["receipt_label"],
        ),
        received_on=row["received_on"],
        amount_yen=row["amount_yen"],
        designation=designation_view(row["designation"]),
        channel=row["channel"],
        donor=DonorView(
            kind=row["donor_kind"], publish_name=row["publish_name"], public_name=row["public_name"]
        ),
        balances=_sum_balances(lot.balances.model_dump() for lot in lots),
        lots=lots,
    )
    if full:
        view.personal = dict(row["personal"])
        view.note = row["note"]
    return view


def donation_from_event(data: Mapping[str, Any], ward: str, *, full: bool) -> DonationView:
    """The answer to a recorded (or replayed) donation, before the read model has it."""
    amount = int(data["amount_yen"])
    lot = LotView(
        designation=designation_view(data["designation"]),
        balances=Balances(fund=amount, available=amount),
    )
    row = {
        "donation_id": data["donation_id"],
        "ward": ward,
        "receipt_fiscal_year": data["receipt"]["fiscal_year"],
        "receipt_number": data["receipt"]["number"],
        "receipt_label": data["receipt"]["label"],
        "received_on": date.fromisoformat(data["received_on"]),
        "amount_yen": amount,
        "designation": data["designation"],
        "channel": data["channel"],
        "donor_kind": data["donor"]["kind"],
        "publish_name": data["donor"]["publish_name"],
        "public_name": public_name(data["donor"], data.get("personal", {})),
        "personal": data.get("personal", {}),
        "note": data.get("note"),
        "lots": [],
    }
    view = donation_from_row(row, full=full)
    view.lots, view.balances = [lot], lot.balances
    return view


# --- grants -------------------------------------------------------------------------------


class RecipientView(BaseModel):
    kind: str
    id: str
    paid_actor_id: str
    name: str | None = None


class GrantBalances(BaseModel):
    amount_yen: int
    committed: int
    paid: int
    returned: int
    given_up: int
    tranches: int
    returns: int


class GrantView(BaseModel):
    grant_id: str
    ward: str
    recipient: RecipientView
    purpose_field: str
    fiscal_year: int
    title: str
    awarded_on: date
    allocation_rule: str
    balances: GrantBalances


class GrantPage(BaseModel):
    items: list[GrantView]
    total: int
    limit: int
    offset: int


def grant_from_row(row: Row) -> GrantView:
    return GrantView(
        grant_id=row["grant_id"],
        ward=row["ward"],
        recipient=RecipientView(
            kind=row["recipient_kind"],
            id=row["recipient_id"],
            paid_actor_id=row["paid_actor_id"],
            name=row["recipient_name"],
        ),
        purpose_field=row["purpose_field"],
        fiscal_year=row["fiscal_year"],
        title=row["title"],
        awarded_on=row["awarded_on"],
        allocation_rule=row["allocation_rule"],
        balances=GrantBalances(
            amount_yen=row["amount_yen"],
            committed=row["committed"],
            paid=row["paid"],
            returned=row["returned"],
            given_up=row["given_up"],
            tranches=row["tranches"],
            returns=row["returns"],
        ),
    )


def grant_from_event(data: Mapping[str, Any], ward: str, book: FundBook) -> GrantView:
    grant = book.grants[data["grant_id"]]
    row = {
        "grant_id": data["grant_id"],
        "ward": ward,
        "recipient_kind": data["recipient"]["kind"],
        "recipient_id": data["recipient"]["id"],
        "paid_actor_id": data["recipient"]["paid_actor_id"],
        "recipient_name": data["recipient"].get("name"),
        "purpose_field": data["purpose_field"],
        "fiscal_year": data["fiscal_year"],
        "title": data["title"],
        "awarded_on": date.fromisoformat(data["awarded_on"]),
        "allocation_rule": data["allocation_rule"],
        **grant_balances(book, grant.grant_id).model_dump(),
    }
    return grant_from_row(row)


def grant_balances(book: FundBook, grant_id: str) -> GrantBalances:
    grant = book.grants[grant_id]
    return GrantBalances(
        amount_yen=grant.amount_yen,
        committed=grant.committed,
        paid=grant.paid,
        returned=grant.returned,
        given_up=sum(line.given_up for line in grant.lines.values()),
        tranches=grant.tranches,
        returns=grant.returns,
    )


class MovementLine(BaseModel):
    donation_id: str
    designation: str
    amount_yen: int
    to: str | None = None
    to_designation: str | None = None


class Movement(BaseModel):
    """A disbursement, a return, a refund or a release, with the lots it moved."""

    kind: str
    id: str | None
    amount_yen: int
    on: date
    lines: list[MovementLine]
    detail: dict[str, Any]


MOVEMENT_KINDS = {
    "fund.GrantDisbursed": ("disbursement", "disbursement_id", "paid_on"),
    "fund.GrantFundsReturned": ("return", "return_id", "returned_on"),
    "fund.DonationRefunded": ("refund", "refund_id", "refunded_on"),
    "fund.HeldFundsReleased": ("release", None, "decided_on"),
}


def movement_from_event(event_type: str, data: Mapping[str, Any]) -> Movement:
    kind, id_key, on_key = MOVEMENT_KINDS[event_type]
    detail = {k: v for k, v in data.items() if k not in ("lines", "amount_yen", on_key)}
    return Movement(
        kind=kind,
        id=data[id_key] if id_key else None,
        amount_yen=data["amount_yen"],
        on=date.fromisoformat(data[on_key]),
        lines=[MovementLine(**line) for line in data["lines"]],
        detail=detail,
    )


class GrantMovement(BaseModel):
    movement: Movement
    grant: GrantBalances


class RefundAnswer(BaseModel):
    movement: Movement
    donation: Balances


def donation_balances(book: FundBook, donation_id: str) -> Balances:
    totals = {a.value: 0 for a in Account}
    for lot in book.lots_of(donation_id):
        for account, value in lot.balance.items():
            totals[account.value] += value
    return Balances(**totals)


# --- lineage and statement ----------------------------------------------------------------


class LineageLine(BaseModel):
    line_no: int
    donation_id: str
    receipt_label: str
    received_on: date
    donor: str
    personal: dict[str, Any] | None = None
    designation: DesignationView
    allocated: int
    committed: int
    paid: int
    returned: int
    given_up: int


class Lineage(BaseModel):
    grant: GrantView
    lines: list[LineageLine]
    by_designation: dict[str, int]


def lineage_from_row(row: Row, *, full: bool) -> Lineage:
    lines = []
    for line in row["lines"]:
        view = LineageLine(
            line_no=line["line_no"],
            donation_id=line["donation_id"],
            receipt_label=line["receipt_label"],
            received_on=line["received_on"],
            donor=line["public_name"],
            designation=designation_view(line["designation"]),
            allocated=line["allocated"],
            committed=line["committed"],
            paid=line["paid"],
            returned=line["returned"],
            given_up=line["given_up"],
        )
        if full:
            view.personal = dict(line["personal"])
        lines.append(view)
    by_designation: dict[str, int] = {}
    for line in lines:
        key = line.designation.key
        by_designation[key] = by_designation.get(key, 0) + line.allocated
    return Lineage(grant=grant_from_row(row), lines=lines, by_designation=by_designation)


class JournalLine(BaseModel):
    account: str
    designation: str
    donation_id: str
    grant_id: str | None
    debit_yen: int
    credit_yen: int


class JournalEntryView(BaseModel):
    event_id: str
    event_type: str
    position: int
    entry_date: date
    lines: list[JournalLine]
    debits: int
    credits: int


def entries_from_rows(rows: Iterable[Row]) -> list[JournalEntryView]:
    entries: dict[str, JournalEntryView] = {}
    for row in rows:
        entry = entries.get(row["event_id"])
        if entry is None:
            entry = entries[row["event_id"]] = JournalEntryView(
                event_id=row["event_id"],
                event_type=row["event_type"],
                position=row["position"],
                entry_date=row["entry_date"],
                lines=[],
                debits=0,
                credits=0,
            )
        entry.lines.append(
            JournalLine(
                account=row["account"],
                designation=row["designation"],
                donation_id=row["donation_id"],
                grant_id=row["grant_id"],
                debit_yen=row["debit_yen"],
                credit_yen=row["credit_yen"],
            )
        )
        entry.debits += row["debit_yen"]
        entry.credits += row["credit_yen"]
    return list(entries.values())


class JournalPage(BaseModel):
    entries: list[JournalEntryView]
    total: int
    limit: int
    offset: int


class StatementGrant(BaseModel):
    grant_id: str
    title: str
    recipient_kind: str
    recipient_id: str
    recipient_name: str | None
    purpose_field: str
    fiscal_year: int
    designation: str
    allocated: int
    committed: int
    paid: int
    returned: int
    given_up: int


class Statement(BaseModel):
    """Where every yen of a donation went."""

    donation: DonationView
    grants: list[StatementGrant]
    movements: list[JournalEntryView]
    accounted_yen: int


def statement_from_row(row: Row, *, full: bool) -> Statement:
    donation = donation_from_row(row, full=full)
    grants = [
        StatementGrant(**{k: line[k] for k in StatementGrant.model_fields})
        for line in row["grants"]
    ]
    balances = donation.balances
    accounted = (
        balances.available + balances.held + balances.committed + balances.paid + balances.refunded
    )
    return Statement(
        donation=donation,
        grants=grants,
        movements=entries_from_rows(row["journal"]),
        accounted_yen=accounted,
    )
