"""Trim stream entries that every consumer group has acknowledged (and nothing else)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError


def _id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


async def safe_trim_point(redis: Redis, stream: str) -> str | None:
    """The lowest id some group may still need: its oldest pending entry, or just past its last
    delivered one. None when the stream has no group (nothing is known to be acknowledged)."""
    try:
        groups: list[dict[str, Any]] = await redis.xinfo_groups(stream)
    except ResponseError:
        return None
    if not groups:
        return None
    needed: list[tuple[int, int]] = []
    for group in groups:
        pending = await redis.xpending(stream, group["name"])
        if pending["pending"]:
            needed.append(_id(pending["min"]))
        else:
            milliseconds, sequence = _id(group["last-delivered-id"])
            needed.append((milliseconds, sequence + 1))
    milliseconds, sequence = min(needed)
    return f"{milliseconds}-{sequence}"


async def trim_acknowledged(redis: Redis, stream: str) -> int:
    """XTRIM MINID at the safe point; returns how many entries were removed."""
    point = await safe_trim_point(redis, stream)
    if point is None:
        return 0
    return int(await redis.xtrim(stream, minid=point, approximate=False))
