"""The audit benchmarks' inputs are built the way the log accepts them (no timing here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import audit_bench, audit_replay_bench
from shared.audit.export import export_log
from shared.audit.note import Signer
from shared.audit.verify import verify_export


def test_the_large_log_of_the_verification_bench_is_signed_and_verifies(
    tmp_path: Path, signer: Signer
) -> None:
    store = audit_bench.build_large_log(signer, 2_500)
    assert [c.tree_size for c in store.checkpoints()] == [0, 1_000, 2_000, 2_500]
    export_log(store, tmp_path / "export", origin=audit_bench.ORIGIN, verifiers=[signer.verifier()])
    report = verify_export(tmp_path / "export", trusted_keys=[signer.verifier()], workers=1)
    assert report.ok, report.problem
    assert report.entries_verified == 2_500


def test_the_append_bench_signs_every_batch(
    tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_bench, "APPEND_EVENTS", 3_000)
    figures = audit_bench.Figures()
    engine = audit_bench.bench_signed_appends(tmp_path, signer, figures)
    with engine.connect() as connection:
        checkpoints = connection.exec_driver_sql("SELECT count(*) FROM audit_checkpoints")
        assert checkpoints.scalar_one() == 3
    assert figures.rows[0][1].endswith("events/s")


def test_the_replay_bench_log_is_written_with_a_checkpoint_per_batch(
    tmp_path: Path, signer: Signer
) -> None:
    path = tmp_path / "audit.sqlite3"
    audit_replay_bench.write_audit_log(path, signer, audit_replay_bench.mixed_events(2_100))
    engine = audit_bench.sqlite_engine(path)
    with engine.connect() as connection:
        sizes = connection.exec_driver_sql("SELECT tree_size FROM audit_checkpoints ORDER BY 1")
        assert [size for (size,) in sizes] == [1_000, 2_000, 2_100]
