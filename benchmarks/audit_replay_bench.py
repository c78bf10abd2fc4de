"""Replay rate of the audit log into the registry's real read models, and its peak memory.

A log of registry events shaped like the service's own (a ward onboarded, then per actor:
registered, verified, profile updated, an activity announced) is written to an audit SQLite
file with a signed checkpoint per 1,000 events, then replayed by `shared.audit.replay` through
the registry's projection. Each replay runs in a fresh process so that its peak RSS is its own.

A mixed log (registry events and fund donations decided by the fund's own functions, in turn)
is replayed into the registry's and the fund's read models, in one process and in one process
per service; there the CPU and peak RSS of the replay processes are reported too.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import resource
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console

from services.fund.commands import ReceiveDonation
from services.fund.donations import decide_donation, receipt_fiscal_year, with_receipt
from services.fund.projections import projection as fund_projection
from services.registry.app import SPEC as REGISTRY_SPEC
from services.registry.commands import OnboardWard
from services.registry.policy import builtin_pack
from services.registry.wards import decide_onboard
from shared.audit.checkpoint import issue_checkpoint, origin_for_ward
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.parallel import replay
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
DONATION_AFTER = 4
"""Registry events between two donations in the mixed log."""


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


def donation_events(count: int) -> Iterator[dict[str, Any]]:
    """``count`` fund donations (general, from people), as the fund decides and numbers them."""
    for number in range(count):
        donation_id = str(uuid.UUID(int=2**64 + number))
        command = ReceiveDonation.model_validate(
            {
                "ward": WARD,
                "donation_id": donation_id,
                "amount_yen": 1000 + number % 50 * 100,
                "received_on": "2026-04-02",
                "designation": {"kind": "general"},
                "donor": {
                    "kind": "person",
                    "name": "山田 花子",
                    "address": "東京都練馬区",
                    "publish_name": number % 2 == 0,
                },
            }
        )
        received = decide_donation(command)
        data = with_receipt(WARD, receipt_fiscal_year(command))(received.data, number + 1)
        envelope = _envelope(number, f"donation-{donation_id}", 1, received.event_type, data)
        yield {**envelope, "event_id": str(uuid.UUID(int=2**101 + number))}


def mixed_events(count: int) -> Iterator[dict[str, Any]]:
    """Registry events (phased) with a fund donation after every ``DONATION_AFTER``; each
    service's events keep their own store's positions. A donation costs the fund's read model
    several times what a registry event costs the registry's: this mix gives the two replay
    processes about as much work each."""
    donations = count // (DONATION_AFTER + 1)
    registry = registry_events(count - donations, phased=True)
    fund = donation_events(donations)
    for number, envelope in enumerate(registry):
        yield envelope
        if number % DONATION_AFTER == DONATION_AFTER - 1:
            yield from islice(fund, 1)
    yield from fund


def write_audit_log(path: Path, signer: Signer, envelopes: Iterator[dict[str, Any]]) -> None:
    engine = create_sync_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        create_audit_tables(connection)
    batch: list[dict[str, Any]] = []
    for envelope in envelopes:
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
    "fund": ServiceSpec(
        name="fund",
        title="fund",
        projections=[fund_projection],
        consumes=["registry", "proposals", "fund"],
    ),
}
MIXED = ("fund", "registry")
PEAKS = "KYODO_BENCH_PEAKS"
"""Where each replay process of a parallel replay writes its peak RSS as it exits."""


def bench_specs() -> dict[str, ServiceSpec]:
    """The specs, as each replay process of a parallel replay finds them again; the process
    writes its own peak RSS when it exits (getrusage would give the parent's)."""
    peaks = os.environ.get(PEAKS)
    if peaks:
        multiprocessing.util.Finalize(None, _write_peak, args=(Path(peaks),), exitpriority=0)
    return SPECS


def _write_peak(peaks: Path) -> None:
    (peaks / str(os.getpid())).write_text(str(peak_rss_kib()))


def replay_in_this_process(
    audit_path: str, key: str, target: str, specs: tuple[str, ...], processes: int
) -> tuple[int, float, float, int, int]:
    """(events applied, seconds, CPU seconds of every process, peak RSS in KiB of this
    process and the largest of its replay processes) of one replay."""
    import asyncio

    engine = create_sync_engine(f"sqlite:///{audit_path}", writer=False)
    verifier = Signer.from_key_string(key).verifier()
    log = log_from_database(engine, WARD, [verifier], PREFIX)
    chosen = {name: SPECS[name] for name in specs}
    peaks = Path(target) / "peaks"
    peaks.mkdir(parents=True)
    os.environ[PEAKS] = str(peaks)
    cpu_began = time.process_time() + children_cpu()
    result = asyncio.run(
        replay(log, chosen, Path(target), load_specs=bench_specs, processes=processes)
    )
    cpu = time.process_time() + children_cpu() - cpu_began
    engine.dispose()
    children = max((int(path.read_text()) for path in peaks.iterdir()), default=0)
    return result.applied, result.seconds, cpu, peak_rss_kib(), children


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def peak_rss_kib() -> int:
    """This process's own high-water RSS (getrusage would include the parent's before exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(
    log: str, count: int, workdir: Path, signer: Signer, specs: tuple[str, ...], processes: int
) -> tuple[int, float, float, int, int]:
    audit_path = workdir / f"audit-{count}-{log}.sqlite3"
    if not audit_path.exists():
        write_audit_log(audit_path, signer, LOGS[log](count))
    # A process pool's workers may start processes of their own (multiprocessing.Pool's may not).
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        target = str(workdir / f"replay-{count}-{log}-{'-'.join(specs)}-{processes}-{time.time()}")
        arguments = (str(audit_path), signer.key_string(), target, specs, processes)
        return pool.submit(replay_in_this_process, *arguments).result()


LOGS = {
    "phased": lambda count: registry_events(count, phased=True),
    "interleaved": lambda count: registry_events(count, phased=False),
    "mixed": mixed_events,
}
RUNS = (
    ("phased", 20_000, ("counting",), 1),
    ("phased", 80_000, ("counting",), 1),
    ("phased", 20_000, ("registry",), 1),
    ("phased", 80_000, ("registry",), 1),
    ("interleaved", 8_000, ("registry",), 1),
    ("mixed", 80_000, MIXED, 2),
    ("mixed", 80_000, MIXED, 1),
    ("mixed", 80_000, MIXED, 2),
    ("mixed", 80_000, MIXED, 1),
    ("mixed", 400_000, MIXED, 2),
)
"""(log, events, read models, processes); the mixed runs alternate between the two ways, and
the last shows memory that does not grow with the log."""


def run(
    console: Console, runs: tuple[tuple[str, int, tuple[str, ...], int], ...] = RUNS
) -> list[tuple[str, str, str]]:
    signer = Signer.generate(PREFIX)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for log, count, specs, processes in runs:
            into = " and ".join(specs)
            console.print(f"replaying {count:,} {log} events into {into} in {processes}…")
            figures = measure(log, count, Path(tmp), signer, specs, processes)
            rows.append(_row(log, specs, processes, *figures))
    return rows


def _row(
    log: str,
    specs: tuple[str, ...],
    processes: int,
    applied: int,
    seconds: float,
    cpu: float,
    peak_kib: int,
    children_peak_kib: int,
) -> tuple[str, str, str]:
    events = "mixed events (registry, fund)" if log == "mixed" else f"registry events ({log})"
    where = f"the {' and '.join(specs)} read model{'s' if len(specs) > 1 else ''}"
    how = f" in {processes} process{'es' if processes > 1 else ''}" if log == "mixed" else ""
    memory = f"replay process peak RSS {peak_kib / 1024:.0f} MiB"
    if children_peak_kib:
        memory += f", each of its replay processes at most {children_peak_kib / 1024:.0f} MiB"
    return (
        f"replay {applied:,} {events} into {where}{how}",
        f"{applied / seconds:,.0f} events/s",
        f"from the audit SQLite file, root checked; {cpu / applied * 1e6:.0f} µs CPU "
        f"per event; {memory}",
    )


if __name__ == "__main__":
    console = Console()
    for row in run(console):
        console.print(row)
