"""Names of the events the fund appends (``fund.``) and of the streams it appends them to.

Every movement of money is a ``fund-{ward}`` event, so the stream's version serialises the
decisions that take money out of a lot. A donation only adds money: it is the next event of the
ward's receipt stream for its fiscal year (the receipt book), whose version is its receipt
number, so numbers are consecutive with no gap by construction.
"""

from __future__ import annotations

DONATION_RECEIVED = "fund.DonationReceived"
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


def fund_stream(ward: str) -> str:
    return f"fund-{ward}"


def receipt_stream(ward: str, fiscal_year: int) -> str:
    """The ward's receipt book for a fiscal year: donation number n is its version n."""
    return f"receipts-{ward}-{fiscal_year}"
