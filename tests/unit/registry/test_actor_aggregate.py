"""Given events / when command / then events or error, for the actor aggregate."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry import domain
from services.registry.commands import (
    ActorProfileChanges,
    AnnounceActivity,
    DeregisterActor,
    PersonalData,
    ReinstateActor,
    SuspendActor,
    UpdateActorProfile,
    VerifyActor,
)
from services.registry.domain import Actor, ActorStatus
from services.registry.events import (
    ACTIVITY_ANNOUNCED,
    ACTOR_DEREGISTERED,
    ACTOR_PROFILE_UPDATED,
    ACTOR_REGISTERED,
    ACTOR_REINSTATED,
    ACTOR_SUSPENDED,
    ACTOR_VERIFIED,
)
from shared.errors import Conflict, Forbidden, InvalidCommand, NotFound
from shared.events import NewEvent
from tests.unit.registry.support import NPO_NUMBER, given, nerima_policy, registration

POLICY = nerima_policy()
REGISTRATION = registration()
ACTOR_ID = REGISTRATION.actor_id


def actor_after(*histories: list[NewEvent]) -> Actor | None:
    return given(domain.initial_actor, domain.evolve_actor, *histories)


def registered() -> list[NewEvent]:
    return domain.decide_register(None, REGISTRATION, POLICY, by_staff=False)


def verified() -> list[NewEvent]:
    return domain.decide_verify(
        actor_after(registered()), VerifyActor(ward="nerima", actor_id=ACTOR_ID)
    )


def suspended() -> list[NewEvent]:
    state = actor_after(registered(), verified())
    return domain.decide_suspend(state, SuspendActor(ward="nerima", actor_id=ACTOR_ID, reason="r"))


def deregistered() -> list[NewEvent]:
    state = actor_after(registered())
    return domain.decide_deregister(state, DeregisterActor(ward="nerima", actor_id=ACTOR_ID))


def update(**changes: object) -> UpdateActorProfile:
    body = ActorProfileChanges.model_validate(changes)
    return UpdateActorProfile(ward="nerima", actor_id=ACTOR_ID, changes=body)


def announcement(**overrides: object) -> AnnounceActivity:
    values: dict[str, object] = {
        "ward": "nerima",
        "activity_id": "a-1",
        "actor_id": ACTOR_ID,
        "kind": "event",
        "title": "秋の防災訓練",
        "fields": ["safety"],
        "starts_on": date(2026, 10, 4),
    }
    values.update(overrides)
    return AnnounceActivity.model_validate(values)


# --- registration -------------------------------------------------------------------------


def test_a_group_registers_pending_with_personal_data_kept_apart() -> None:
    (event,) = registered()
    assert event.event_type == ACTOR_REGISTERED
    assert event.data["name"] == "光が丘第一町会"
    assert event.data["kind"] == "neighbourhood_association"
    assert event.data["personal"]["representative"]["name"] == "田中 一郎"
    public = {k: v for k, v in event.data.items() if k != "personal"}
    assert "田中" not in str(public) and "example.jp" not in str(public)
    assert actor_after([event]) is not None
    assert actor_after([event]).status is ActorStatus.PENDING  # type: ignore[union-attr]


def test_a_single_persons_name_is_personal_data() -> None:
    command = registration(kind="resident", name="佐藤 花子", name_kana="サトウ ハナコ")
    (event,) = domain.decide_register(None, command, POLICY, by_staff=False)
    assert event.data["name"] is None and event.data["name_kana"] is None
    assert event.data["personal"]["name"] == "佐藤 花子"
    assert event.data["individual"] is True
    state = actor_after([event])
    assert state is not None and not state.is_listed


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"kind": "guild"}, InvalidCommand),
        ({"fields": ["safety", "space_travel"]}, InvalidCommand),
        ({"kind": "npo_corporation"}, InvalidCommand),  # no 法人番号
        ({"kind": "resident", "corporate_number": NPO_NUMBER}, InvalidCommand),
        ({"kind": "ward"}, Forbidden),  # only staff register the ward's departments
    ],
)
def test_registration_is_refused(overrides: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        domain.decide_register(None, registration(**overrides), POLICY, by_staff=False)


def test_an_npo_corporation_registers_with_its_corporate_number() -> None:
    command = registration(kind="npo_corporation", corporate_number=NPO_NUMBER)
    (event,) = domain.decide_register(None, command, POLICY, by_staff=False)
    assert event.data["corporate_number"] == NPO_NUMBER


def test_staff_register_a_ward_department() -> None:
    command = registration(
        kind="ward", name="練馬区 地域振興課", name_kana="ネリマク チイキシンコウカ"
    )
    assert domain.decide_register(None, command, POLICY, by_staff=True)


def test_kinds_and_fields_come_from_the_wards_own_pack() -> None:
    from tests.unit.registry.support import ota_policy

    command = registration(ward="ota", kind="civic_group", fields=["children"])
    assert domain.decide_register(None, command, ota_policy(), by_staff=False)
    with pytest.raises(InvalidCommand):
        domain.decide_register(None, command, POLICY, by_staff=False)


def test_the_same_actor_is_not_registered_twice() -> None:
    with pytest.raises(Conflict):
        domain.decide_register(actor_after(registered()), REGISTRATION, POLICY, by_staff=False)


# --- status changes -----------------------------------------------------------------------


def test_staff_verify_a_pending_actor() -> None:
    (event,) = verified()
    assert event.event_type == ACTOR_VERIFIED
    assert event.data["actor_id"] == ACTOR_ID and event.data["kind"] == "neighbourhood_association"
    state = actor_after(registered(), [event])
    assert state is not None and state.status is ActorStatus.ACTIVE and state.is_listed


@pytest.mark.parametrize(
    "history",
    [
        lambda: [registered(), verified()],
        lambda: [registered(), verified(), suspended()],
        lambda: [registered(), deregistered()],
    ],
)
def test_only_a_pending_actor_is_verified(history: object) -> None:
    state = actor_after(*history())  # type: ignore[operator]
    with pytest.raises(Conflict):
        domain.decide_verify(state, VerifyActor(ward="nerima", actor_id=ACTOR_ID))


def test_an_actor_of_another_ward_does_not_exist_here() -> None:
    state = actor_after(registered())
    with pytest.raises(NotFound):
        domain.decide_verify(state, VerifyActor(ward="ota", actor_id=ACTOR_ID))
    with pytest.raises(NotFound):
        domain.decide_verify(None, VerifyActor(ward="nerima", actor_id=ACTOR_ID))


def test_an_active_actor_is_suspended_and_reinstated() -> None:
    (suspension,) = suspended()
    assert suspension.event_type == ACTOR_SUSPENDED and suspension.data["reason"] == "r"
    state = actor_after(registered(), verified(), [suspension])
    assert state is not None and state.status is ActorStatus.SUSPENDED and not state.is_listed
    (reinstatement,) = domain.decide_reinstate(
        state, ReinstateActor(ward="nerima", actor_id=ACTOR_ID)
    )
    assert reinstatement.event_type == ACTOR_REINSTATED
    after = actor_after(registered(), verified(), [suspension], [reinstatement])
    assert after is not None and after.status is ActorStatus.ACTIVE


def test_a_suspended_actor_is_not_suspended_again() -> None:
    state = actor_after(registered(), verified(), suspended())
    with pytest.raises(Conflict):
        domain.decide_suspend(state, SuspendActor(ward="nerima", actor_id=ACTOR_ID, reason="r"))


def test_a_pending_actor_is_not_suspended_and_an_active_one_not_reinstated() -> None:
    with pytest.raises(Conflict):
        domain.decide_suspend(
            actor_after(registered()), SuspendActor(ward="nerima", actor_id=ACTOR_ID, reason="r")
        )
    with pytest.raises(Conflict):
        domain.decide_reinstate(
            actor_after(registered(), verified()), ReinstateActor(ward="nerima", actor_id=ACTOR_ID)
        )


@pytest.mark.parametrize(
    "history",
    [
        lambda: [registered()],
        lambda: [registered(), verified()],
        lambda: [registered(), verified(), suspended()],
    ],
)
def test_an_actor_is_deregistered_from_any_live_status(history: object) -> None:
    state = actor_after(*history())  # type: ignore[operator]
    command = DeregisterActor(ward="nerima", actor_id=ACTOR_ID, reason="解散")
    (event,) = domain.decide_deregister(state, command)
    assert event.event_type == ACTOR_DEREGISTERED and event.data["reason"] == "解散"


def test_a_deregistered_actor_stays_deregistered() -> None:
    state = actor_after(registered(), deregistered())
    with pytest.raises(Conflict):
        domain.decide_deregister(state, DeregisterActor(ward="nerima", actor_id=ACTOR_ID))
    with pytest.raises(Conflict):
        domain.decide_update_profile(state, update(area="石神井"), POLICY)


# --- profile ------------------------------------------------------------------------------


def test_a_profile_update_carries_only_what_changed() -> None:
    state = actor_after(registered(), verified())
    command = update(area="光が丘", description="見守りと防災訓練", website="https://example.jp")
    (event,) = domain.decide_update_profile(state, command, POLICY)
    assert event.event_type == ACTOR_PROFILE_UPDATED
    assert event.data["changes"] == {
        "description": "見守りと防災訓練",
        "website": "https://example.jp",
    }
    assert "personal" not in event.data
    after = actor_after(registered(), verified(), [event])
    assert after is not None and after.profile.website == "https://example.jp"


def test_an_update_that_changes_nothing_appends_nothing() -> None:
    state = actor_after(registered())
    assert domain.decide_update_profile(state, update(area="光が丘"), POLICY) == []


def test_an_update_clears_optional_fields_with_null() -> None:
    state = actor_after(registered())
    (event,) = domain.decide_update_profile(state, update(area=None), POLICY)
    after = actor_after(registered(), [event])
    assert after is not None and after.profile.area is None


def test_new_personal_data_replaces_the_old_and_stays_personal() -> None:
    state = actor_after(registered())
    personal = {"contact": {"email": "new@example.jp"}}
    (event,) = domain.decide_update_profile(state, update(personal=personal), POLICY)
    assert event.data["changes"] == {}
    assert event.data["personal"] == {
        "representative": None,
        "contact": {"email": "new@example.jp"},
    }
    after = actor_after(registered(), [event])
    assert after is not None and after.personal == {"contact": {"email": "new@example.jp"}}


def test_a_single_persons_new_name_goes_to_personal() -> None:
    command = registration(kind="resident", name="佐藤 花子", name_kana="サトウ ハナコ")
    history = domain.decide_register(None, command, POLICY, by_staff=False)
    state = given(domain.initial_actor, domain.evolve_actor, history)
    change = UpdateActorProfile(
        ward="nerima",
        actor_id=command.actor_id,
        changes=ActorProfileChanges(name="鈴木 花子"),
    )
    (event,) = domain.decide_update_profile(state, change, POLICY)
    assert event.data["changes"] == {} and event.data["personal"] == {"name": "鈴木 花子"}


def test_an_update_with_an_unknown_field_is_refused() -> None:
    with pytest.raises(InvalidCommand):
        domain.decide_update_profile(actor_after(registered()), update(fields=["x"]), POLICY)


# --- activities ---------------------------------------------------------------------------


def test_an_active_actor_announces_an_activity() -> None:
    state = actor_after(registered(), verified())
    (event,) = domain.decide_announce(state, announcement(), POLICY)
    assert event.event_type == ACTIVITY_ANNOUNCED
    assert event.data["title"] == "秋の防災訓練" and event.data["starts_on"] == "2026-10-04"
    after = actor_after(registered(), verified(), [event])
    assert after is not None and "a-1" in after.activity_ids
    with pytest.raises(Conflict):
        domain.decide_announce(after, announcement(), POLICY)


def test_a_pending_actor_does_not_announce() -> None:
    with pytest.raises(Conflict):
        domain.decide_announce(actor_after(registered()), announcement(), POLICY)


def test_an_activity_in_an_unknown_field_is_refused() -> None:
    state = actor_after(registered(), verified())
    with pytest.raises(InvalidCommand):
        domain.decide_announce(state, announcement(fields=["x"]), POLICY)


def test_personal_data_model_keeps_only_what_was_given() -> None:
    assert PersonalData().document() == {}
