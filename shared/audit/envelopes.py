"""Leaves parsed back into event envelopes; a leaf that is not one is a ReplayError naming it."""

from __future__ import annotations

from pydantic import ValidationError

from shared.audit.errors import ReplayError
from shared.events.envelope import EventEnvelope


def envelope_at(index: int, leaf: bytes) -> EventEnvelope:
    """Leaf ``index`` of a log as the envelope it records."""
    try:
        return EventEnvelope.from_json(leaf)
    except ValueError as error:  # pydantic's ValidationError and orjson's errors are ValueErrors
        raise ReplayError(f"leaf {index} is not an event envelope: {problem(error)}") from error


def problem(error: ValueError) -> str:
    """What is wrong, on one line: a validation's first error, and how many others it found."""
    errors = error.errors(include_url=False) if isinstance(error, ValidationError) else []
    if not errors:
        return " ".join(str(error).split())
    first, *others = errors
    where = ".".join(str(part) for part in first["loc"])
    more = f" (and {len(others)} more)" if others else ""
    return f"{where}: {first['msg']}{more}" if where else f"{first['msg']}{more}"
