"""Names of the events the fund appends (``fund.``) and of the streams it appends them to.

Every movement of money is a ``fund-{ward}`` event, so the stream's version serialises the
decisions that take money out of a lot. A donation only adds money: it gets its own stream, and
its receipt number is the version of the ward's counter stream for that fiscal year.
"""

from __future__ import annotations

DONATION_RECEIVED = "fund.DonationReceived"
RECEIPT_NUMBER_ISSUED = "fund.ReceiptNumberIssued"
DONATION_REFUNDED = "fund.DonationRefunded"
GRANT_AWARDED = "fund.GrantAwarded"
GRANT_DISBURSED = "fund.GrantDisbursed"
GRANT_FUNDS_RETURNED = "fund.GrantFundsReturned"
DESIGNATED_FUNDS_HELD = "fund.DesignatedFundsHeld"
HELD_FUNDS_RELEASED = "fund.HeldFundsReleased"

MONEY_EVENTS = (
    DONATION_RECEIVED,
    DONATION_REFUNDED,
    GRANT_AWARDED,
    GRANT_DISBURSED,
    GRANT_FUNDS_RETURNED,
    DESIGNATED_FUNDS_HELD,
    HELD_FUNDS_RELEASED,
)

# What the fund learns from other services.
WARD_ONBOARDED = "registry.WardOnboarded"
WARD_POLICY_CHANGED = "registry.WardPolicyChanged"
ACTOR_REGISTERED = "registry.ActorRegistered"
ACTOR_VERIFIED = "registry.ActorVerified"
ACTOR_PROFILE_UPDATED = "registry.ActorProfileUpdated"
ACTOR_SUSPENDED = "registry.ActorSuspended"
ACTOR_REINSTATED = "registry.ActorReinstated"
ACTOR_DEREGISTERED = "registry.ActorDeregistered"
PROJECT_STARTED = "proposals.ProjectStarted"
PROJECT_ENDED = "proposals.ProjectEnded"


def donation_stream(donation_id: str) -> str:
    return f"donation-{donation_id}"


def fund_stream(ward: str) -> str:
    return f"fund-{ward}"


def receipt_stream(ward: str, fiscal_year: int) -> str:
    return f"receipts-{ward}-{fiscal_year}"
