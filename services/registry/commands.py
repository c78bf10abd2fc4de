"""Commands (imperative names) and the request bodies they are built from.

Text is stripped and bounded here, so an empty or oversized value never reaches the domain.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.registry import corporate_number
from services.registry.japanese import is_kana_reading
from shared.policy import PolicyPack

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
WardCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$", max_length=32)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]+$", max_length=500)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9\-() ]{5,19}$")]
PostalCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}-?[0-9]{4}$")]
MAX_FIELDS = 10


def _kana(value: str) -> str:
    if not is_kana_reading(value):
        raise ValueError("a reading (フリガナ) is written in hiragana or katakana")
    return value


def _corporate_number(value: str) -> str:
    normalised = corporate_number.normalise(value)
    if not corporate_number.is_valid(normalised):
        raise ValueError("法人番号 is 13 digits whose first digit is the check digit")
    return normalised


def _unique_codes(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("each field is given once")
    return values


KanaReading = Annotated[Name, AfterValidator(_kana)]
CorporateNumber = Annotated[str, AfterValidator(_corporate_number)]
FieldCodes = Annotated[
    list[Code], Field(min_length=1, max_length=MAX_FIELDS), AfterValidator(_unique_codes)
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Person(_Strict):
    """An individual: all of it is personal data."""

    name: Name
    name_kana: KanaReading | None = None
    title: ShortText | None = None


class Contact(_Strict):
    email: Email | None = None
    phone: Phone | None = None
    postal_code: PostalCode | None = None
    address: Name | None = None


class PersonalData(_Strict):
    """Goes only into ``data["personal"]`` of an event, so that it can be shredded."""

    representative: Person | None = None
    contact: Contact | None = None

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ActorRegistration(_Strict):
    """Request body of a registration."""

    kind: Code
    name: Name = Field(description="The group's name; for a single person, their own name.")
    name_kana: KanaReading
    fields: FieldCodes
    area: ShortText | None = None
    description: LongText | None = None
    corporate_number: CorporateNumber | None = None
    website: Url | None = None
    personal: PersonalData = PersonalData()


class RegisterActor(ActorRegistration):
    ward: WardCode
    actor_id: str


NON_NULLABLE_CHANGES = frozenset({"name", "name_kana", "fields", "personal"})


class ActorProfileChanges(_Strict):
    """Request body of a profile update: the fields sent replace the stored ones; null clears."""

    name: Name | None = None
    name_kana: KanaReading | None = None
    fields: FieldCodes | None = None
    area: ShortText | None = None
    description: LongText | None = None
    website: Url | None = None
    personal: PersonalData | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if not self.model_fields_set:
            raise ValueError("a profile update changes at least one field")
        sent = self.model_fields_set
        cleared = sorted(n for n in NON_NULLABLE_CHANGES & sent if getattr(self, n) is None)
        if cleared:
            raise ValueError(f"cannot be cleared: {', '.join(cleared)}")
        return self

    def sent(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


class UpdateActorProfile(_Strict):
    ward: WardCode
    actor_id: str
    changes: ActorProfileChanges


class StatusChange(_Strict):
    """Request body of verify, suspend, reinstate and deregister."""

    reason: Reason | None = None


class VerifyActor(_Strict):
    ward: WardCode
    actor_id: str
    note: Reason | None = None


class SuspendActor(_Strict):
    ward: WardCode
    actor_id: str
    reason: Reason


class ReinstateActor(_Strict):
    ward: WardCode
    actor_id: str
    note: Reason | None = None


class DeregisterActor(_Strict):
    ward: WardCode
    actor_id: str
    reason: Reason | None = None


class ActivityAnnouncement(_Strict):
    """Request body of an announcement: an event or a course an actor runs."""

    actor_id: str = Field(min_length=1, max_length=64)
    kind: Literal["event", "course"]
    title: Name
    description: LongText | None = None
    fields: FieldCodes
    starts_on: date
    ends_on: date | None = None
    venue: Name | None = None
    url: Url | None = None

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError("ends_on is before starts_on")
        return self


class AnnounceActivity(ActivityAnnouncement):
    ward: WardCode
    activity_id: str


class OnboardWard(_Strict):
    pack: PolicyPack


class ChangeWardPolicy(_Strict):
    ward: WardCode
    pack: PolicyPack
    reason: Reason | None = None


class PolicyChange(_Strict):
    """Request body of a policy change."""

    pack: PolicyPack
    reason: Reason | None = None
