"""Bad input never reaches the domain: commands refuse it on construction."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from services.registry.commands import ActivityAnnouncement, ActorProfileChanges, ActorRegistration
from tests.unit.registry.support import NPO_NUMBER

VALID: dict[str, Any] = {
    "kind": "npo_corporation",
    "name": "NPO法人 ねりま子育てネットワーク",
    "name_kana": "ねりまこそだてねっとわーく",
    "fields": ["childcare"],
    "corporate_number": NPO_NUMBER,
}


def test_a_valid_registration_is_accepted_and_stripped() -> None:
    body = ActorRegistration.model_validate({**VALID, "name": "  ねりま子育て  "})
    assert body.name == "ねりま子育て"


def test_a_full_width_corporate_number_is_normalised() -> None:
    full_width = NPO_NUMBER.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    body = ActorRegistration.model_validate({**VALID, "corporate_number": full_width})
    assert body.corporate_number == NPO_NUMBER


@pytest.mark.parametrize(
    "override",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "あ" * 201},
        {"name_kana": "Nerima"},
        {"fields": []},
        {"fields": ["childcare", "childcare"]},
        {"corporate_number": "1234567890123"},
        {"corporate_number": NPO_NUMBER[:-1]},
        {"website": "javascript:alert(1)"},
        {"personal": {"contact": {"email": "not-an-email"}}},
        {"personal": {"representative": {"name": ""}}},
        {"unexpected": 1},
    ],
)
def test_bad_registration_input_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ActorRegistration.model_validate({**VALID, **override})


def test_a_profile_update_changes_something_and_never_clears_the_name() -> None:
    with pytest.raises(ValidationError):
        ActorProfileChanges.model_validate({})
    with pytest.raises(ValidationError):
        ActorProfileChanges.model_validate({"name": None})
    assert ActorProfileChanges.model_validate({"area": None}).sent() == {"area": None}


def test_an_activity_does_not_end_before_it_starts() -> None:
    with pytest.raises(ValidationError):
        ActivityAnnouncement.model_validate(
            {
                "actor_id": "a",
                "kind": "course",
                "title": "講座",
                "fields": ["childcare"],
                "starts_on": "2026-05-02",
                "ends_on": "2026-05-01",
            }
        )
