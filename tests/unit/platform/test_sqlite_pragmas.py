"""SQLite connection settings: the switch to WAL waits for a lock held elsewhere; only a
rebuilt database commits without waiting for the disk."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from shared.db import Database, _run_pragma


def test_the_switch_to_wal_waits_for_a_lock_held_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    release = threading.Timer(0.2, holder.execute, args=("COMMIT",))
    release.start()
    opener = sqlite3.connect(path, isolation_level=None, timeout=0)  # no busy timeout
    try:
        cursor = opener.cursor()
        _run_pragma(cursor, "PRAGMA journal_mode=WAL")
        assert cursor.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        release.join()
        opener.close()
        holder.close()


def test_other_pragmas_fail_at_once(tmp_path: Path) -> None:
    connection = sqlite3.connect(tmp_path / "x.sqlite3")
    with pytest.raises(sqlite3.OperationalError):
        _run_pragma(connection.cursor(), "PRAGMA no_such_pragma = (")
    connection.close()


@pytest.mark.parametrize(("durable", "level"), [(True, 2), (False, 0)])
def test_only_a_rebuilt_database_commits_without_waiting_for_the_disk(
    tmp_path: Path, durable: bool, level: int
) -> None:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite3'}", durable=durable)
    try:
        for engine in (database.engine, database.read_engine):
            with engine.connect() as connection:
                pragma = connection.exec_driver_sql("PRAGMA synchronous")
                assert pragma.scalar_one() == level  # 2: FULL, 0: OFF
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"
    finally:
        database.dispose()
