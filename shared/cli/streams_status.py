"""`kyodo status` and `kyodo deadletters`: what Redis holds, per stream and group."""

from __future__ import annotations

from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from shared.bus.deadletters import list_dead_letters, redrive
from shared.bus.streams import StreamNames
from shared.settings import Settings


async def stream_rows(redis: Redis, names: StreamNames) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    streams = sorted(
        [k.decode() async for k in redis.scan_iter(match=f"{names.prefix}:*:events:*")]
    )
    for stream in streams:
        length = await redis.xlen(stream)
        groups = await redis.xinfo_groups(stream)
        for group in groups or [{"name": b"-", "lag": None, "pending": 0}]:
            group_name = _text(group["name"])
            rows.append(
                {
                    "stream": stream,
                    "length": length,
                    "group": group_name,
                    "lag": group.get("lag"),
                    "pending": group.get("pending", 0),
                    "dead_letters": await redis.xlen(names.dead_letters(group_name))
                    if group_name != "-"
                    else 0,
                }
            )
    return rows


async def print_status(settings: Settings, console: Console) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        rows = await stream_rows(redis, StreamNames(settings.stream_prefix, settings.partitions))
    finally:
        await redis.aclose()
    table = Table(title=f"Streams on {settings.redis_url}")
    for column in ("stream", "length", "group", "lag", "pending", "dead_letters"):
        table.add_column(column, justify="left" if column in {"stream", "group"} else "right")
    for row in rows:
        table.add_row(
            *(str(row[c]) for c in ("stream", "length", "group", "lag", "pending", "dead_letters"))
        )
    console.print(table)


async def print_dead_letters(settings: Settings, console: Console, group: str) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        letters = await list_dead_letters(
            redis, StreamNames(settings.stream_prefix, settings.partitions), group
        )
    finally:
        await redis.aclose()
    table = Table(title=f"Dead letters of {group}")
    for column in ("id", "source stream", "source id", "position", "error"):
        table.add_column(column)
    for letter in letters:
        table.add_row(
            letter.entry_id,
            letter.source_stream,
            letter.source_id,
            str(letter.position),
            letter.error,
        )
    console.print(table)


async def redrive_dead_letters(settings: Settings, group: str, entry_ids: list[str] | None) -> int:
    redis = Redis.from_url(settings.redis_url)
    try:
        return await redrive(
            redis,
            StreamNames(settings.stream_prefix, settings.partitions),
            group,
            entry_ids=entry_ids,
        )
    finally:
        await redis.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def request_resend(settings: Settings, service: str, from_position: int) -> None:
    """Lower the relay's Redis marker: the relay sees Redis behind its cursor and rewinds."""
    redis = Redis.from_url(settings.redis_url)
    try:
        names = StreamNames(settings.stream_prefix, settings.partitions)
        await redis.set(names.relay_marker(service), from_position)
    finally:
        await redis.aclose()
