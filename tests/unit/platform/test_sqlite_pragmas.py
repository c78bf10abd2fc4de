"""The switch to WAL is tried again while another connection holds the file's lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from shared.db import _run_pragma


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
