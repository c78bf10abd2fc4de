"""Replay rate of the audit log into the registry's real read models, and its peak memory.

A log of registry events shaped like the service's own (a ward onboarded, then per actor:
registered, verified, profile updated, an activity announced) is written to an audit SQLite
file with a signed checkpoint per 1,000 events, then replayed by `shared.audit.replay` through
the registry's projection. Each replay runs in a fresh process so that its peak RSS is its own.
"""

from __future__ import annotations

import multiprocessing
import resource
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from services.registry.app import SPEC as REGISTRY_SPEC
from services.registry.commands import OnboardWard
from services.registry.policy import builtin_pack
from services.registry.wards import decide_onboard
from shared.audit.checkpoint import issue_checkpoint, origin_for_ward
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.replay import replay_log
from shared.audit.sources import log_from_database
from shared.audit.sql import SqlLogStore, create_audit_tables
from shared.db import create_sync_engine
from shared.events.envelope import EventEnvelope
from shared.projections.writes import upsert
from shared.service import ServiceSpec

WARD = "nerima"
PREFIX = "kyodo.example/audit"
BATCH = 1000
START = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)


def registry_events(count: int, *, phased: bool = False) -> Iterator[dict[str, Any]]:
    """``count`` registry envelopes (plain JSON), the ward's onboarding first. Interleaved: each
    actor's four events in a row. Phased: every actor registers, then every actor is verified,
    and so on, as after a registration drive."""
    (onboarded,) = decide_onboard(None, OnboardWard(pack=builtin_pack(WARD)))
    yield _envelope(0, "ward-nerima", 1, "registry.WardOnboarded", onboarded.data)
    actors = (count - 1 + 3) // 4
    for position in range(1, count):
        if phased:
            step, number = divmod(position - 1, actors)
        else:
            number, step = divmod(position - 1, 4)
        actor_id = str(uuid.UUID(int=number + 1))
        event_type, data = _actor_event(step, number, actor_id)
        yield _envelope(position, f"actor-{actor_id}", step + 1, event_type, data)


def _actor_event(step: int, number: int, actor_id: str) -> tuple[str, dict[str, Any]]:
    name = f"練馬第{number}町会"
    if step == 0:
        return "registry.ActorRegistered", {
            "actor_id": actor_id,
            "kind": "neighbourhood_association",
            "individual": False,
            "corporate_number": None,
            "name": name,
            "name_kana": f"ネリマダイ{number}チョウカイ",
            "fields": ["safety", "community_development"],
            "area": "光が丘",
            "description": "防災訓練と高齢者の見守りをしています。",
            "website": None,
            "personal": {"representative": {"name": "田中 一郎", "name_kana": "タナカ イチロウ"}},
        }
    if step == 1:
        return "registry.ActorVerified", {
            "actor_id": actor_id,
            "kind": "neighbourhood_association",
            "individual": False,
            "corporate_number": None,
            "name": name,
            "fields": ["safety", "community_development"],
            "note": None,
        }
    if step == 2:
        return "registry.ActorProfileUpdated", {"actor_id": actor_id, "changes": {"area": "早宮"}}
    return "registry.ActivityAnnounced", {
        "activity_id": str(uuid.UUID(int=10**9 + number)),
        "actor_id": actor_id,
        "kind": "event",
        "title": "防災訓練",
        "description": "地域の防災訓練です。",
        "fields": ["safety"],
        "starts_on": "2026-05-10",
        "ends_on": None,
        "venue": "光が丘公園",
        "url": None,
    }


def _envelope(
    position: int, stream_id: str, version: int, event_type: str, data: dict[str, Any]
) -> dict[str, Any]:
    moment = (START + timedelta(seconds=position)).isoformat().replace("+00:00", "Z")
    return {
        "event_id": str(uuid.UUID(int=2**100 + position)),
        "event_type": event_type,
        "schema_version": 1,
        "ward": WARD,
        "stream_id": stream_id,
        "version": version,
        "position": position + 1,
        "occurred_at": moment,
        "recorded_at": moment,
        "actor": {"subject": "staff@nerima", "role": "staff"},
        "correlation_id": str(uuid.UUID(int=position)),
        "causation_id": None,
        "traceparent": None,
        "policy_version": 1,
        "data": data,
    }


def write_audit_log(path: Path, signer: Signer, count: int, *, phased: bool) -> None:
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        create_audit_tables(connection)
    batch: list[dict[str, Any]] = []
    for envelope in registry_events(count, phased=phased):
        batch.append(envelope)
        if len(batch) == BATCH:
            _append(engine, signer, batch)
            batch = []
    if batch:
        _append(engine, signer, batch)
    engine.dispose()


def _append(engine: sa.Engine, signer: Signer, batch: list[dict[str, Any]]) -> None:
    with engine.begin() as connection:
        log = AuditLog(SqlLogStore(connection, WARD))
        log.append(batch)
        issue_checkpoint(log, [signer], origin=origin_for_ward(WARD, PREFIX))


counts_metadata = sa.MetaData()
event_counts = sa.Table(
    "bench_event_counts",
    counts_metadata,
    sa.Column("event_type", sa.String(100), primary_key=True),
    sa.Column("events", sa.Integer, nullable=False),
)


class CountingProjection:
    """A minimal read model (events per type, one upsert per batch): what replay itself costs."""

    name = "counting"
    metadata = counts_metadata

    def handles(self, event_type: str) -> bool:
        return True

    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        per_type = Counter(envelope.event_type for envelope in batch)
        rows = [{"event_type": t, "events": n} for t, n in per_type.items()]
        upsert(connection, event_counts, rows, keys=["event_type"], increment=["events"])


SPECS = {
    "registry": REGISTRY_SPEC,
    "counting": ServiceSpec(
        name="counting", title="counting", projections=[CountingProjection()], consumes=["registry"]
    ),
}


def replay_in_this_process(
    audit_path: str, key: str, target: str, spec: str
) -> tuple[int, float, float, int]:
    """(events applied, seconds, CPU seconds, peak RSS in KiB) of one replay."""
    import asyncio

    engine = create_sync_engine(f"sqlite:///{audit_path}", writer=False)
    verifier = Signer.from_key_string(key).verifier()
    log = log_from_database(engine, WARD, [verifier], PREFIX)
    cpu_began = time.process_time()
    result = asyncio.run(replay_log(log, {spec: SPECS[spec]}, Path(target)))
    cpu = time.process_time() - cpu_began
    engine.dispose()
    return result.applied, result.seconds, cpu, peak_rss_kib()


def peak_rss_kib() -> int:
    """This process's own high-water RSS (getrusage would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(
    count: int, workdir: Path, signer: Signer, *, phased: bool, spec: str
) -> tuple[int, float, float, int]:
    name = f"{count}-{'phased' if phased else 'interleaved'}"
    audit_path = workdir / f"audit-{name}.sqlite3"
    if not audit_path.exists():
        write_audit_log(audit_path, signer, count, phased=phased)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        target = str(workdir / f"replay-{name}-{spec}")
        arguments = (str(audit_path), signer.key_string(), target, spec)
        return pool.apply(replay_in_this_process, arguments)


RUNS = (
    (20_000, True, "counting"),
    (80_000, True, "counting"),
    (20_000, True, "registry"),
    (80_000, True, "registry"),
    (8_000, False, "registry"),
)


def run(
    console: Console, runs: tuple[tuple[int, bool, str], ...] = RUNS
) -> list[tuple[str, str, str]]:
    signer = Signer.generate(PREFIX)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for count, phased, spec in runs:
            order = "phased" if phased else "interleaved"
            console.print(f"replaying {count:,} registry events ({order}) into {spec}…")
            applied, seconds, cpu, peak_kib = measure(
                count, Path(tmp), signer, phased=phased, spec=spec
            )
            rows.append(
                (
                    f"replay {applied:,} registry events ({order}) into the {spec} read model",
                    f"{applied / seconds:,.0f} events/s",
                    f"from the audit SQLite file, root checked; {cpu / applied * 1e6:.0f} µs CPU "
                    f"per event; replay process peak RSS {peak_kib / 1024:.0f} MiB",
                )
            )
    return rows


if __name__ == "__main__":
    console = Console()
    for row in run(console):
        console.print(row)
