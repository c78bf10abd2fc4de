"""`kyodo audit export | verify | replay` given unusable paths, files or options: one line that
says what is wrong, a non-zero exit, and nothing changed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from shared.audit.export import export_log
from shared.audit.store import InMemoryLogStore
from tests.integration.audit.test_cli_end_to_end import (
    WARD,
    AuditedPlatform,
    audited,
    export,
    invoke,
    kyodo,
    leaf_at,
    this_projects_services,
)

pytestmark = pytest.mark.redis
__all__ = ["audited", "this_projects_services"]  # fixtures used by name


def refusal(platform: AuditedPlatform, *args: str) -> str:
    """The one line that a refused command printed (exit 1, no traceback)."""
    result = invoke(platform, *args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    (message,) = [line for line in result.output.splitlines() if line.startswith("✗")]
    assert "Traceback" not in result.output
    return message


def test_export_to_a_file_is_refused(audited: AuditedPlatform, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("the auditor's own")
    message = refusal(audited, "audit", "export", "--ward", WARD, "--out", str(notes))
    assert message == f"✗ {notes} is not a directory: export needs a new or empty directory"
    assert notes.read_text() == "the auditor's own"


def test_export_below_a_file_is_refused(audited: AuditedPlatform, tmp_path: Path) -> None:
    here = tmp_path / "here"
    here.mkdir()
    notes = here / "notes.txt"
    notes.write_text("the auditor's own")
    out = notes / "export"
    message = refusal(audited, "audit", "export", "--ward", WARD, "--out", str(out))
    assert message == f"✗ cannot make or read the export directory {out}: Not a directory"
    assert list(here.iterdir()) == [notes] and notes.read_text() == "the auditor's own"


def test_export_to_a_directory_in_use_is_refused(audited: AuditedPlatform, tmp_path: Path) -> None:
    in_use = tmp_path / "in-use"
    in_use.mkdir()
    (in_use / "notes.txt").write_text("the auditor's own")
    message = refusal(audited, "audit", "export", "--ward", WARD, "--out", str(in_use))
    assert message == f"✗ export directory {in_use} is not empty"
    assert [path.name for path in in_use.iterdir()] == ["notes.txt"]


def test_a_key_file_of_garbage_is_named(audited: AuditedPlatform, tmp_path: Path) -> None:
    directory = export(audited, tmp_path / "export")
    (directory / "verifier-keys.txt").write_bytes(bytes(range(128, 256)))
    message = refusal(audited, "audit", "verify", str(directory))
    assert message.startswith("✗ malformed-export: cannot read verifier-keys.txt: 'utf-8' codec")
    replay = ("audit", "replay", "--ward", WARD, "--export", str(directory))
    assert refusal(audited, *replay).startswith("✗ cannot read verifier-keys.txt: 'utf-8' codec")


@pytest.mark.parametrize("made", [False, True], ids=["missing", "a file"])
def test_an_export_that_is_not_a_directory_is_named(
    audited: AuditedPlatform, tmp_path: Path, made: bool
) -> None:
    path = tmp_path / "export"
    if made:
        path.write_text("the auditor's own")
    what = "is not a directory" if made else "does not exist"
    expected = f"there is no export at {path}: it {what}"
    verify = ("audit", "verify", str(path), "--key", audited.verifier_key)
    assert refusal(audited, *verify) == f"✗ malformed-export: {expected}"
    assert refusal(audited, "audit", "replay", "--ward", WARD, "--export", str(path)) == (
        f"✗ {expected}"
    )


def test_an_export_without_any_checkpoint_does_not_verify(
    audited: AuditedPlatform, tmp_path: Path
) -> None:
    """It proves nothing: `kyodo audit export` refuses a ward without a checkpoint, and a
    signed checkpoint of the empty tree would verify."""
    directory = tmp_path / "export"
    export_log(
        InMemoryLogStore(WARD), directory, origin=f"kyodo.example/audit/{WARD}", verifiers=[]
    )
    verify = ("audit", "verify", str(directory), "--key", audited.verifier_key)
    message = refusal(audited, *verify)
    assert (
        message == "✗ malformed-export: the export holds no checkpoint, so nothing in it is signed"
    )


def usage_error(platform: AuditedPlatform, *args: str) -> str:
    """What a command refused for its options printed (exit 2, no traceback)."""
    code, output = kyodo(platform, *args)
    assert code == 2, output
    assert "Traceback" not in output
    return output


@pytest.mark.parametrize("until", ["2024-04-01T00:00:00", "2024-04-01"])
def test_replay_until_a_time_without_a_zone_is_refused(
    audited: AuditedPlatform, until: str
) -> None:
    """A naive time could be Japan's or UTC's, nine hours apart: a replay must not guess."""
    output = usage_error(audited, "audit", "replay", "--ward", WARD, "--until", until)
    assert f"--until {until!r} has no time zone: add one, e.g. +09:00 for Japan or Z" in output


def test_replay_until_reads_the_time_zone_given(audited: AuditedPlatform) -> None:
    recorded_at = datetime.fromisoformat(json.loads(leaf_at(audited, 4))["recorded_at"])
    in_japan = recorded_at.astimezone(timezone(timedelta(hours=9))).isoformat()
    code, output = kyodo(audited, "audit", "replay", "--ward", WARD, "--until", in_japan)
    assert code == 0, output
    assert "5 events applied from 15 signed entries" in output


@pytest.mark.parametrize(
    "until", ["yesterday", "2024-13-01T00:00:00+09:00", "2024-04-01T00:00:00+25:00"]
)
def test_replay_until_a_time_that_is_none_is_refused(audited: AuditedPlatform, until: str) -> None:
    output = usage_error(audited, "audit", "replay", "--ward", WARD, "--until", until)
    assert f"--until {until!r} is not an ISO 8601 time" in output


def test_replay_until_and_size_together_are_refused(audited: AuditedPlatform) -> None:
    replay = ("audit", "replay", "--ward", WARD, "--until", "2024-04-01T00:00Z", "--size", "3")
    assert "give --until or --size, not both" in usage_error(audited, *replay)


@pytest.mark.parametrize("size", ["16", "-1"])
def test_replay_beyond_the_signed_size_is_refused(audited: AuditedPlatform, size: str) -> None:
    message = refusal(audited, "audit", "replay", "--ward", WARD, "--size", size)
    assert message == f"✗ size {size} is outside 0..15, the signed tree size"


def test_replay_of_an_unknown_ward_is_refused(audited: AuditedPlatform) -> None:
    message = refusal(audited, "audit", "replay", "--ward", "setagaya")
    assert message == "✗ ward 'setagaya' has no signed checkpoint in the audit database"


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_verify_with_no_hashing_process_is_refused(
    audited: AuditedPlatform, tmp_path: Path, workers: str
) -> None:
    directory = export(audited, tmp_path / "export")
    output = usage_error(audited, "audit", "verify", str(directory), "--workers", workers)
    assert "Invalid value for '--workers'" in output
