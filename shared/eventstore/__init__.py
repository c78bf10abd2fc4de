from shared.eventstore.store import (
    ANY_VERSION,
    NO_STREAM,
    AppendContext,
    AppendResult,
    EventStore,
    StreamAppend,
    envelope_from_wire,
)

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendContext",
    "AppendResult",
    "EventStore",
    "StreamAppend",
    "envelope_from_wire",
]
