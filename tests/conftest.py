from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import sqlalchemy as sa
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.bus.streams import StreamNames
from shared.db import create_engine
from shared.testing.services import postgres_url, redis_url, services_required, unique_name


def _unavailable(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({error}); set KYODO_REQUIRE_SERVICES=1 to make this fail"
    if services_required():
        pytest.fail(f"{what} is required here but not reachable: {error}")
    pytest.skip(message)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url())
    try:
        await client.ping()
    except Exception as error:
        await client.aclose()
        _unavailable("Redis", error)
    yield client
    await client.aclose()


@pytest.fixture
async def stream_names(redis: Redis) -> AsyncIterator[StreamNames]:
    prefix = unique_name("kyodotest")
    yield StreamNames(prefix=prefix, partitions=4)
    keys = [key async for key in redis.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await redis.delete(*keys)


async def sqlite_engine(tmp_path_factory: pytest.TempPathFactory, name: str) -> AsyncEngine:
    path = tmp_path_factory.mktemp("db") / f"{name}.sqlite3"
    return create_engine(f"sqlite+aiosqlite:///{path}")


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """A fresh schema on the shared PostgreSQL server, dropped afterwards."""
    url = postgres_url()
    schema = unique_name("kyodotest")
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except Exception as error:
        admin.dispose()
        _unavailable("PostgreSQL", error)
    yield url, schema
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    """The same contract runs against every store backend."""
    if request.param == "sqlite":
        created = await sqlite_engine(tmp_path_factory, "store")
    else:
        url, schema = request.getfixturevalue("postgres_schema")
        created = create_engine(url, schema=schema)
    yield created
    await created.dispose()
