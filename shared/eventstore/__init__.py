from shared.eventstore.store import (
    ANY_VERSION,
    NO_STREAM,
    AppendContext,
    AppendResult,
    EventStore,
    StreamAppend,
)

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendContext",
    "AppendResult",
    "EventStore",
    "StreamAppend",
]
