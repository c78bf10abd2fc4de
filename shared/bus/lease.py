"""A Redis lease so that, of several instances of a service, one relay publishes at a time."""

from __future__ import annotations

import time
import uuid

from redis.asyncio import Redis

# Extend only a lease we still hold; take it when free.
_EXTEND_OR_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, key: str, *, ttl_ms: int = 5000) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = ttl_ms
        self.holder = uuid.uuid4().hex
        self._valid_until = 0.0

    async def hold(self) -> bool:
        """True while this instance holds the lease; renewed once a third of its life has passed."""
        now = time.monotonic()
        if now < self._valid_until - (2 * self.ttl_ms / 3000):
            return True
        held = await self.redis.eval(_EXTEND_OR_TAKE, 1, self.key, self.holder, self.ttl_ms)
        self._valid_until = now + self.ttl_ms / 1000 if held else 0.0
        return bool(held)

    async def release(self) -> None:
        if await self.redis.get(self.key) == self.holder.encode():
            await self.redis.delete(self.key)
        self._valid_until = 0.0
