"""`kyodo demo` over real processes: the whole two-ward story, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.cli.discovery import available_services
from shared.testing.http import free_port
from shared.testing.services import postgres_url, services_required, unique_name

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of its own: the services create their schemas (registry, fund …) inside it."""
    admin = sa.create_engine(
        postgres_url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    name = unique_name("kyodo_demo")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        if services_required():
            pytest.fail(f"PostgreSQL is required here: {error}")
        pytest.skip(f"PostgreSQL is not reachable: {error}")
    yield sa.make_url(postgres_url()).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_demo(tmp_path: Path, extra: dict[str, str]) -> str:
    ports = {name: free_port() for name in available_services()}
    environment = {**os.environ, "KYODO_PORTS": json.dumps(ports), "COLUMNS": "200", **extra}
    command = [sys.executable, "-m", "shared.cli.main", "demo", "--data-dir", str(tmp_path)]
    result = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=420, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def check_story(output: str) -> None:
    assert "練馬区 / Nerima City" in output and "大田区 / Ota City" in output
    assert "reviewer(s) recused" in output
    assert output.count("一致 / exact") == 2, "the fund reconciles exactly in both wards"
    assert "field:" in output and "actor:" in output, "grants show their lineage by designation"
    assert "domain B" in output and "2008: 25.40%" in output
    for step in ("export", "verify", "replay --compare"):
        assert output.count(f"✓ kyodo audit {step}") == 2
    assert "every check passed" in output


def test_demo_tells_the_whole_story_on_sqlite(tmp_path: Path) -> None:
    check_story(run_demo(tmp_path, {}))


@pytest.mark.postgres
def test_demo_tells_the_whole_story_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    check_story(run_demo(tmp_path, {"KYODO_DATABASE_URL": postgres_database}))
