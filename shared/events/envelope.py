"""The one envelope every event travels in (DESIGN.md, "Events")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, cast

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.ids import new_uuid

Role = Literal[
    "platform_admin",
    "ward_admin",
    "staff",
    "reviewer",
    "finance",
    "auditor",
    "actor",
    "system",
    "anonymous",
]
ROLES: tuple[Role, ...] = (
    "platform_admin",
    "ward_admin",
    "staff",
    "reviewer",
    "finance",
    "auditor",
    "actor",
    "system",
    "anonymous",
)


class EventActor(BaseModel):
    """Who caused the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    role: Role


SYSTEM_ACTOR = EventActor(subject="system", role="system")


class NewEvent(BaseModel):
    """An event decided by the domain, before the store gives it a version and a position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: str = Field(pattern=r"^[a-z]+\.[A-Z][A-Za-z]+$")
    data: dict[str, Any]
    schema_version: int = Field(default=1, ge=1)
    event_id: uuid.UUID = Field(default_factory=new_uuid)


class EnvelopeBody(BaseModel):
    """The envelope as stored and sent: everything but the store-assigned position."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: str
    schema_version: int = Field(ge=1)
    ward: str
    stream_id: str
    version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: EventActor
    correlation_id: str
    causation_id: str | None = None
    traceparent: str | None = None
    policy_version: int | None = None
    data: dict[str, Any]


class EventEnvelope(EnvelopeBody):
    """A stored fact. ``data["personal"]`` holds all personal data, so it can be shredded."""

    position: int = Field(ge=1)

    @classmethod
    def from_body(cls, body: bytes | str, position: int) -> EventEnvelope:
        """Parse a stored body (a JSON object without position) in one pass of pydantic's parser."""
        raw = body.encode() if isinstance(body, str) else body
        if not raw.endswith(b"}"):
            raise ValueError("an envelope body is a JSON object")
        # Straight to the validator: model_validate_json's wrapper adds a tenth to each parse.
        body_with_position = b'%s,"position":%d}' % (raw[:-1], position)
        return cast(EventEnvelope, cls.__pydantic_validator__.validate_json(body_with_position))

    @property
    def service(self) -> str:
        return service_of(self.event_type)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventEnvelope:
        """Parse a whole envelope (with its position), like ``model_validate_json``."""
        return cast(EventEnvelope, cls.__pydantic_validator__.validate_json(raw))

    def to_document(self) -> dict[str, Any]:
        """Plain-JSON form (what the audit log canonicalises and hashes)."""
        return self.model_dump(mode="json")


def service_of(event_type: str) -> str:
    """The service that records events of a type (the part before the dot)."""
    return event_type.split(".", 1)[0]


def is_aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None
