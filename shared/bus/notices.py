"""Append notices on PostgreSQL: a relay in another process learns of new events at once,
without polling its events table.

Every append transaction sends ``NOTIFY`` on its schema's channel (in the statement that takes
the append lock, so it costs no round trip; PostgreSQL delivers it at commit and drops it on
rollback). :class:`AppendListener` holds one connection that LISTENs on that channel and wakes
the relay. While it listens, the relay looks at the table only now and then in case a notice was
lost; before, an idle relay read its table every few milliseconds, a fifth of a core in each
service's workers and about as much in PostgreSQL. On SQLite there are no notices and the relay
keeps its short poll.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
from sqlalchemy.engine import make_url

from shared.bus.pacing import pause_until
from shared.eventstore.store import APPENDED_CHANNEL

log = logging.getLogger("kyodo.notices")
RECONNECT_PAUSE = 1.0


def listen_statement(schema: str) -> str:
    """LISTEN on a schema's append notices (the channel quoted as an identifier)."""
    channel = (APPENDED_CHANNEL + schema).replace('"', '""')
    return f'LISTEN "{channel}"'


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``) as libpq reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AppendListener:
    """Sets ``wakeup`` whenever an append to ``schema`` commits, from any process."""

    def __init__(self, url: str, schema: str | None, wakeup: asyncio.Event) -> None:
        self.url = libpq_url(url)
        self.options = f"-c search_path={schema}" if schema else ""
        self.wakeup = wakeup
        self.listening = False
        self.backend_pid: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._listen(stop)
            except (psycopg.Error, OSError) as error:
                log.warning("append notices lost (%s); the relay polls until they are back", error)
            finally:
                self.listening = False
                self.backend_pid = None
            # Whatever committed while nobody listened is read now.
            self.wakeup.set()
            await pause_until(time.monotonic() + RECONNECT_PAUSE, stop)

    async def _listen(self, stop: asyncio.Event) -> None:
        connection = await psycopg.AsyncConnection.connect(
            self.url, options=self.options, autocommit=True
        )
        async with connection:
            cursor = await connection.execute("SELECT coalesce(current_schema(), '')")
            row = await cursor.fetchone()
            await connection.execute(listen_statement(str(row[0]) if row else ""))
            self.listening, self.backend_pid = True, connection.info.backend_pid
            self.wakeup.set()  # appends made before LISTEN: read them now
            while not stop.is_set():
                async for _notice in connection.notifies(timeout=1.0):
                    self.wakeup.set()
