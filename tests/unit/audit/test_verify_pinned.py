"""A checkpoint an auditor got from the live log, pinned: the export must reach and reproduce it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shared.audit.checkpoint import Checkpoint, sign_checkpoint
from shared.audit.export import MANIFEST_FILE
from shared.audit.merkle import leaf_hash, root_of
from shared.audit.note import Signer
from shared.audit.problems import ProblemKind
from shared.audit.verify import verify_export
from shared.cli.audit import audit_app

from .conftest import ORIGIN
from .export_files import assert_problem, entry_lines, event_id, export_of_batches

EVENTS, BATCH = 30, 10


@pytest.fixture
def exported(tmp_path: Path, signer: Signer) -> Path:
    return export_of_batches(tmp_path / "export", signer, EVENTS, BATCH)


def pin(directory: Path, signer: Signer, size: int, leaves: list[bytes] | None = None) -> Path:
    """A signed checkpoint of the first ``size`` leaves (the export's unless given)."""
    hashes = [leaf_hash(leaf) for leaf in (leaves or entry_lines(directory))[:size]]
    path = directory.parent / f"pinned-{size}.note"
    path.write_text(sign_checkpoint(Checkpoint(ORIGIN, size, root_of(hashes)), [signer]))
    return path


def served(note: Path) -> Path:
    """The checkpoint as GET /v1/wards/{ward}/audit/checkpoint returns it."""
    checkpoint = Checkpoint.from_body(note.read_text().split("\n\n")[0] + "\n")
    body = {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.tree_size,
        "root": base64.b64encode(checkpoint.root).decode(),
        "note": note.read_text(),
    }
    path = note.with_suffix(".json")
    path.write_text(json.dumps(body))
    return path


def shorten(directory: Path, checkpoints: int) -> None:
    """Cut the export to its first checkpoints and their entries, manifest included, the way
    a careful forger would."""
    for path in sorted((directory / "checkpoints").glob("*.note"))[checkpoints:]:
        path.unlink()
    size = checkpoints * BATCH
    lines = entry_lines(directory)[:size]
    (directory / "entries.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    manifest.update(entries=size, checkpoints=checkpoints)
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


def test_a_pinned_checkpoint_the_export_reproduces_verifies(exported: Path, signer: Signer) -> None:
    for pinned in (pin(exported, signer, 30), served(pin(exported, signer, 25))):
        report = verify_export(exported, pinned=[pinned])
        assert report.ok, report.problem
        assert report.checkpoints_verified == EVENTS // BATCH + 1


def test_an_export_cut_short_of_a_pinned_checkpoint_is_refused(
    exported: Path, signer: Signer
) -> None:
    pinned = pin(exported, signer, 30)
    shorten(exported, 2)
    assert verify_export(exported).ok
    report = verify_export(exported, pinned=[pinned])
    message = assert_problem(report, ProblemKind.REMOVED_ENTRY, 20)
    assert f"{pinned} covers 30" in message
    assert f"entry 20 ({event_id(20)}) and later were removed" in message


def test_a_pinned_checkpoint_of_another_history_conflicts(exported: Path, signer: Signer) -> None:
    other = [*entry_lines(exported)[:24], b"another entry"]
    pinned = pin(exported, signer, 25, other)
    message = assert_problem(
        verify_export(exported, pinned=[pinned]), ProblemKind.CONFLICTING_CHECKPOINTS, None
    )
    assert f"{pinned} (tree size 25) and checkpoints/000003.note (tree size 30)" in message
    same_size = pin(exported, signer, 30, [*entry_lines(exported)[:29], b"another entry"])
    message = assert_problem(
        verify_export(exported, pinned=[same_size]), ProblemKind.CONFLICTING_CHECKPOINTS, None
    )
    assert f"checkpoints/000003.note and {same_size} both sign tree size 30" in message


def test_a_pinned_checkpoint_must_be_signed_by_a_trusted_key(exported: Path) -> None:
    stranger = Signer.generate(ORIGIN)
    pinned = pin(exported, stranger, 30)
    message = assert_problem(
        verify_export(exported, pinned=[pinned]), ProblemKind.UNKNOWN_KEY, None
    )
    assert str(pinned) in message


def test_an_unreadable_pinned_checkpoint_is_reported(exported: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"tree_size": 30}')
    report = verify_export(exported, pinned=[broken])
    assert_problem(report, ProblemKind.MALFORMED_CHECKPOINT, None)


def test_the_command_takes_pinned_checkpoints(exported: Path, signer: Signer) -> None:
    runner = CliRunner()
    pinned = served(pin(exported, signer, 30))
    key = signer.verifier().key_string()
    arguments = ["verify", str(exported), "--key", key, "--checkpoint", str(pinned)]
    result = runner.invoke(audit_app, arguments)
    assert result.exit_code == 0, result.output
    assert "4 checkpoints" in result.output
    shorten(exported, 2)
    result = runner.invoke(audit_app, arguments)
    assert result.exit_code == 1
    assert "removed-entry" in result.output
