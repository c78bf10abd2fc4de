"""Dead letters: list them, and send them back to their stream once the cause is fixed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from shared.bus.streams import StreamNames

DEAD_LETTER_FIELDS = (b"source_stream", b"source_id", b"error")


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str
    source_stream: str
    source_id: str
    error: str
    position: int | None


async def list_dead_letters(redis: Redis, names: StreamNames, group: str) -> list[DeadLetter]:
    entries: list[Any] = await redis.xrange(names.dead_letters(group))  # type: ignore[assignment]
    return [
        DeadLetter(
            entry_id=entry_id.decode(),
            source_stream=fields[b"source_stream"].decode(),
            source_id=fields[b"source_id"].decode(),
            error=fields[b"error"].decode(errors="replace"),
            position=int(fields[b"p"]) if b"p" in fields else None,
        )
        for entry_id, fields in entries
    ]


async def redrive(
    redis: Redis, names: StreamNames, group: str, *, entry_ids: list[str] | None = None
) -> int:
    """Re-append dead letters to their source stream; the group's inbox keeps it exactly-once."""
    key = names.dead_letters(group)
    entries: list[Any] = await redis.xrange(key)  # type: ignore[assignment]
    moved = 0
    for entry_id, fields in entries:
        if entry_ids is not None and entry_id.decode() not in entry_ids:
            continue
        original = {k: v for k, v in fields.items() if k not in DEAD_LETTER_FIELDS}
        pipe = redis.pipeline(transaction=True)
        pipe.xadd(fields[b"source_stream"].decode(), original)
        pipe.xdel(key, entry_id)
        await pipe.execute()
        moved += 1
    return moved
