"""Samples the lag, pending and dead-letter gauges of one service every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from shared.bus.consumer import GroupConsumer
from shared.bus.relay import OutboxRelay
from shared.bus.streams import TRANSIENT_ERRORS, StreamNames
from shared.telemetry.metrics import record_sample

log = logging.getLogger("kyodo.metrics")


async def sample_once(
    redis: Redis, names: StreamNames, relay: OutboxRelay | None, consumer: GroupConsumer | None
) -> None:
    if relay is not None:
        record_sample("relay.lag", await relay.lag(), service=relay.service)
    if consumer is None:
        return
    group = consumer.config.group
    lag = pending = 0
    for stream in consumer.config.streams:
        info = await _group_info(redis, stream, group)
        lag += int(info.get("lag") or 0)
        pending += int(info.get("pending") or 0)
    record_sample("consumer.lag", lag, group=group)
    record_sample("consumer.pending", pending, group=group)
    record_sample("consumer.dead_letters", await redis.xlen(names.dead_letters(group)), group=group)


async def _group_info(redis: Redis, stream: str, group: str) -> dict[str, Any]:
    try:
        groups = await redis.xinfo_groups(stream)
    except ResponseError:  # a stream not created yet has no groups
        return {}
    for info in groups:
        name = info["name"]
        if (name.decode() if isinstance(name, bytes) else name) == group:
            return dict(info)
    return {}


async def sample_forever(
    redis: Redis,
    names: StreamNames,
    relay: OutboxRelay | None,
    consumer: GroupConsumer | None,
    stop: asyncio.Event,
    interval: float = 5.0,
) -> None:
    while not stop.is_set():
        try:
            await sample_once(redis, names, relay, consumer)
        except TRANSIENT_ERRORS as error:
            log.warning("metrics sampling failed: %s", error)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
