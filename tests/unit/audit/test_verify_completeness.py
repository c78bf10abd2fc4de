"""An export that lost what its manifest states is refused, however valid the rest is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.audit.export import INDEX_FILE, MANIFEST_FILE
from shared.audit.note import Signer
from shared.audit.problems import ProblemKind
from shared.audit.verify import verify_export

from .export_files import (
    assert_problem,
    entry_lines,
    event_id,
    export_of_batches,
    write_entry_lines,
)

EVENTS, BATCH = 30, 10


@pytest.fixture
def exported(tmp_path: Path, signer: Signer) -> Path:
    return export_of_batches(tmp_path / "export", signer, EVENTS, BATCH)


def checkpoint_files(directory: Path) -> list[Path]:
    return sorted((directory / "checkpoints").glob("*.note"))


def test_the_latest_checkpoint_removed_with_its_entries_is_named(exported: Path) -> None:
    checkpoint_files(exported)[-1].unlink()
    write_entry_lines(exported, entry_lines(exported)[:20])
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.TRUNCATED_EXPORT, 20)
    assert "log.json states 30 entries and 3 checkpoints" in message
    assert "it holds 20 entries and 2 checkpoints" in message
    assert "checkpoints/000002.note, signs tree size 20" in message
    assert f"entry 20 ({event_id(20)}) and later were removed" in message
    assert report.entries_verified == 20


def test_everything_removed_is_named(exported: Path) -> None:
    for path in checkpoint_files(exported):
        path.unlink()
    write_entry_lines(exported, [])
    (exported / INDEX_FILE).write_bytes(b"")
    message = assert_problem(verify_export(exported), ProblemKind.TRUNCATED_EXPORT, 0)
    assert "it holds 0 entries and 0 checkpoints (none is left)" in message
    assert "entry 0 and later were removed" in message


def test_the_latest_checkpoint_removed_alone_is_named(exported: Path) -> None:
    checkpoint_files(exported)[-1].unlink()
    message = assert_problem(verify_export(exported), ProblemKind.TRUNCATED_EXPORT, None)
    assert "holds 30 entries and 2 checkpoints" in message
    assert "checkpoint files were removed" in message


def test_a_checkpoint_removed_from_the_middle_is_named(exported: Path) -> None:
    checkpoint_files(exported)[1].unlink()
    assert_problem(verify_export(exported), ProblemKind.TRUNCATED_EXPORT, None)


def test_a_manifest_naming_another_ward_is_refused(exported: Path) -> None:
    manifest = json.loads((exported / MANIFEST_FILE).read_text())
    manifest["ward"] = "ota"
    (exported / MANIFEST_FILE).write_text(json.dumps(manifest))
    message = assert_problem(verify_export(exported), ProblemKind.MALFORMED_EXPORT, None)
    assert "names ward 'ota'" in message


def test_an_untouched_export_is_complete(exported: Path) -> None:
    report = verify_export(exported)
    assert report.ok, report.problem
    assert (report.entries_verified, report.checkpoints_verified) == (EVENTS, EVENTS // BATCH)
