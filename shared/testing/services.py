"""Test helpers for the real Redis and PostgreSQL the suite shares with other runs.

Each test gets its own Redis key prefix and its own PostgreSQL schema, removed afterwards. When
``KYODO_REQUIRE_SERVICES`` is set (CI), a missing server is an error instead of a skip.
"""

from __future__ import annotations

import os
import uuid

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def services_required() -> bool:
    return os.environ.get("KYODO_REQUIRE_SERVICES", "").lower() in {"1", "true", "yes"}


def redis_url() -> str:
    return os.environ.get("KYODO_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def postgres_url() -> str:
    return os.environ.get("KYODO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
