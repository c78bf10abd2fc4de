"""Append notices on PostgreSQL: a relay in another process learns of new events at once,
without polling its events table.

Every append transaction sends ``NOTIFY`` on its schema's channel (in the statement that takes
the append lock, so it costs no round trip; PostgreSQL delivers it at commit and drops it on
rollback). :class:`AppendListener` holds one connection that LISTENs on that channel and wakes
the relay. While it listens, the relay looks at the table only now and then in case a notice was
lost; before, an idle relay read its table every few milliseconds, a fifth of a core in each
service's workers and about as much in PostgreSQL. On SQLite there are no notices and the relay
keeps its short poll.

The listener counts as listening only while notices provably arrive: it sends itself an echo
on the channel when it starts and every few seconds, and reconnects when one does not come back
(a connection cut without a word, say), so the relay never rests on notices that have stopped.
PostgreSQL serialises the commits of transactions that notify (one lock, held through the
commit's WAL flush), across every schema of the database.
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
ECHO_EVERY = 5.0
ECHO_WAIT = 5.0
ECHO = "echo"
_CHANNEL_QUERY = f"SELECT {APPENDED_CHANNEL}"
Connection = psycopg.AsyncConnection[tuple[object, ...]]


class NoticesLost(Exception):
    """The echo did not come back: notices no longer arrive on this connection."""


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL (``postgresql+psycopg://…``) as libpq reads it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def listen_statement(channel: str) -> str:
    """LISTEN on a channel (quoted as an identifier)."""
    return 'LISTEN "{}"'.format(channel.replace('"', '""'))


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
            except (psycopg.Error, OSError, NoticesLost) as error:
                log.warning("append notices lost (%s); the relay polls until they are back", error)
            finally:
                self.listening = False
                self.backend_pid = None
            # Whatever committed while nobody listened is read now.
            self.wakeup.set()
            await pause_until(time.monotonic() + RECONNECT_PAUSE, stop)

    async def _listen(self, stop: asyncio.Event) -> None:
        # Keepalives: a dead peer is noticed within about a minute, not the kernel's two hours.
        connection = await psycopg.AsyncConnection.connect(
            self.url,
            options=self.options,
            autocommit=True,
            connect_timeout=10,
            keepalives=1,
            keepalives_idle=30,
            keepalives_interval=10,
            keepalives_count=3,
        )
        async with connection:
            cursor = await connection.execute(_CHANNEL_QUERY)
            row = await cursor.fetchone()
            channel = str(row[0]) if row else ""
            await connection.execute(listen_statement(channel))
            await self._echo(connection, channel)
            self.listening, self.backend_pid = True, connection.info.backend_pid
            self.wakeup.set()  # appends made before LISTEN: read them now
            while not stop.is_set():
                echo_at = time.monotonic() + ECHO_EVERY
                async for notice in connection.notifies(timeout=1.0):
                    self._heard(notice.payload)
                    if time.monotonic() >= echo_at:
                        break
                if time.monotonic() >= echo_at:
                    await self._echo(connection, channel)

    async def _echo(self, connection: Connection, channel: str) -> None:
        await connection.execute("SELECT pg_notify(%s, %s)", (channel, ECHO))
        async for notice in connection.notifies(timeout=ECHO_WAIT):
            if notice.payload == ECHO:
                return
            self._heard(notice.payload)
        raise NoticesLost(f"no echo on channel {channel} within {ECHO_WAIT} s")

    def _heard(self, payload: str) -> None:
        if payload != ECHO:
            self.wakeup.set()
