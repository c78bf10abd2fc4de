"""Request bodies and commands (imperative names). Money is strict integer yen.

A JSON amount of ``1000.0``, ``"1000"``, ``0`` or ``-5`` never reaches the domain: strict ints
refuse floats and strings, ``gt=0`` refuses the rest.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from services.fund.designations import Designation

MAX_YEN = 10**12
Yen = Annotated[int, Field(strict=True, gt=0, le=MAX_YEN)]
FiscalYear = Annotated[int, Field(strict=True, ge=2000, le=2100)]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")]
WardCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9\-() ]{5,19}$")]
PostalCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}-?[0-9]{4}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- designations -------------------------------------------------------------------------


class GeneralDesignation(_Strict):
    kind: Literal["general"]

    def value(self) -> Designation:
        return Designation.general()


class FieldDesignation(_Strict):
    kind: Literal["field"]
    field: Code

    def value(self) -> Designation:
        return Designation.field(self.field)


class ActorDesignation(_Strict):
    kind: Literal["actor"]
    actor_id: Identifier

    def value(self) -> Designation:
        return Designation.actor(self.actor_id)


class ProjectDesignation(_Strict):
    kind: Literal["project"]
    project_id: Identifier

    def value(self) -> Designation:
        return Designation.project(self.project_id)


DesignationBody = Annotated[
    GeneralDesignation | FieldDesignation | ActorDesignation | ProjectDesignation,
    Field(discriminator="kind"),
]


# --- donations ----------------------------------------------------------------------------


class Donor(_Strict):
    """The donor. Everything but ``kind`` and ``publish_name`` is personal data."""

    kind: Literal["person", "company"]
    name: Name
    name_kana: Name | None = None
    address: Text
    postal_code: PostalCode | None = None
    email: Email | None = None
    phone: Phone | None = None
    publish_name: StrictBool = False
    published_name: Name | None = Field(
        default=None, description="The name to publish, if not the donor's own (e.g. 有志一同)."
    )

    def personal(self) -> dict[str, str]:
        """Goes only into ``data["personal"]`` of the event, so that it can be shredded."""
        return self.model_dump(mode="json", exclude={"kind", "publish_name"}, exclude_none=True)


class DonationBody(_Strict):
    amount_yen: Yen
    received_on: date
    designation: DesignationBody
    donor: Donor
    channel: Literal["counter", "bank_transfer", "online"] = "counter"
    note: Text | None = None


class ReceiveDonation(DonationBody):
    ward: WardCode
    donation_id: str


class RefundBody(_Strict):
    amount_yen: Yen | None = Field(
        default=None, description="Defaults to the whole unallocated remainder."
    )
    refunded_on: date
    reason: Text


class RefundDonation(RefundBody):
    ward: WardCode
    donation_id: str
    refund_id: str


# --- grants -------------------------------------------------------------------------------


class ActorRecipient(_Strict):
    kind: Literal["actor"]
    actor_id: Identifier


class ProjectRecipient(_Strict):
    kind: Literal["project"]
    project_id: Identifier


Recipient = Annotated[ActorRecipient | ProjectRecipient, Field(discriminator="kind")]


class GrantBody(_Strict):
    recipient: Recipient
    purpose_field: Code
    fiscal_year: FiscalYear
    amount_yen: Yen
    title: Name
    awarded_on: date


class AwardGrant(GrantBody):
    ward: WardCode
    grant_id: str


class DisbursementBody(_Strict):
    amount_yen: Yen
    paid_on: date
    note: Text | None = None


class DisburseGrant(DisbursementBody):
    ward: WardCode
    grant_id: str
    disbursement_id: str


class ReturnBody(_Strict):
    amount_yen: Yen
    returned_on: date
    source: Literal["disbursed", "undisbursed"] = Field(
        default="disbursed",
        description="disbursed: paid money the recipient gives back unused; "
        "undisbursed: the part of the grant not yet paid is given up.",
    )
    reason: Text


class ReturnGrantFunds(ReturnBody):
    ward: WardCode
    grant_id: str
    return_id: str


# --- held money ---------------------------------------------------------------------------


class WardDecision(_Strict):
    reference: Name = Field(description="The decision's reference, e.g. 決裁番号.")
    decided_on: date
    reason: Text


class ReleaseBody(_Strict):
    designation: DesignationBody = Field(description="The held designation.")
    to: DesignationBody = Field(description="Where the held money goes.")
    decision: WardDecision


class ReleaseHeldFunds(ReleaseBody):
    ward: WardCode
