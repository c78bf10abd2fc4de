from shared.bus.consumer import ConsumerConfig, GroupConsumer, StreamMessage
from shared.bus.relay import OutboxRelay
from shared.bus.streams import StreamNames, partition_of

__all__ = [
    "ConsumerConfig",
    "GroupConsumer",
    "OutboxRelay",
    "StreamMessage",
    "StreamNames",
    "partition_of",
]
