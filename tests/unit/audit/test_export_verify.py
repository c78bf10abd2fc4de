"""Export of a log and its offline verification, including tampering after the fact."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit import diagnose, merkle, scan
from shared.audit.checkpoint import Checkpoint, issue_checkpoint, sign_checkpoint
from shared.audit.export import ENTRIES_FILE, INDEX_FILE, export_log, iter_index, iter_leaves
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.problems import ProblemKind
from shared.audit.sql import SqlLogStore, create_audit_tables, leaves
from shared.audit.verify import verify_export

from .conftest import ORIGIN, WARD, make_envelope
from .export_files import assert_problem, entry_lines, event_id, write_entry_lines

EVENTS, BATCH = 60, 10


@pytest.fixture
def engine(tmp_path: Path, signer: Signer) -> Iterator[sa.Engine]:
    """A SQLite log of 60 events with a signed checkpoint after every 10."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    with engine.begin() as connection:
        create_audit_tables(connection)
    for start in range(0, EVENTS, BATCH):
        with engine.begin() as connection:
            log = AuditLog(SqlLogStore(connection, WARD))
            log.append(make_envelope(n) for n in range(start, start + BATCH))
            issue_checkpoint(log, [signer], origin=ORIGIN)
    yield engine
    engine.dispose()


def export(engine: sa.Engine, directory: Path, signer: Signer) -> Path:
    with engine.connect() as connection:
        export_log(
            SqlLogStore(connection, WARD), directory, origin=ORIGIN, verifiers=[signer.verifier()]
        )
    return directory


@pytest.fixture
def exported(engine: sa.Engine, tmp_path: Path, signer: Signer) -> Path:
    return export(engine, tmp_path / "export", signer)


# --- the untouched export -------------------------------------------------------------------


def test_an_untouched_export_verifies(exported: Path, signer: Signer) -> None:
    seen: list[tuple[int, int]] = []
    report = verify_export(
        exported,
        trusted_keys=[signer.verifier()],
        progress=lambda done, total: seen.append((done, total)),
    )
    assert report.ok, report.problem
    assert (report.entries_verified, report.checkpoints_verified) == (EVENTS, EVENTS // BATCH)
    assert report.origin == ORIGIN
    assert not report.keys_from_export
    assert verify_export(exported).keys_from_export
    assert seen[-1] == (EVENTS, EVENTS)
    leaf_hashes = [merkle.leaf_hash(leaf) for leaf in iter_leaves(exported)]
    assert report.root == merkle.root_of(leaf_hashes)


def test_export_layout(exported: Path) -> None:
    manifest = json.loads((exported / "log.json").read_text())
    assert (manifest["ward"], manifest["origin"], manifest["entries"]) == (WARD, ORIGIN, EVENTS)
    assert sorted(p.name for p in (exported / "checkpoints").iterdir())[:2] == [
        "000001.note",
        "000002.note",
    ]
    first = json.loads(entry_lines(exported)[0])
    assert first["event_id"] == event_id(0)
    record = next(iter_index(exported))
    assert (record.index, record.event_id) == (0, event_id(0))


def test_export_stops_at_the_latest_checkpoint(
    engine: sa.Engine, tmp_path: Path, signer: Signer
) -> None:
    with engine.begin() as connection:
        AuditLog(SqlLogStore(connection, WARD)).append([make_envelope(EVENTS)])
    directory = export(engine, tmp_path / "later", signer)
    assert len(entry_lines(directory)) == EVENTS
    assert verify_export(directory).ok


def test_export_refuses_a_directory_in_use(
    exported: Path, engine: sa.Engine, signer: Signer
) -> None:
    with pytest.raises(Exception, match="not empty"):
        export(engine, exported, signer)


def test_parallel_workers_give_the_same_result(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "CHUNK_BYTES", 1000)
    report = verify_export(exported, workers=2)
    assert report.ok, report.problem
    assert report.root == verify_export(exported, workers=1).root


def test_workers_are_spawned_while_other_threads_run(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan, "CHUNK_BYTES", 4000)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert scan._start_method() == "spawn"
        assert verify_export(exported, workers=2).ok
    finally:
        release.set()
        other.join()


def test_parallel_workers_find_the_same_problem(
    exported: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = entry_lines(exported)
    lines[33] = lines[33].replace(b'"amount_yen":1033', b'"amount_yen":9033')
    write_entry_lines(exported, lines)
    monkeypatch.setattr(scan, "CHUNK_BYTES", 1000)
    assert_problem(verify_export(exported, workers=2), ProblemKind.CHANGED_ENTRY, 33)


# --- the four tampering cases, made in the database before export --------------------------


def test_a_flipped_byte_in_a_stored_leaf_is_named(
    engine: sa.Engine, tmp_path: Path, signer: Signer
) -> None:
    with engine.begin() as connection:
        condition = (leaves.c.ward == WARD) & (leaves.c.leaf_index == 27)
        leaf = connection.scalar(sa.select(leaves.c.leaf).where(condition))
        assert leaf is not None
        tampered = bytearray(leaf)
        tampered[len(tampered) // 2] ^= 0x01
        connection.execute(sa.update(leaves).where(condition).values(leaf=bytes(tampered)))
    message = assert_problem(
        verify_export(export(engine, tmp_path / "x", signer)), ProblemKind.CHANGED_ENTRY, 27
    )
    assert f"entry 27 ({event_id(27)}) was changed" in message
    assert "entries.jsonl line 28" in message


def test_a_deleted_leaf_is_named(engine: sa.Engine, tmp_path: Path, signer: Signer) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.delete(leaves).where((leaves.c.ward == WARD) & (leaves.c.leaf_index == 41))
        )
    report = verify_export(export(engine, tmp_path / "x", signer))
    message = assert_problem(report, ProblemKind.REMOVED_ENTRY, 41)
    assert "entry 41 was removed" in message
    assert f"entry 42 ({event_id(42)}) follows entry 40" in message
    assert report.entries_verified == 40


def test_a_forged_event_inserted_in_the_database_is_named(
    engine: sa.Engine, tmp_path: Path, signer: Signer
) -> None:
    forged = make_envelope(900)
    forged_leaf = json.dumps(forged, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    with engine.begin() as connection:
        # Make room at index 15 the way a careful forger would: shift, then insert a
        # well-formed leaf with its correct hash, so the index file agrees with the entries.
        for index in range(EVENTS - 1, 14, -1):
            connection.execute(
                sa.update(leaves)
                .where((leaves.c.ward == WARD) & (leaves.c.leaf_index == index))
                .values(leaf_index=index + 1)
            )
        connection.execute(
            sa.insert(leaves).values(
                ward=WARD,
                leaf_index=15,
                event_id=forged["event_id"],
                leaf=forged_leaf.encode(),
                leaf_hash=merkle.leaf_hash(forged_leaf.encode()),
            )
        )
    message = assert_problem(
        verify_export(export(engine, tmp_path / "x", signer)), ProblemKind.INSERTED_ENTRY, 15
    )
    assert f"entry 15 ({forged['event_id']}) was inserted" in message
    assert "checkpoints/000002.note" in message


def test_two_roots_signed_for_one_size_are_named(exported: Path, signer: Signer) -> None:
    forged_root = merkle.leaf_hash(b"another history")
    note = sign_checkpoint(Checkpoint(ORIGIN, 30, forged_root), [signer])
    (exported / "checkpoints" / "000003.note").rename(exported / "checkpoints" / "000003a.note")
    (exported / "checkpoints" / "000003b.note").write_text(note)
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.CONFLICTING_CHECKPOINTS, None)
    assert "checkpoints/000003a.note and checkpoints/000003b.note" in message
    assert "tree size 30" in message


# --- tampering with the export files --------------------------------------------------------


def test_a_changed_byte_in_the_entries_file_is_named(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[8] = lines[8].replace(b'"amount_yen":1008', b'"amount_yen":1009')
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 8)
    assert event_id(8) in message


def test_a_line_removed_from_the_entries_file_is_named(exported: Path) -> None:
    lines = entry_lines(exported)
    del lines[52]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, 52)
    assert f"entry 52 ({event_id(52)}) was removed" in message


def test_reordered_entries_are_named(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[20], lines[21] = lines[21], lines[20]
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REORDERED_ENTRIES, 20)
    assert "swapped" in message


def test_an_entry_moved_further_is_named(exported: Path) -> None:
    lines = entry_lines(exported)
    lines.insert(22, lines.pop(25))
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.REORDERED_ENTRIES, 25)
    assert f"entry 25 ({event_id(25)}) was moved" in message


def test_a_forged_line_in_the_entries_file_is_named(exported: Path) -> None:
    forged = make_envelope(901)
    lines = entry_lines(exported)
    lines.insert(44, json.dumps(forged, separators=(",", ":"), sort_keys=True).encode())
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.INSERTED_ENTRY, 44)
    assert f"entry 44 ({forged['event_id']}) was inserted" in message


def test_a_line_added_after_the_latest_checkpoint_is_named(exported: Path) -> None:
    lines = entry_lines(exported)
    write_entry_lines(exported, [*lines, lines[0]])
    report = verify_export(exported)
    assert_problem(report, ProblemKind.UNCOVERED_ENTRY, EVENTS)
    assert report.entries_verified == EVENTS


def test_truncated_entries_are_named(exported: Path) -> None:
    write_entry_lines(exported, entry_lines(exported)[:57])
    message = assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, 57)
    assert f"entry 57 ({event_id(57)}) and later were removed" in message


def test_an_entry_cut_short_is_named_as_no_longer_json(exported: Path) -> None:
    lines = entry_lines(exported)
    write_entry_lines(exported, [*lines[:56], lines[56][:40]])
    message = assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 56)
    assert message.startswith(f"entry 56 ({event_id(56)}) was changed")
    assert message.endswith("; it no longer reads as JSON (entries.jsonl line 57)")


def test_an_entry_whose_event_id_now_reads_unreadable_is_named_by_it(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[56] = lines[56].replace(event_id(56).encode(), b"unreadable")
    write_entry_lines(exported, lines)
    message = assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 56)
    assert message.endswith("; its event_id now reads 'unreadable' (entries.jsonl line 57)")


def test_a_change_hidden_in_the_index_too_is_still_located_by_checkpoint(exported: Path) -> None:
    lines = entry_lines(exported)
    lines[56] = lines[56].replace(b'"amount_yen":1056', b'"amount_yen":1066')
    write_entry_lines(exported, lines)
    records = (exported / INDEX_FILE).read_bytes().splitlines()
    forged = json.loads(records[56])
    forged["leaf_hash"] = __import__("base64").b64encode(merkle.leaf_hash(lines[56])).decode()
    records[56] = json.dumps(forged, separators=(",", ":")).encode()
    (exported / INDEX_FILE).write_bytes(b"".join(r + b"\n" for r in records))
    report = verify_export(exported)
    message = assert_problem(report, ProblemKind.ROOT_MISMATCH, None)
    assert "entries 50..59" in message
    assert "checkpoints/000006.note" in message
    assert report.entries_verified == 50


def test_a_changed_checkpoint_fails_its_signature(exported: Path) -> None:
    path = exported / "checkpoints" / "000004.note"
    path.write_text(path.read_text().replace("\n40\n", "\n41\n"))
    message = assert_problem(verify_export(exported), ProblemKind.BAD_SIGNATURE, None)
    assert message.startswith("checkpoints/000004.note: signature by key")


def test_a_checkpoint_signed_by_an_unknown_key_is_refused(exported: Path, signer: Signer) -> None:
    stranger = Signer.generate(ORIGIN)
    report = verify_export(exported, trusted_keys=[stranger.verifier()])
    message = assert_problem(report, ProblemKind.UNKNOWN_KEY, None)
    assert "checkpoints/000001.note" in message


def test_checkpoints_out_of_order_are_refused(exported: Path) -> None:
    folder = exported / "checkpoints"
    (folder / "000002.note").rename(folder / "000099.note")
    assert_problem(verify_export(exported), ProblemKind.CHECKPOINTS_OUT_OF_ORDER, None)


def test_a_checkpoint_of_another_log_is_refused(exported: Path, signer: Signer) -> None:
    other = sign_checkpoint(Checkpoint("kyodo.example/audit/ota", 10, bytes(32)), [signer])
    (exported / "checkpoints" / "000001.note").write_text(other)
    assert_problem(verify_export(exported), ProblemKind.WRONG_ORIGIN, None)


def test_a_broken_manifest_is_reported(exported: Path) -> None:
    (exported / "log.json").write_text("{")
    assert_problem(verify_export(exported), ProblemKind.MALFORMED_EXPORT, None)


def test_a_missing_entries_file_is_reported(exported: Path) -> None:
    (exported / ENTRIES_FILE).unlink()
    assert_problem(verify_export(exported), ProblemKind.MALFORMED_EXPORT, None)


def test_an_export_copied_elsewhere_still_verifies(exported: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exported, copy)
    assert verify_export(copy).ok


@pytest.mark.parametrize("position", [40, 41, 42, 44, 47])
def test_changes_are_located_across_small_diagnosis_windows(
    exported: Path, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    monkeypatch.setattr(diagnose, "WINDOW", 3)
    original = entry_lines(exported)
    swapped = original.copy()
    swapped[position], swapped[position + 1] = original[position + 1], original[position]
    write_entry_lines(exported, swapped)
    assert_problem(verify_export(exported), ProblemKind.REORDERED_ENTRIES, position)
    write_entry_lines(exported, original[:position] + original[position + 1 :])
    assert_problem(verify_export(exported), ProblemKind.REMOVED_ENTRY, position)


def test_an_empty_tree_checkpoint_is_checked_too(exported: Path, signer: Signer) -> None:
    folder = exported / "checkpoints"
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT), [signer])
    (folder / "000000.note").write_text(empty)
    report = verify_export(exported)
    assert report.ok, report.problem
    assert report.checkpoints_verified == EVENTS // BATCH + 1
    lines = entry_lines(exported)
    write_entry_lines(exported, [*lines[:8], lines[8].replace(b"1008", b"1018"), *lines[9:]])
    assert_problem(verify_export(exported), ProblemKind.CHANGED_ENTRY, 8)
    write_entry_lines(exported, lines)
    wrong = sign_checkpoint(Checkpoint(ORIGIN, 0, merkle.leaf_hash(b"")), [signer])
    (folder / "000000.note").write_text(wrong)
    message = assert_problem(verify_export(exported), ProblemKind.ROOT_MISMATCH, None)
    assert "checkpoints/000000.note signs a root for tree size 0" in message
