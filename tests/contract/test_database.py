"""The database layer's pool on PostgreSQL: a connection that died while idle is replaced."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shared import db
from shared.db import Database

pytestmark = pytest.mark.postgres


def backend_pid(connection: sa.Connection) -> int:
    return int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


async def test_an_idle_connection_killed_by_the_server_is_replaced(
    postgres_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    try:
        first = await database.read(backend_pid)
        admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
        with admin.begin() as connection:
            connection.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        second = await database.read(backend_pid)
        assert second != first
    finally:
        database.dispose()


async def test_only_a_connection_idle_for_a_while_is_pinged(
    postgres_schema: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, schema = postgres_schema
    database = Database(url, schema=schema)
    dialect = database.read_engine.dialect
    pings: list[object] = []
    ping = dialect.do_ping

    def counting_ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return bool(ping(dbapi_connection))

    monkeypatch.setattr(dialect, "do_ping", counting_ping)
    select_two = sa.text("SELECT 2")
    try:
        for _ in range(3):
            await database.read(lambda c: c.execute(select_two).scalar_one())
        assert pings == []
        monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
        await database.read(lambda c: c.execute(select_two).scalar_one())
        assert len(pings) == 1
    finally:
        database.dispose()
