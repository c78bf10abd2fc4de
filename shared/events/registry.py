"""Registry of event types and their upcasters.

Stored bytes never change: an event written under an old schema is upgraded on read by a chain of
upcasters, one per version step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from shared.events.envelope import EventEnvelope

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class EventType:
    name: str
    data_model: type[BaseModel] | None
    current_version: int = 1
    upcasters: dict[int, Upcaster] = field(default_factory=dict)


class UnknownEventType(KeyError):
    pass


class EventTypeRegistry:
    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}

    def register(
        self, name: str, data_model: type[BaseModel] | None = None, *, version: int = 1
    ) -> EventType:
        if name in self._types:
            raise ValueError(f"event type {name} is registered twice")
        event_type = EventType(name, data_model, version)
        self._types[name] = event_type
        return event_type

    def upcaster(self, name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register the step that turns ``from_version`` data into ``from_version + 1`` data."""

        def decorate(function: Upcaster) -> Upcaster:
            self._types[name].upcasters[from_version] = function
            return function

        return decorate

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def names(self) -> list[str]:
        return sorted(self._types)

    def get(self, name: str) -> EventType:
        try:
            return self._types[name]
        except KeyError:
            raise UnknownEventType(name) from None

    def upcast(self, envelope: EventEnvelope) -> EventEnvelope:
        event_type = self._types.get(envelope.event_type)
        if event_type is None or envelope.schema_version >= event_type.current_version:
            return envelope
        data = envelope.data
        for step in range(envelope.schema_version, event_type.current_version):
            data = event_type.upcasters[step](data)
        return envelope.model_copy(
            update={"data": data, "schema_version": event_type.current_version}
        )

    def validate_data(self, name: str, data: dict[str, Any]) -> None:
        model = self.get(name).data_model
        if model is not None:
            model.model_validate(data)
