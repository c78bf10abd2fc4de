from shared.events.envelope import (
    ROLES,
    SYSTEM_ACTOR,
    EventActor,
    EventEnvelope,
    NewEvent,
    Role,
)
from shared.events.registry import EventTypeRegistry, UnknownEventType

__all__ = [
    "ROLES",
    "SYSTEM_ACTOR",
    "EventActor",
    "EventEnvelope",
    "EventTypeRegistry",
    "NewEvent",
    "Role",
    "UnknownEventType",
]
