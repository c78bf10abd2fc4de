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
    index_lines,
    write_entry_lines,
    write_index_lines,
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


@pytest.mark.parametrize(("first", "last"), [(10, 19), (55, 56)], ids=["a-batch", "at-the-end"])
def test_removed_entries_are_named(exported: Path, first: int, last: int) -> None:
    lines = entry_lines(exported)
    del lines[first : last + 1]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, first)
    assert f"entries {first}..{last} were removed" in message


@pytest.mark.parametrize(
    ("copied", "at"),
    [(24, 25), (27, 23), (13, 18), (59, 50), (59, 45), (59, 0)],
    ids=["later", "earlier", "earlier-by-five", "last", "last-past-a-checkpoint", "last-first"],
)
def test_a_copied_entry_is_an_insertion(exported: Path, copied: int, at: int) -> None:
    assert_copy_is_named(exported, copied, at)


def assert_copy_is_named(directory: Path, copied: int, at: int) -> None:
    lines = entry_lines(directory)
    lines.insert(at, lines[copied])
    write_entry_lines(directory, lines)
    message = assert_problem(verify_export(directory), ProblemKind.INSERTED_ENTRY, at)
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
    [(21, 27), (27, 44), (20, 22), (28, 21), (39, 20), (55, 59), (57, 59), (0, 59)],
    ids=[
        "later",
        "past-a-checkpoint",
        "two-later",
        "earlier",
        "back-past-a-checkpoint",
        "to-the-end",
        "two-to-the-end",
        "first-to-the-end",
    ],
)
def test_a_moved_entry_is_named(exported: Path, origin: int, target: int) -> None:
    assert_move_is_named(exported, origin, target)


def assert_move_is_named(directory: Path, origin: int, target: int) -> None:
    lines = entry_lines(directory)
    lines.insert(target, lines.pop(origin))
    write_entry_lines(directory, lines)
    message = assert_problem(verify_export(directory), ProblemKind.REORDERED_ENTRIES, origin)
    assert f"entry {origin} ({event_id(origin)}) was moved to {target}" in message


def test_a_removal_and_a_later_change_name_the_removal(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[40] = lines[40].replace(b'"amount_yen":1040', b'"amount_yen":9040')
    del lines[22:25]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, 22)
    assert "entries 22..24 were removed" in message


def test_shifts_beyond_what_is_loaded_are_not_guessed(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Entries up to LOOKAHEAD + 8 + 1 past the window's end (30) are loaded: with 4, the
    # seventh entry after the logged entry 29, which now stands at 36, is not.
    monkeypatch.setattr(diagnose, "LOOKAHEAD", 4)
    lines = entry_lines(exported)
    lines[29:29] = [forged_line(900 + n) for n in range(7)]
    write_entry_lines(exported, lines)
    assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 29)
    monkeypatch.setattr(diagnose, "LOOKAHEAD", 7)
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, 29)
    assert "7 entries were inserted at 29" in message


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


# --- shifts that reach the end of the entries or of what is loaded -------------------------


SMALL_WINDOW, SMALL_LOOKAHEAD = 32, 16
"""Diagnosis windows small enough that a shift can reach the last entry loaded for the first."""
LAST_LOADED = SMALL_WINDOW + SMALL_LOOKAHEAD - 1
"""The last entry loaded for the first window before shifts were borne out past the lookahead."""


@pytest.fixture
def one_checkpoint(tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(diagnose, "WINDOW", SMALL_WINDOW)
    monkeypatch.setattr(diagnose, "LOOKAHEAD", SMALL_LOOKAHEAD)
    return export_of_batches(tmp_path / "export", signer, EVENTS, EVENTS)


def test_a_copy_from_the_edge_of_the_lookahead_is_an_insertion(one_checkpoint: Path) -> None:
    assert_copy_is_named(one_checkpoint, LAST_LOADED, SMALL_WINDOW - 1)


def test_a_move_to_the_edge_of_the_lookahead_is_named(one_checkpoint: Path) -> None:
    assert_move_is_named(one_checkpoint, SMALL_WINDOW - 1, LAST_LOADED)


# --- an index with records missing ---------------------------------------------------------


def test_a_short_index_is_named_rather_than_an_entry_it_lacks(exported: Path) -> None:
    write_index_lines(exported, index_lines(exported)[:35])
    change_entry(exported, 38)
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.MALFORMED_EXPORT, 35)
    assert "index.jsonl has no records from entry 35 on" in message
    assert "entries 30..39 do not reproduce the root signed in checkpoints/000004.note" in message
    assert report.problem is not None and report.problem.location == "index.jsonl line 36"


def test_a_change_after_a_gap_in_the_index_is_named(exported: Path) -> None:
    remove_record(exported, 35)
    change_entry(exported, 38)
    assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 38)


def test_a_changed_entry_the_index_lacks_names_the_gap(exported: Path) -> None:
    remove_record(exported, 35)
    change_entry(exported, 35)
    message = assert_problem(verify_export(exported), ProblemKind.MALFORMED_EXPORT, 35)
    assert "index.jsonl has no record of entry 35," in message


@pytest.mark.parametrize(("index", "place"), [(35, "follows entry 34"), (0, "comes first")])
def test_an_entry_removed_with_its_record_is_named(exported: Path, index: int, place: str) -> None:
    following = event_id(index + 1)
    remove_record(exported, index)
    lines = entry_lines(exported)
    del lines[index]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, index)
    assert f"the export has no entry {index}; entry {index + 1} ({following}) {place}" in message


def remove_record(directory: Path, index: int) -> None:
    records = index_lines(directory)
    del records[index]
    write_index_lines(directory, records)


def change_entry(directory: Path, index: int) -> None:
    lines = entry_lines(directory)
    amount = 1000 + index
    lines[index] = lines[index].replace(
        f'"amount_yen":{amount}'.encode(), f'"amount_yen":{amount + 8000}'.encode()
    )
    write_entry_lines(directory, lines)


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
