"""Databases: a SQLite file per service (embedded default) or a PostgreSQL schema each.

SQL runs synchronously in worker threads, one hop per unit of work: an append or a projection
batch crosses the thread boundary once, instead of once per cursor call as async drivers do.
SQLite gets a single writer thread (it has a single writer anyway); PostgreSQL several.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url

T = TypeVar("T")
PING_AFTER_IDLE_SECONDS = 5.0
SCHEMA_LOCK_KEY = 0x6B796F646F5F  # serialises CREATE SCHEMA/TABLE across processes

SQLITE_PRAGMAS = (
    # First: switching to WAL takes a lock that other processes opening the file may hold.
    "PRAGMA busy_timeout=30000",
    "PRAGMA journal_mode=WAL",
    # FULL: an update acknowledged to Redis must survive a power cut (NORMAL can lose it).
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
)
REBUILT_SYNCHRONOUS = "PRAGMA synchronous=OFF"
"""For a database rebuilt from a log (a replay's): nothing in it is acknowledged to anyone, and
one cut short is rebuilt again, so its commits need not wait for the disk."""
WAL_SWITCH_ATTEMPTS = 100
WAL_SWITCH_PAUSE_SECONDS = 0.02


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sync_url(url: str) -> str:
    """The synchronous driver for a URL (aiosqlite → pysqlite, psycopg stays psycopg)."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    elif parsed.drivername in {"postgresql", "postgresql+asyncpg"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_sync_engine(
    url: str, *, schema: str | None = None, writer: bool = True, durable: bool = True
) -> sa.Engine:
    """``durable=False`` (SQLite only) commits without waiting for the disk: for a database
    that is rebuilt, never for acknowledged state."""
    url = sync_url(url)
    if is_sqlite(url):
        return _sqlite_engine(url, writer=writer, durable=durable)
    connect_args = {"options": f"-c search_path={schema}"} if schema else {}
    engine = sa.create_engine(url, connect_args=connect_args, pool_size=10, max_overflow=20)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled connection before use only when it has been idle a while.

    A connection that sat in the pool may have died with a server restart or an idle timeout;
    one in use a moment ago is alive, and pinging it on every checkout (``pool_pre_ping``) would
    add a round trip to every transaction. A failed ping discards the connection and the pool
    hands out another. A connection that breaks while busy fails its statement, and SQLAlchemy
    then discards every connection of the pool that is as old.
    """

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise sa.exc.DisconnectionError(f"pooled connection is gone: {error}") from error


def _run_pragma(cursor: sqlite3.Cursor, pragma: str) -> None:
    """Run a connection's pragma; the switch to WAL is tried again while the file is locked.

    Several processes opening a fresh file at once (an API and a workers process) race to switch
    it to WAL: the switch needs an exclusive lock, and SQLite refuses it at once, without the
    busy timeout, to a connection that holds a shared lock while another waits to write (so
    that the two do not deadlock).
    """
    for attempt in range(1, WAL_SWITCH_ATTEMPTS + 1):
        try:
            cursor.execute(pragma)
            return
        except sqlite3.OperationalError as error:
            retry = "journal_mode" in pragma and "locked" in str(error)
            if not retry or attempt == WAL_SWITCH_ATTEMPTS:
                raise
            time.sleep(WAL_SWITCH_PAUSE_SECONDS)


def _sqlite_pragmas(durable: bool) -> tuple[str, ...]:
    if durable:
        return SQLITE_PRAGMAS
    return tuple(REBUILT_SYNCHRONOUS if "synchronous" in p else p for p in SQLITE_PRAGMAS)


def _sqlite_engine(url: str, *, writer: bool, durable: bool) -> sa.Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, pool_size=8)
    pragmas = _sqlite_pragmas(durable)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, open transactions, so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            _run_pragma(cursor, pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # Writers take the write lock up front, so positions commit in the order assigned;
        # readers take a deferred snapshot and never wait for writers (WAL).
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


class Database:
    """A service's database: a sync engine plus the threads that run its units of work."""

    def __init__(self, url: str, *, schema: str | None = None, durable: bool = True) -> None:
        self.url = url
        self.schema = schema
        self.engine = create_sync_engine(url, schema=schema, durable=durable)
        self.read_engine = (
            create_sync_engine(url, writer=False, durable=durable)
            if is_sqlite(sync_url(url))
            else self.engine
        )
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._writer = ThreadPoolExecutor(1 if self.is_sqlite else 8, thread_name_prefix="db-write")
        self._reader = ThreadPoolExecutor(4, thread_name_prefix="db-read")

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run ``work`` in one transaction, committed when it returns."""
        return await self._submit(self._writer, self._in_transaction, work)

    async def read(self, work: Callable[[sa.Connection], T], *, short: bool = False) -> T:
        """Run ``work`` on a read connection; ``short`` work on SQLite runs on the calling thread.

        A SQLite reader (WAL) never waits for a writer, so a read of a few rows costs less than
        the two thread wake-ups of a hop, which under load are the larger part of its latency.
        """
        if short and self.is_sqlite:
            return self._in_connection(work)
        return await self._submit(self._reader, self._in_connection, work)

    def _in_transaction(self, work: Callable[[sa.Connection], T]) -> T:
        with self.engine.begin() as connection:
            return work(connection)

    def _in_connection(self, work: Callable[[sa.Connection], T]) -> T:
        with self.read_engine.connect() as connection:
            return work(connection)

    async def _submit(self, pool: ThreadPoolExecutor, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(pool, functools.partial(function, *args))

    async def create_all(self, metadata: sa.MetaData) -> None:
        await self._submit(self._writer, self._create_all, metadata)

    def _create_all(self, metadata: sa.MetaData) -> None:
        """Create what is missing, one process at a time: an API and a workers process of one
        service start together, and two unserialised CREATE TABLEs of one table collide."""
        with self.engine.begin() as connection:  # BEGIN IMMEDIATE on SQLite
            if self.is_postgres:
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(SCHEMA_LOCK_KEY)))
                if self.schema:
                    connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            metadata.create_all(connection)

    def dispose(self) -> None:
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        self.engine.dispose()
        self.read_engine.dispose()
