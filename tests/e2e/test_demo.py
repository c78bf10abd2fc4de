"""`kyodo demo` over real processes: the whole two-ward story, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit import parallel
from shared.audit.keys import load_audit_keys
from shared.audit.sources import audit_engine, audit_schema, log_from_database
from shared.cli.discovery import available_services, discovered_specs
from shared.settings import Settings
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


def check_replay_in_processes(settings: Settings, target: Path) -> None:
    """The demo's log holds events of every service: replayed in one process and in several,
    each service's read models, positions and event count come out the same."""
    engine = audit_engine(settings)
    keys = load_audit_keys(settings, create=False).verifiers
    prefix, schema = settings.audit_origin_prefix, audit_schema(settings)
    log = log_from_database(engine, "nerima", keys, prefix, schema=schema)
    services = {json.loads(leaf)["event_type"].split(".")[0] for leaf in log.leaves()}
    assert services == {"registry", "proposals", "fund", "evaluation"}
    specs = discovered_specs()
    outcomes = []
    for processes in (1, 2):
        result = asyncio.run(
            parallel.replay(
                log,
                specs,
                target / f"in-{processes}",
                load_specs=discovered_specs,
                processes=processes,
            )
        )
        replayed = [(s.name, s.events, s.digests, s.positions) for s in result.services]
        outcomes.append((result.applied, replayed))
    engine.dispose()
    assert outcomes[0] == outcomes[1]
    applied, replayed = outcomes[0]
    assert applied == log.checkpoint.tree_size
    assert all(events > 0 for _name, events, _digests, _positions in replayed)


def test_demo_tells_the_whole_story_on_sqlite(tmp_path: Path) -> None:
    check_story(run_demo(tmp_path / "data", {}))
    check_replay_in_processes(Settings(data_dir=tmp_path / "data"), tmp_path / "replays")


@pytest.mark.postgres
def test_demo_tells_the_whole_story_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    check_story(run_demo(tmp_path / "data", {"KYODO_DATABASE_URL": postgres_database}))
    settings = Settings(data_dir=tmp_path / "data", database_url=postgres_database)
    check_replay_in_processes(settings, tmp_path / "replays")
