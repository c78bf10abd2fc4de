"""Audit log figures: signed appends to SQLite, export verification rate, proof latency, replay.

Run alone with ``python -m benchmarks.audit_bench``."""

from __future__ import annotations

import asyncio
import gc
import hashlib
import os
import random
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

import rfc8785
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchmarks import audit_replay_bench
from shared.audit import merkle
from shared.audit.checkpoint import issue_checkpoint, origin_for_ward
from shared.audit.compact import CompactRange, HashLevels
from shared.audit.export import export_log
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.projection import AuditProjection
from shared.audit.sql import STORED_FROM_LEVEL, SqlLogStore, create_audit_tables
from shared.audit.store import InMemoryLogStore, LogEntry
from shared.audit.verify import verify_export
from shared.db import Database
from shared.events.envelope import EventEnvelope
from shared.projections.runner import ProjectionRunner

WARD = "nerima"
ORIGIN = origin_for_ward(WARD)
APPEND_EVENTS = 20_000
APPEND_BATCH = 1_000
EXPORT_LEAVES = 500_000
PROOF_LEAVES = 1_000_000
PROOF_SAMPLES = 2_000


@dataclass
class Figures:
    rows: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, name: str, value: str, note: str = "") -> None:
        self.rows.append((name, value, note))


def envelope(number: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "fund.DonationReceived",
        "schema_version": 1,
        "ward": WARD,
        "stream_id": str(uuid.uuid4()),
        "version": 1 + number % 5,
        "position": number + 1,
        "occurred_at": "2025-04-01T09:00:00+00:00",
        "recorded_at": "2025-04-01T09:00:00.123456+00:00",
        "actor": {"subject": "finance-7", "role": "finance"},
        "correlation_id": str(uuid.uuid4()),
        "causation_id": str(uuid.uuid4()),
        "traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01",
        "policy_version": 3,
        "data": {
            "amount_yen": 1000 + number,
            "designation": {"kind": "field", "field": "子育て・教育"},
            "personal": {"name": "練馬 花子", "address": "東京都練馬区豊玉北6-12-1"},
        },
    }


def sqlite_engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    return engine


def bench_signed_appends(workdir: Path, signer: Signer, figures: Figures) -> sa.Engine:
    engine = sqlite_engine(workdir / "audit.sqlite3")
    with engine.begin() as connection:
        create_audit_tables(connection)
    envelopes = [envelope(n) for n in range(APPEND_EVENTS)]
    gc.collect()  # the input settles before timing: its collection is not the append's cost
    began, cpu_began = time.perf_counter(), time.process_time()
    for start in range(0, APPEND_EVENTS, APPEND_BATCH):
        with engine.begin() as connection:
            log = AuditLog(SqlLogStore(connection, WARD))
            log.append(envelopes[start : start + APPEND_BATCH])
            issue_checkpoint(log, [signer], origin=ORIGIN)
    rate = APPEND_EVENTS / (time.perf_counter() - began)
    cpu = (time.process_time() - cpu_began) / APPEND_EVENTS
    figures.add(
        f"append + signed checkpoint per {APPEND_BATCH:,}",
        f"{rate:,.0f} events/s",
        f"SQLite WAL, synchronous=FULL, {APPEND_EVENTS:,} events, RFC 8785 encoding included; "
        f"{cpu * 1e6:.1f} µs CPU per event",
    )
    return engine


def bench_projection_appends(workdir: Path, signer: Signer, figures: Figures) -> None:
    """The service's own path: envelopes from the consumer, their inbox rows, the leaves and a
    signed checkpoint per batch, in one transaction per batch."""
    database = Database(f"sqlite:///{workdir / 'audit-service.sqlite3'}")
    runner = ProjectionRunner(database, AuditProjection([signer], "kyodo.example/audit"))
    batches = [
        [EventEnvelope.model_validate(envelope(n)) for n in range(start, start + APPEND_BATCH)]
        for start in range(0, APPEND_EVENTS, APPEND_BATCH)
    ]

    async def apply_all() -> float:
        await runner.create_tables()
        gc.collect()
        began = time.perf_counter()
        for batch in batches:
            await runner.apply(batch)
        return time.perf_counter() - began

    elapsed = asyncio.run(apply_all())
    database.dispose()
    figures.add(
        f"audit service: consume + append + sign per {APPEND_BATCH:,}",
        f"{APPEND_EVENTS / elapsed:,.0f} events/s",
        "the audit projection through the projection runner: envelope to JSON, inbox rows, "
        "leaves, checkpoint, one transaction per batch",
    )


def small_leaves(count: int) -> Iterator[LogEntry]:
    """Short distinct leaves: a proof reads only hashes, so leaf size does not change its time."""
    for number in range(count):
        event_id = f"{number:08x}-0000-4000-8000-{number:012x}"
        leaf = b'{"event_id":"%s","ward":"nerima"}' % event_id.encode()
        yield LogEntry(number, event_id, leaf, merkle.leaf_hash(leaf))


def build_sql_log(path: Path, count: int) -> sa.Engine:
    """A SQLite log of ``count`` leaves, written in large batches without encoding."""
    engine = sqlite_engine(path)
    with engine.begin() as connection:
        create_audit_tables(connection)
    tree = CompactRange()
    entries = small_leaves(count)
    while batch := list(islice(entries, 20_000)):
        subtrees = tree.append_all([entry.leaf_hash for entry in batch])
        with engine.begin() as connection:
            SqlLogStore(connection, WARD).add_entries(batch, subtrees)
    return engine


def bench_sql_proofs(workdir: Path, figures: Figures, console: Console) -> None:
    console.print(f"writing a SQLite log of {PROOF_LEAVES:,} leaves…")
    engine = build_sql_log(workdir / "large.sqlite3", PROOF_LEAVES)
    with engine.connect() as connection:
        log = AuditLog(SqlLogStore(connection, WARD))
        size = log.tree_size()
        samples = [random.randrange(size) for _ in range(PROOF_SAMPLES)]
        timings = [_timed(partial(log.inclusion_proof, i, size)) for i in samples]
        lengths = sorted({len(log.inclusion_proof(i, size)) for i in samples[:50]})
        pairs = [(random.randrange(1, size), size) for _ in range(200)]
        consistency = [_timed(partial(log.consistency_proof, a, b)) for a, b in pairs]
    engine.dispose()
    figures.add(
        f"inclusion proof from SQLite at {size:,} leaves",
        f"{statistics.median(timings) * 1e3:.2f} ms",
        f"median of {PROOF_SAMPLES:,}, p99 {_percentile(timings, 99) * 1e3:.2f} ms; "
        f"{'-'.join(map(str, lengths))} hashes; subtrees stored from level "
        f"{STORED_FROM_LEVEL}, lower ones recomputed from one block of leaf hashes",
    )
    figures.add(
        f"consistency proof from SQLite to {size:,} leaves",
        f"{statistics.median(consistency) * 1e3:.2f} ms",
        "median from random sizes",
    )


def template_leaves(count: int) -> Iterator[LogEntry]:
    """Distinct canonical envelopes made by fixed-width substitution into one canonical
    template, so that a large log can be built without paying for JSON encoding."""
    template = rfc8785.dumps(envelope(0) | {"event_id": "@" * 36, "position": 2_000_000_000})
    head, rest = template.split(b"@" * 36)
    middle, tail = rest.split(b"2000000000")
    for number in range(count):
        event_id = f"{number:08x}-0000-4000-8000-{number:012x}"
        leaf = b"%s%s%s%d%s" % (head, event_id.encode(), middle, 2_000_000_000 + number, tail)
        yield LogEntry(number, event_id, leaf, merkle.leaf_hash(leaf))


def build_large_log(signer: Signer, count: int) -> InMemoryLogStore:
    store = InMemoryLogStore(WARD)
    log = AuditLog(store)
    issue_checkpoint(log, [signer], origin=ORIGIN)  # the leaves below are stored, not appended
    tree = CompactRange()
    batch: list[LogEntry] = []
    for entry in template_leaves(count):
        batch.append(entry)
        if len(batch) == APPEND_BATCH or entry.index == count - 1:
            subtrees = tree.append_all([e.leaf_hash for e in batch])
            store.add_entries(batch, subtrees)
            issue_checkpoint(log, [signer], origin=ORIGIN)
            batch = []
    return store


def bench_verification(workdir: Path, signer: Signer, figures: Figures, console: Console) -> None:
    console.print(f"building a log of {EXPORT_LEAVES:,} signed entries and exporting it…")
    store = build_large_log(signer, EXPORT_LEAVES)
    directory = workdir / "export"
    export_log(store, directory, origin=ORIGIN, verifiers=[signer.verifier()])
    size_mb = (directory / "entries.jsonl").stat().st_size / EXPORT_LEAVES
    for workers, label in ((None, f"{os.cpu_count()} worker processes"), (1, "one process")):
        cpu_before = _cpu_seconds()
        began = time.perf_counter()
        report = verify_export(directory, trusted_keys=[signer.verifier()], workers=workers)
        elapsed = time.perf_counter() - began
        cpu = _cpu_seconds() - cpu_before
        if not report.ok:
            raise RuntimeError(f"benchmark export did not verify: {report.problem}")
        figures.add(
            f"verify export, {label}",
            f"{report.entries_verified / elapsed:,.0f} leaves/s",
            f"{EXPORT_LEAVES:,} leaves of {size_mb:.0f} B, {report.checkpoints_verified:,} "
            f"checkpoints, {elapsed:.2f} s wall, {cpu:.2f} s CPU",
        )
    cores = os.cpu_count() or 1
    figures.add(
        "verify export, CPU cost",
        f"{cpu / EXPORT_LEAVES * 1e6:.2f} µs/leaf",
        f"one process; {cores} idle cores would give ≈{cores * EXPORT_LEAVES / cpu:,.0f} leaves/s",
    )


def bench_memory_proofs(figures: Figures, console: Console) -> None:
    console.print(f"hashing a tree of {PROOF_LEAVES:,} leaves in memory…")
    hashes = [hashlib.sha256(number.to_bytes(8, "big")).digest() for number in range(PROOF_LEAVES)]
    levels = HashLevels.from_leaf_hashes(hashes)
    root = merkle.root_at(PROOF_LEAVES, levels.subtree_hash)
    indexes = [random.randrange(PROOF_LEAVES) for _ in range(PROOF_SAMPLES)]
    proofs = [merkle.inclusion_proof(i, PROOF_LEAVES, levels.subtree_hash) for i in indexes]
    build = [
        _timed(partial(merkle.inclusion_proof, i, PROOF_LEAVES, levels.subtree_hash))
        for i in indexes
    ]
    check = [
        _timed(partial(merkle.verify_inclusion, i, PROOF_LEAVES, hashes[i], proof, root))
        for i, proof in zip(indexes, proofs, strict=True)
    ]
    lengths = sorted({len(proof) for proof in proofs})
    figures.add(
        f"inclusion proof at {PROOF_LEAVES:,} leaves",
        f"{statistics.median(build) * 1e6:.1f} µs",
        f"median of {PROOF_SAMPLES:,}; {'-'.join(map(str, lengths))} hashes; in-memory levels",
    )
    figures.add("verify that inclusion proof", f"{statistics.median(check) * 1e6:.1f} µs", "median")
    sizes = [(random.randrange(1, PROOF_LEAVES), PROOF_LEAVES) for _ in range(200)]
    timings = [
        _timed(partial(merkle.consistency_proof, a, b, levels.subtree_hash)) for a, b in sizes
    ]
    longest = max(len(merkle.consistency_proof(a, b, levels.subtree_hash)) for a, b in sizes)
    figures.add(
        f"consistency proof to {PROOF_LEAVES:,} leaves",
        f"{statistics.median(timings) * 1e6:.1f} µs",
        f"median from random sizes; at most {longest} hashes",
    )


def run(console: Console) -> None:
    figures = Figures()
    began = time.perf_counter()
    signer = Signer.generate(ORIGIN)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        console.print(f"appending {APPEND_EVENTS:,} events to SQLite with signed checkpoints…")
        bench_signed_appends(workdir, signer, figures).dispose()
        bench_projection_appends(workdir, signer, figures)
        bench_sql_proofs(workdir, figures, console)
        bench_verification(workdir, signer, figures, console)
    bench_memory_proofs(figures, console)
    for row in audit_replay_bench.run(console):
        figures.add(*row)
    table = Table(title=f"Audit log ({os.cpu_count()} CPUs, {time.perf_counter() - began:.0f} s)")
    for column in ("measure", "figure", "note"):
        table.add_column(column)
    for row in figures.rows:
        table.add_row(*row)
    console.print(table)


def _timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def _percentile(values: list[float], percent: int) -> float:
    return sorted(values)[min(len(values) - 1, len(values) * percent // 100)]


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    run(Console())
