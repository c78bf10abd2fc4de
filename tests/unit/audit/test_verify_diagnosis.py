"""How verification names what was done to an export's entries and checkpoints: removals and
insertions of several entries, moves, and checkpoints that sign two histories."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.audit import diagnose
from shared.audit.checkpoint import Checkpoint, sign_checkpoint
from shared.audit.merkle import leaf_hash, root_of
from shared.audit.note import Signer
from shared.audit.problems import ProblemKind
from shared.audit.verify import verify_export

from .conftest import ORIGIN
from .export_files import (
    assert_problem,
    entry_lines,
    event_id,
    export_of_batches,
    forged_line,
    write_entry_lines,
)

EVENTS, BATCH = 60, 10


@pytest.fixture
def exported(tmp_path: Path, signer: Signer) -> Path:
    return export_of_batches(tmp_path / "export", signer, EVENTS, BATCH)


# --- entries removed, inserted or moved ----------------------------------------------------


def test_two_removed_entries_are_named_from_the_first(exported: Path) -> None:
    lines = entry_lines(exported)
    del lines[25:27]
    write_entry_lines(exported, lines)
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.REMOVED_ENTRY, 25)
    assert "entries 25..26 were removed" in message
    assert f"entry 27 ({event_id(27)}) stands where entry 25 ({event_id(25)}) belongs" in message
    assert report.problem is not None and report.problem.event_id == event_id(25)


def test_a_removed_batch_is_named(exported: Path) -> None:
    lines = entry_lines(exported)
    del lines[10:20]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, 10)
    assert "entries 10..19 were removed" in message


@pytest.mark.parametrize(("copied", "at"), [(24, 25), (27, 23), (13, 18)])
def test_a_copied_entry_is_an_insertion(exported: Path, copied: int, at: int) -> None:
    lines = entry_lines(exported)
    lines.insert(at, lines[copied])
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, at)
    assert f"entry {at} ({event_id(copied)}) was inserted, a copy of entry {copied}" in message


def test_two_forged_lines_are_one_insertion(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[25:25] = [forged_line(901), forged_line(902)]
    write_entry_lines(exported, lines)
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.INSERTED_ENTRY, 25)
    assert "2 entries were inserted at 25" in message
    assert report.problem is not None and report.problem.event_id == event_id(901)


def test_forged_lines_just_before_a_checkpoint_are_an_insertion(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[29:29] = [forged_line(901), forged_line(902), forged_line(903)]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, 29)
    assert "3 entries were inserted at 29" in message


@pytest.mark.parametrize(
    ("origin", "target"),
    [(21, 27), (27, 44), (20, 22), (28, 21), (39, 20)],
    ids=["later", "past-a-checkpoint", "two-later", "earlier", "back-past-a-checkpoint"],
)
def test_a_moved_entry_is_named(exported: Path, origin: int, target: int) -> None:
    lines = entry_lines(exported)
    lines.insert(target, lines.pop(origin))
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REORDERED_ENTRIES, origin)
    assert f"entry {origin} ({event_id(origin)}) was moved to {target}" in message


def test_a_removal_and_a_later_change_name_the_removal(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[40] = lines[40].replace(b'"amount_yen":1040', b'"amount_yen":9040')
    del lines[22:25]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, 22)
    assert "entries 22..24 were removed" in message


def test_shifts_beyond_the_lookahead_are_not_guessed(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(diagnose, "LOOKAHEAD", 4)
    lines = entry_lines(exported)
    lines[29:29] = [forged_line(900 + n) for n in range(6)]
    write_entry_lines(exported, lines)
    assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 29)
    monkeypatch.setattr(diagnose, "LOOKAHEAD", 7)
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, 29)
    assert "6 entries were inserted at 29" in message


@pytest.mark.parametrize("position", [40, 41, 43])
def test_shifts_are_followed_across_small_diagnosis_windows(
    exported: Path, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    monkeypatch.setattr(diagnose, "WINDOW", 3)
    original = entry_lines(exported)
    write_entry_lines(exported, original[:position] + original[position + 3 :])
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, position)
    assert f"entries {position}..{position + 2} were removed" in message
    inserted = [forged_line(901), forged_line(902)]
    write_entry_lines(exported, original[:position] + inserted + original[position:])
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, position)
    assert f"2 entries were inserted at {position}" in message


# --- checkpoints that sign two histories ----------------------------------------------------


@pytest.mark.parametrize(
    ("size", "name", "reproduced"),
    [(35, "000003x", "000004"), (5, "000000x", "000001"), (59, "000005x", "000006")],
)
def test_a_checkpoint_between_reproduced_ones_conflicts_with_the_next(
    exported: Path, signer: Signer, size: int, name: str, reproduced: str
) -> None:
    kept = [leaf_hash(line) for line in entry_lines(exported)[: size - 1]]
    other_history = root_of([*kept, leaf_hash(b"another entry")])
    note = sign_checkpoint(Checkpoint(ORIGIN, size, other_history), [signer])
    (exported / "checkpoints" / f"{name}.note").write_text(note)
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.CONFLICTING_CHECKPOINTS, None)
    assert (
        f"checkpoints/{name}.note (tree size {size}) and checkpoints/{reproduced}.note" in message
    )
    assert "sign two different histories" in message
    assert report.problem is not None and report.problem.location == f"checkpoints/{name}.note"
    assert report.entries_verified == size // BATCH * BATCH


def test_a_changed_entry_is_not_taken_for_a_conflict(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[33] = lines[33].replace(b'"amount_yen":1033', b'"amount_yen":9033')
    write_entry_lines(exported, lines)
    assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 33)
