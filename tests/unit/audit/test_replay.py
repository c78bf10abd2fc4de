"""Replay of a ward's log into fresh read models, from the audit database or an export."""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit import parallel
from shared.audit.checkpoint import Checkpoint
from shared.audit.compact import CompactRange
from shared.audit.digest import row_bytes, table_digest
from shared.audit.errors import ReplayError
from shared.audit.export import export_log
from shared.audit.note import Signer
from shared.audit.projection import AuditProjection
from shared.audit.replay import ReplayResult, Selection, SignedLog, replay_log
from shared.audit.scan import leaf_hashes
from shared.audit.sources import log_from_database, log_from_export
from shared.audit.sql import SqlLogStore, leaves
from shared.db import Database
from shared.projections.runner import ProjectionRunner
from shared.service import ServiceSpec
from shared.testing.probe import POISON, PoisonError, ProbeProjection, applied, counts

from .test_projection import START, event

PREFIX = "kyodo.example/audit"
PROBE = ServiceSpec(name="probe", title="probe", projections=[ProbeProjection()], consumes=["test"])
EVENTS = 25


@pytest.fixture
async def audit_database(tmp_path: Path, signer: Signer) -> AsyncIterator[Database]:
    """Nerima's log of 25 test events and 5 from another service, and Ota's of 3."""
    database = Database(f"sqlite:///{tmp_path / 'audit.sqlite3'}")
    runner = ProjectionRunner(database, AuditProjection([signer], PREFIX))
    await runner.create_tables()
    for start in range(0, EVENTS, 10):
        await runner.apply([event(n) for n in range(start, min(start + 10, EVENTS))])
    await runner.apply([event(100 + n, service="other") for n in range(5)])
    await runner.apply([event(200 + n, ward="ota") for n in range(3)])
    yield database
    database.dispose()


async def replay(
    database: Database,
    signer: Signer,
    target: Path,
    selection: Selection | None = None,
) -> ReplayResult:
    log = log_from_database(database.engine, "nerima", [signer.verifier()], PREFIX)
    return await replay_log(log, {PROBE.name: PROBE}, target, selection or Selection())


def probe_events(result: ReplayResult) -> int:
    digest = result.services[0].digests["probe_counts"]
    assert digest is not None and digest.rows == 1
    return events_in(result.services[0].database)


def events_in(path: Path) -> int:
    """The events a probe's read model counted, read from its SQLite file."""
    database = Database(f"sqlite:///{path}")
    try:
        with database.engine.connect() as connection:
            return int(connection.execute(sa.select(counts.c.events)).scalar_one())
    finally:
        database.dispose()


async def test_a_replay_applies_what_the_service_consumes(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    result = await replay(audit_database, signer, tmp_path / "out")
    assert (result.signed_size, result.applied) == (EVENTS + 5, EVENTS + 5)
    (probe,) = result.services
    assert probe.events == EVENTS
    assert probe.positions == {"test": EVENTS}
    assert probe_events(result) == EVENTS
    applied_digest = probe.digests["probe_applied"]
    assert applied_digest is not None and applied_digest.rows == EVENTS


async def test_a_replay_stops_at_a_size_or_a_time(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    first = await replay(audit_database, signer, tmp_path / "a", Selection(size=7))
    assert first.applied == 7 and probe_events(first) == 7
    until = START + timedelta(minutes=11, seconds=30)
    second = await replay(audit_database, signer, tmp_path / "b", Selection(until=until))
    assert second.applied == 12 and probe_events(second) == 12


async def test_two_replays_give_the_same_digests(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    one = await replay(audit_database, signer, tmp_path / "one")
    two = await replay(audit_database, signer, tmp_path / "two")
    assert one.services[0].digests == two.services[0].digests
    other = await replay(audit_database, signer, tmp_path / "three", Selection(size=24))
    assert other.services[0].digests["probe_counts"] != one.services[0].digests["probe_counts"]


def exported_log(database: Database, signer: Signer, directory: Path) -> SignedLog:
    with database.engine.connect() as connection:
        store = SqlLogStore(connection, "nerima")
        export_log(store, directory, origin=f"{PREFIX}/nerima", verifiers=[])
    return log_from_export(directory, [signer.verifier()])


async def test_an_export_replays_like_the_database(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    log = exported_log(audit_database, signer, tmp_path / "export")
    from_export = await replay_log(log, {"probe": PROBE}, tmp_path / "from-export")
    from_database = await replay(audit_database, signer, tmp_path / "from-database")
    assert from_export.services[0].digests == from_database.services[0].digests


async def test_a_changed_leaf_is_refused(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    with audit_database.engine.begin() as connection:
        where = (leaves.c.ward == "nerima") & (leaves.c.leaf_index == 3)
        leaf = bytes(connection.execute(sa.select(leaves.c.leaf).where(where)).scalar_one())
        changed = leaf.replace(b'"n":3', b'"n":4')
        connection.execute(sa.update(leaves).where(where).values(leaf=changed))
    with pytest.raises(ReplayError, match="do not reproduce the signed root"):
        await replay(audit_database, signer, tmp_path / "out")


async def test_a_checkpoint_from_an_unknown_key_is_refused(
    audit_database: Database, tmp_path: Path
) -> None:
    with pytest.raises(ReplayError, match="does not verify"):
        await replay(audit_database, Signer.generate(PREFIX), tmp_path / "out")


async def test_bad_selections_and_used_targets_are_refused(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    with pytest.raises(ReplayError, match=r"outside 0\.\.30"):
        await replay(audit_database, signer, tmp_path / "a", Selection(size=31))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "probe.sqlite3").write_bytes(b"")
    with pytest.raises(ReplayError, match="needs a fresh database"):
        await replay(audit_database, signer, tmp_path / "b")


def test_digests_follow_the_key_order_and_the_ward(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'd.sqlite3'}")
    counts.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(sa.insert(counts), [{"ward": w, "events": 1} for w in ("ota", "a")])
        digest = table_digest(connection, counts, "ota")
        assert (digest.rows, digest.ward_only) == (1, True)
        whole = table_digest(connection, applied, "ota")
        assert (whole.rows, whole.ward_only) == (0, False)
    engine.dispose()
    naive = row_bytes({"at": START.replace(tzinfo=None), "n": 1})
    assert (
        naive == row_bytes({"n": 1, "at": START}) == b'{"at":"2026-04-01T09:00:00+00:00","n":1}\n'
    )


async def test_small_chunks_replay_alike_and_leave_the_collector_as_it_was(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    threshold = gc.get_threshold()
    log = log_from_database(audit_database.engine, "nerima", [signer.verifier()], PREFIX)
    result = await replay_log(log, {PROBE.name: PROBE}, tmp_path / "out", batch=4)
    assert result.applied == EVENTS + 5
    assert probe_events(result) == EVENTS
    assert (gc.get_threshold(), gc.get_freeze_count()) == (threshold, 0)


# --- replay in several processes ------------------------------------------------------------


class OtherProbe(ProbeProjection):
    def handles(self, event_type: str) -> bool:
        return event_type.startswith("other.")


class EveryProbe(ProbeProjection):
    def handles(self, event_type: str) -> bool:
        return True


OTHER = ServiceSpec(name="other", title="other", projections=[OtherProbe()], consumes=["other"])
IDLE = ServiceSpec(name="idle", title="idle", projections=[ProbeProjection()], consumes=["none"])
EVERY = ServiceSpec(
    name="every", title="every", projections=[EveryProbe()], consumes=["test", "other"]
)
SPECS = {spec.name: spec for spec in (PROBE, OTHER, IDLE, EVERY)}


def probe_specs() -> dict[str, ServiceSpec]:
    """Found again by each replay process (a module-level function pickles by name)."""
    return SPECS


def no_specs() -> dict[str, ServiceSpec]:
    return {}


def outcome(result: ReplayResult) -> tuple[object, ...]:
    """Everything a replay rebuilt, but where its files are."""
    services = [(s.name, s.events, s.digests, s.positions) for s in result.services]
    return result.ward, result.signed_size, result.applied, services


async def replay_both_ways(
    log: SignedLog, names: tuple[str, ...], target: Path, selection: Selection
) -> tuple[ReplayResult, ReplayResult]:
    specs = {name: SPECS[name] for name in names}
    alone = await parallel.replay(
        log, specs, target / "one", selection, load_specs=probe_specs, processes=1, batch=4
    )
    shared = await parallel.replay(
        log, specs, target / "two", selection, load_specs=probe_specs, processes=2, batch=4
    )
    return alone, shared


def database_log(database: Database, signer: Signer) -> SignedLog:
    return log_from_database(database.engine, "nerima", [signer.verifier()], PREFIX)


@pytest.mark.parametrize(
    "selection",
    [Selection(), Selection(size=7), Selection(until=START + timedelta(minutes=11, seconds=30))],
)
@pytest.mark.parametrize("names", [("other", "probe"), ("idle", "probe"), ("every", "probe")])
async def test_processes_rebuild_exactly_what_one_process_does(
    audit_database: Database,
    signer: Signer,
    tmp_path: Path,
    names: tuple[str, ...],
    selection: Selection,
) -> None:
    """With ``idle``, the other service's leaves are consumed by no process: the first parses
    and counts them. With ``every``, the test service's leaves are parsed by both processes and
    counted by the first. Either way ``applied`` counts every selected leaf once."""
    log = database_log(audit_database, signer)
    alone, shared = await replay_both_ways(log, names, tmp_path, selection)
    assert outcome(shared) == outcome(alone)
    assert [s.name for s in shared.services] == sorted(names)
    assert all(s.database.parent == tmp_path / "two" for s in shared.services)
    if selection == Selection():
        assert shared.applied == EVENTS + 5
        assert {s.name: s.events for s in shared.services}["probe"] == EVENTS


async def test_processes_replay_an_export(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    log = exported_log(audit_database, signer, tmp_path / "export")
    alone, shared = await replay_both_ways(log, ("other", "probe"), tmp_path, Selection())
    assert outcome(shared) == outcome(alone)
    assert shared.applied == EVENTS + 5


def change_leaf(database: Database, index: int, old: bytes, new: bytes) -> None:
    with database.engine.begin() as connection:
        where = (leaves.c.ward == "nerima") & (leaves.c.leaf_index == index)
        leaf = bytes(connection.execute(sa.select(leaves.c.leaf).where(where)).scalar_one())
        assert old in leaf
        connection.execute(sa.update(leaves).where(where).values(leaf=leaf.replace(old, new)))


@pytest.mark.parametrize("processes", [1, 2])
async def test_processes_refuse_what_one_process_refuses(
    audit_database: Database, signer: Signer, tmp_path: Path, processes: int
) -> None:
    """Leaf 27 is of a service that neither process replays; its owner still checks its ward."""
    specs = {name: SPECS[name] for name in ("idle", "probe")}
    change_leaf(audit_database, 27, b'"ward":"nerima"', b'"ward":"ota"')
    log = database_log(audit_database, signer)
    event_id = uuid.UUID(int=100 + 2 + 1)
    wrong = f"event {event_id} of ward 'ota' is in the log of ward 'nerima'"
    with pytest.raises(ReplayError, match=wrong):
        await parallel.replay(
            log, specs, tmp_path / "a", load_specs=probe_specs, processes=processes, batch=4
        )
    change_leaf(audit_database, 27, b'"ward":"ota"', b'"ward":"nerima"')
    change_leaf(audit_database, 3, b'"n":3', b'"n":4')
    with pytest.raises(ReplayError, match="do not reproduce the signed root"):
        await parallel.replay(
            log, specs, tmp_path / "b", load_specs=probe_specs, processes=processes
        )


def files_in(directory: Path) -> list[str]:
    """Everything below ``directory``, hidden entries included."""
    return sorted(str(path.relative_to(directory)) for path in directory.rglob("*"))


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_refused_replay_leaves_nothing_it_built(
    audit_database: Database, signer: Signer, tmp_path: Path, processes: int
) -> None:
    """Leaf 3 still parses, so chunks of 4 are applied up to the end, where the root fails."""
    specs = {name: SPECS[name] for name in ("other", "probe")}
    change_leaf(audit_database, 3, b'"n":3', b'"n":4')
    log = database_log(audit_database, signer)
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("the auditor's own")
    for target in (tmp_path / "new", kept):
        with pytest.raises(ReplayError, match="do not reproduce the signed root"):
            await parallel.replay(
                log, specs, target, load_specs=probe_specs, processes=processes, batch=4
            )
    assert not (tmp_path / "new").exists()
    assert files_in(kept) == ["notes.txt"]


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_replay_moves_its_databases_into_a_target_that_must_be_fresh(
    audit_database: Database, signer: Signer, tmp_path: Path, processes: int
) -> None:
    specs = {name: SPECS[name] for name in ("other", "probe")}
    log = database_log(audit_database, signer)
    target = tmp_path / "out"
    result = await parallel.replay(log, specs, target, load_specs=probe_specs, processes=processes)
    built = ["other.sqlite3", "probe.sqlite3"]
    assert files_in(target) == built
    assert [service.database for service in result.services] == [target / n for n in built]
    assert [events_in(target / name) for name in built] == [5, EVENTS]
    with pytest.raises(ReplayError, match=r"probe\.sqlite3 exists: replay needs a fresh database"):
        await parallel.replay(log, {"probe": PROBE}, target, processes=processes)
    assert files_in(target) == built
    assert events_in(target / "probe.sqlite3") == EVENTS


async def test_a_replay_of_no_read_models_makes_its_target(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    target = tmp_path / "new" / "out"
    result = await parallel.replay(database_log(audit_database, signer), {}, target)
    assert (result.applied, result.services) == (EVENTS + 5, [])
    assert files_in(tmp_path / "new") == ["out"]


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_target_that_is_not_a_directory_is_refused_and_left_as_it_was(
    audit_database: Database, signer: Signer, tmp_path: Path, processes: int
) -> None:
    specs = {name: SPECS[name] for name in ("other", "probe")}
    log = database_log(audit_database, signer)
    here = tmp_path / "here"
    here.mkdir()
    (here / "file").write_text("the auditor's own")
    for target, message in (
        ("file", "file is not a directory: replay needs a directory for its databases"),
        ("file/out", "file/out cannot be made a directory: .*/file is not a directory"),
    ):
        with pytest.raises(ReplayError, match=message):
            await parallel.replay(
                log, specs, here / target, load_specs=probe_specs, processes=processes
            )
    assert files_in(here) == ["file"]
    assert (here / "file").read_text() == "the auditor's own"


@dataclass(frozen=True)
class ListedLeaves:
    """Leaves held in memory; picklable, so that replay processes read them too."""

    leaves: tuple[bytes, ...]

    def __call__(self) -> Iterator[bytes]:
        return iter(self.leaves)


def signed_as_they_are(leaves: list[bytes]) -> SignedLog:
    """Nerima's log of ``leaves`` with a checkpoint of their own root, as if a signer had
    signed whatever it was given."""
    tree = CompactRange()
    tree.extend(leaf_hashes(leaves))
    checkpoint = Checkpoint(f"{PREFIX}/nerima", tree.size, tree.root())
    source = ListedLeaves(tuple(leaves))
    return SignedLog("nerima", checkpoint, source, source)


NO_ENVELOPES = [
    (b"not an envelope", "Invalid JSON: expected ident at line 1 column 2"),
    (b'{"event_type":7}', r"event_id: Field required \(and \d+ more\)"),
    (b"[]", "Input should be an object"),
]


@pytest.mark.parametrize(("leaf", "problem"), NO_ENVELOPES)
@pytest.mark.parametrize("processes", [1, 2])
async def test_a_leaf_that_is_no_envelope_is_named_and_a_changed_log_said_to_be_changed(
    audit_database: Database,
    signer: Signer,
    tmp_path: Path,
    processes: int,
    leaf: bytes,
    problem: str,
) -> None:
    """Leaf 27 is of a service no process replays; it is still parsed, and fails. The rest of
    the log is then hashed: the root a changed log no longer reproduces is reported first."""
    logged = list(database_log(audit_database, signer).leaves())
    logged[27] = leaf
    with audit_database.engine.begin() as connection:
        where = (leaves.c.ward == "nerima") & (leaves.c.leaf_index == 27)
        connection.execute(sa.update(leaves).where(where).values(leaf=leaf))
    specs = {name: SPECS[name] for name in ("idle", "probe")}
    named = f"leaf 27 is not an event envelope: {problem}"
    changed = (
        r"^the 30 entries do not reproduce the signed root of the checkpoint, so the log was "
        rf"changed \(and replaying it failed: {named}\); "
        r"nothing replayed can be trusted: run `kyodo audit verify` to locate the change$"
    )
    changed_log = database_log(audit_database, signer)
    for name, log, message in (
        ("changed", changed_log, changed),
        ("signed", signed_as_they_are(logged), f"^{named}$"),
    ):
        target = tmp_path / name
        with pytest.raises(ReplayError, match=message):
            await parallel.replay(
                log, specs, target, load_specs=probe_specs, processes=processes, batch=4
            )
        assert not target.exists()


@pytest.mark.parametrize("processes", [1, 2])
async def test_a_leaf_its_projection_cannot_apply_is_reported_by_what_the_log_is(
    audit_database: Database, signer: Signer, tmp_path: Path, processes: int
) -> None:
    """A changed leaf that breaks a projection (of each process) is a changed log; in a log
    signed as it is, the projection's own error is not disguised."""
    specs = {name: SPECS[name] for name in ("every", "probe")}
    change_leaf(audit_database, 3, b'"test.Happened"', f'"{POISON}"'.encode())
    log = database_log(audit_database, signer)
    symptom = r"so the log was changed \(and replaying it failed: PoisonError: this event"
    with pytest.raises(ReplayError, match=symptom):
        await parallel.replay(
            log, specs, tmp_path / "a", load_specs=probe_specs, processes=processes, batch=4
        )
    signed = signed_as_they_are(list(log.leaves()))
    with pytest.raises(PoisonError, match="this event cannot be applied"):
        await parallel.replay(
            signed, specs, tmp_path / "b", load_specs=probe_specs, processes=processes, batch=4
        )
    assert not (tmp_path / "a").exists()
    assert not (tmp_path / "b").exists()


async def test_processes_report_progress_up_to_the_signed_size(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    log = database_log(audit_database, signer)
    await parallel.replay(
        log,
        {name: SPECS[name] for name in ("other", "probe")},
        tmp_path,
        progress=lambda done, total: seen.append((done, total)),
        load_specs=probe_specs,
        processes=2,
        batch=4,
    )
    assert seen[-1] == (EVENTS + 5, EVENTS + 5)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="several processes need several CPUs")
async def test_one_process_replays_here_and_several_need_the_specs_found_again(
    audit_database: Database, signer: Signer, tmp_path: Path
) -> None:
    log = database_log(audit_database, signer)
    specs = {name: SPECS[name] for name in ("other", "probe")}
    result = await parallel.replay(log, specs, tmp_path / "a", load_specs=no_specs, processes=1)
    assert result.applied == EVENTS + 5
    with pytest.raises(ReplayError, match="cannot load the service"):
        await parallel.replay(log, specs, tmp_path / "b", load_specs=no_specs, processes=2)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="several processes need several CPUs")
async def test_a_small_log_is_replayed_here_unless_processes_are_asked_for(
    audit_database: Database, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = database_log(audit_database, signer)
    specs = {name: SPECS[name] for name in ("other", "probe")}
    result = await parallel.replay(log, specs, tmp_path / "a", load_specs=no_specs)
    assert result.applied == EVENTS + 5
    monkeypatch.setattr(parallel, "PARALLEL_FROM_ENTRIES", log.checkpoint.tree_size)
    with pytest.raises(ReplayError, match="cannot load the service"):
        await parallel.replay(log, specs, tmp_path / "b", load_specs=no_specs)


def test_services_are_dealt_round_robin_to_at_most_one_process_per_cpu() -> None:
    assert parallel.service_groups(SPECS, 2) == [("every", "other"), ("idle", "probe")]
    assert parallel.service_groups(SPECS, 3) == [("every", "probe"), ("idle",), ("other",)]
    assert parallel.service_groups(SPECS, 8) == [("every",), ("idle",), ("other",), ("probe",)]
    assert parallel.service_groups({"probe": PROBE}, 4) == [("probe",)]
    assert parallel.service_groups({}, 4) == []
    cpus = os.cpu_count() or 1
    assert (parallel.process_count(None), parallel.process_count(cpus + 1)) == (cpus, cpus)
    assert parallel.process_count(1) == 1
