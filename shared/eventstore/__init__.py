from shared.eventstore.store import (
    ANY_VERSION,
    NO_STREAM,
    AppendContext,
    AppendResult,
    BatchItem,
    EventStore,
    StreamAppend,
)

__all__ = [
    "ANY_VERSION",
    "NO_STREAM",
    "AppendContext",
    "AppendResult",
    "BatchItem",
    "EventStore",
    "StreamAppend",
]
