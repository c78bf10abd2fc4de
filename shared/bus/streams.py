"""Stream names: one stream set per service, partitioned by ward so each ward's order is kept."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, TimeoutError)


def partition_of(ward: str, partitions: int) -> int:
    # crc32, not hash(): the partition must be the same in every process.
    return zlib.crc32(ward.encode()) % partitions


@lru_cache(maxsize=4096)
def _events_for_ward(prefix: str, partitions: int, service: str, ward: str) -> str:
    # The relay asks once per event; wards are few.
    return f"{prefix}:{service}:events:{partition_of(ward, partitions)}"


@dataclass(frozen=True)
class StreamNames:
    prefix: str
    partitions: int

    def events(self, service: str, partition: int) -> str:
        return f"{self.prefix}:{service}:events:{partition}"

    def events_for_ward(self, service: str, ward: str) -> str:
        return _events_for_ward(self.prefix, self.partitions, service, ward)

    def all_events(self, service: str) -> list[str]:
        return [self.events(service, p) for p in range(self.partitions)]

    def relay_marker(self, service: str) -> str:
        return f"{self.prefix}:{service}:relay:position"

    def relay_lease(self, service: str) -> str:
        return f"{self.prefix}:{service}:relay:lease"

    def dead_letters(self, group: str) -> str:
        return f"{self.prefix}:{group}:deadletters"

    def last_errors(self, group: str) -> str:
        return f"{self.prefix}:{group}:errors"

    def service_of(self, stream: str) -> str:
        return stream.split(":")[-3]
