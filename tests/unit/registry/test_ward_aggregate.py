"""Given events / when command / then events or error, for wards and corporate-number claims."""

from __future__ import annotations

import pytest

from services.registry import claims, wards
from services.registry.commands import ChangeWardPolicy, OnboardWard
from services.registry.events import (
    CORPORATE_NUMBER_CLAIMED,
    CORPORATE_NUMBER_RELEASED,
    WARD_ONBOARDED,
    WARD_POLICY_CHANGED,
)
from shared.errors import Conflict, InvalidCommand, NotFound
from shared.policy import load_builtin_pack, pack_hash
from tests.unit.registry.support import NPO_NUMBER, given

NERIMA = load_builtin_pack("nerima")


def next_version(version: int = 2, **changes: object) -> ChangeWardPolicy:
    pack = NERIMA.model_copy(update={"version": version, **changes})
    return ChangeWardPolicy(ward="nerima", pack=pack, reason="分野の見直し")


def onboarded() -> list:  # type: ignore[type-arg]
    return wards.decide_onboard(None, OnboardWard(pack=NERIMA))


def test_a_ward_is_onboarded_with_its_pack_and_hash() -> None:
    (event,) = onboarded()
    assert event.event_type == WARD_ONBOARDED
    assert event.data["policy_version"] == 1
    assert event.data["pack_hash"] == pack_hash(NERIMA)
    assert event.data["pack"]["ward"] == "nerima" and event.data["lg_code"] == "131202"


def test_a_ward_is_onboarded_once() -> None:
    state = given(wards.initial_ward, wards.evolve_ward, onboarded())
    with pytest.raises(Conflict):
        wards.decide_onboard(state, OnboardWard(pack=NERIMA))


def test_onboarding_starts_at_version_one() -> None:
    with pytest.raises(InvalidCommand):
        wards.decide_onboard(None, OnboardWard(pack=NERIMA.model_copy(update={"version": 2})))


def test_a_policy_change_is_the_next_version() -> None:
    state = given(wards.initial_ward, wards.evolve_ward, onboarded())
    (event,) = wards.decide_change_policy(state, next_version())
    assert event.event_type == WARD_POLICY_CHANGED
    assert event.data["policy_version"] == 2
    assert event.data["previous_pack_hash"] == pack_hash(NERIMA)
    assert event.data["pack_hash"] != pack_hash(NERIMA)
    after = given(wards.initial_ward, wards.evolve_ward, onboarded(), [event])
    assert after is not None and after.policy_version == 2


def test_a_policy_change_that_skips_or_repeats_a_version_conflicts() -> None:
    state = given(wards.initial_ward, wards.evolve_ward, onboarded())
    for version in (1, 3):
        with pytest.raises(Conflict):
            wards.decide_change_policy(state, next_version(version))


def test_a_pack_for_another_ward_is_refused() -> None:
    state = given(wards.initial_ward, wards.evolve_ward, onboarded())
    ota = load_builtin_pack("ota").model_copy(update={"version": 2})
    with pytest.raises(InvalidCommand):
        wards.decide_change_policy(state, ChangeWardPolicy(ward="nerima", pack=ota))


def test_the_policy_of_a_ward_not_onboarded_is_not_found() -> None:
    with pytest.raises(NotFound):
        wards.decide_change_policy(None, next_version())


def test_a_corporate_number_is_claimed_once_per_ward_and_released_by_its_holder() -> None:
    (claim,) = claims.decide_claim(None, "nerima", NPO_NUMBER, "a1")
    assert claim.event_type == CORPORATE_NUMBER_CLAIMED
    holder = given(claims.initial_claim, claims.evolve_claim, [claim])
    assert holder == "a1"
    with pytest.raises(Conflict):
        claims.decide_claim(holder, "nerima", NPO_NUMBER, "a2")
    assert claims.decide_release(holder, NPO_NUMBER, "a2") == []
    (release,) = claims.decide_release(holder, NPO_NUMBER, "a1")
    assert release.event_type == CORPORATE_NUMBER_RELEASED
    assert given(claims.initial_claim, claims.evolve_claim, [claim], [release]) is None
