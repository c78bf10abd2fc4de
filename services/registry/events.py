"""Names of the events the registry appends: past-tense facts in the ``registry.`` namespace."""

from __future__ import annotations

WARD_ONBOARDED = "registry.WardOnboarded"
WARD_POLICY_CHANGED = "registry.WardPolicyChanged"

ACTOR_REGISTERED = "registry.ActorRegistered"
ACTOR_VERIFIED = "registry.ActorVerified"
ACTOR_PROFILE_UPDATED = "registry.ActorProfileUpdated"
ACTOR_SUSPENDED = "registry.ActorSuspended"
ACTOR_REINSTATED = "registry.ActorReinstated"
ACTOR_DEREGISTERED = "registry.ActorDeregistered"
ACTIVITY_ANNOUNCED = "registry.ActivityAnnounced"

CORPORATE_NUMBER_CLAIMED = "registry.CorporateNumberClaimed"
CORPORATE_NUMBER_RELEASED = "registry.CorporateNumberReleased"

ACTOR_EVENTS = (
    ACTOR_REGISTERED,
    ACTOR_VERIFIED,
    ACTOR_PROFILE_UPDATED,
    ACTOR_SUSPENDED,
    ACTOR_REINSTATED,
    ACTOR_DEREGISTERED,
    ACTIVITY_ANNOUNCED,
)
WARD_EVENTS = (WARD_ONBOARDED, WARD_POLICY_CHANGED)
CLAIM_EVENTS = (CORPORATE_NUMBER_CLAIMED, CORPORATE_NUMBER_RELEASED)


def ward_stream(ward: str) -> str:
    return f"ward-{ward}"


def actor_stream(actor_id: str) -> str:
    return f"actor-{actor_id}"


def claim_stream(ward: str, number: str) -> str:
    # One corporation, one record per ward; the same number may be claimed in every ward.
    return f"corporate-number-{ward}-{number}"
