"""Fund figures: donations per second through HTTP on PostgreSQL, and latency at 500/s.

The fund runs as ``kyodo serve fund --role api`` and ``--role workers`` do: the HTTP API in one
uvicorn process and its relay and consumers in another, on a fresh PostgreSQL schema (dropped
afterwards). The load generator (lean keep-alive connections, one request in flight on each)
runs in this process on the same machine. Every donation carries its own Idempotency-Key and gets a
receipt number; afterwards the receipts are checked for gaps.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import httpx
import sqlalchemy as sa
from redis.asyncio import Redis
from rich.console import Console
from rich.table import Table

from benchmarks.http_load import HttpConnection, post_request
from services.fund.events import DONATION_RECEIVED
from services.registry.app import onboard_builtin_wards
from shared.bus import OutboxRelay, StreamNames
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.eventstore import EventStore
from shared.eventstore.schema import events
from shared.settings import Settings
from shared.testing.services import postgres_url
from shared.web.auth import issue_token

WARDS = ("ota", "nerima")
FIELDS = {"ota": "environment", "nerima": "childcare"}
CLIENTS = 48
THROUGHPUT_DONATIONS = 12_000  # at most; the phase also stops after THROUGHPUT_SECONDS
THROUGHPUT_SECONDS = 15.0
FIXED_RATE = 500
FIXED_SECONDS = 8
WARMUP = 300


@dataclass
class Run:
    latencies_ms: list[float] = field(default_factory=list)
    failures: int = 0
    seconds: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every local PostgreSQL server process (0 where they cannot be read)."""
    total = 0.0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "postgres":
                total += process_cpu_seconds(int(comm.parent.name))
        except (OSError, ValueError):
            continue
    return total


class CpuMeter:
    """CPU seconds of the API process, the workers process, this one and the local PostgreSQL
    server since creation."""

    def __init__(self, api: int, workers: int) -> None:
        self.pids = (api, workers)
        self.start = self._now()

    def _now(self) -> tuple[float, float, float, float]:
        api, workers = (process_cpu_seconds(pid) for pid in self.pids)
        return api, workers, time.process_time(), postgres_cpu_seconds()

    def seconds(self) -> tuple[float, float, float, float]:
        now = self._now()
        api, workers, own, postgres = (a - b for a, b in zip(now, self.start, strict=True))
        return api, workers, own, postgres


def body(i: int) -> dict[str, object]:
    ward = WARDS[i % len(WARDS)]
    designation: dict[str, str] = (
        {"kind": "general"} if i % 3 else {"kind": "field", "field": FIELDS[ward]}
    )
    return {
        "amount_yen": 1_000 + (i % 97) * 100,
        "received_on": date.today().isoformat(),
        "designation": designation,
        "donor": {
            "kind": "person",
            "name": "寄附 太郎",
            "address": "東京都大田区蒲田5-13-14",
            "publish_name": i % 2 == 0,
        },
        "channel": "online",
    }


class Load:
    """Concurrent keep-alive connections (:mod:`benchmarks.http_load`), one request in flight on
    each; every donation has its own Idempotency-Key."""

    def __init__(self, port: int, settings: Settings) -> None:
        self.port = port
        self.connections: list[HttpConnection] = []
        self.tokens = {
            ward: f"Bearer {issue_token(settings, ward=ward, roles=['finance'])}" for ward in WARDS
        }

    async def open(self) -> None:
        opening = [HttpConnection("127.0.0.1", self.port).open() for _ in range(CLIENTS)]
        self.connections = list(await asyncio.gather(*opening))

    async def close(self) -> None:
        for connection in self.connections:
            connection.close()

    def request(self, i: int) -> bytes:
        ward = WARDS[i % len(WARDS)]
        headers = {"Authorization": self.tokens[ward], "Idempotency-Key": uuid.uuid4().hex}
        payload = json.dumps(body(i), ensure_ascii=False).encode()
        return post_request("127.0.0.1", f"/v1/wards/{ward}/donations", headers, payload)

    async def donate(self, connection: HttpConnection, i: int) -> bool:
        return await connection.send(self.request(i)) == 201

    async def closed_loop(self, total: int, start: int, seconds: float = 600.0) -> Run:
        """As fast as the server answers: every client sends its next request on an answer."""
        run, next_i = Run(), iter(range(start, start + total))
        deadline = time.perf_counter() + seconds

        async def worker(connection: HttpConnection) -> None:
            for i in next_i:
                if time.perf_counter() > deadline:
                    return
                began = time.perf_counter()
                ok = await self.donate(connection, i)
                if ok:
                    run.latencies_ms.append((time.perf_counter() - began) * 1000)
                else:
                    run.failures += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in self.connections))
        run.seconds = time.perf_counter() - began
        return run

    async def fixed_rate(self, rate: int, seconds: float, start: int) -> Run:
        """Open loop: request i is due at i/rate; its latency counts from when it was due."""
        run, total = Run(), int(rate * seconds)
        idle: asyncio.Queue[HttpConnection] = asyncio.Queue()
        for connection in self.connections:
            idle.put_nowait(connection)
        began = time.perf_counter()

        async def one(i: int, due: float) -> None:
            connection = await idle.get()
            try:
                ok = await self.donate(connection, start + i)
            finally:
                idle.put_nowait(connection)
            if ok:
                run.latencies_ms.append((time.perf_counter() - due) * 1000)
            else:
                run.failures += 1

        tasks = []
        for i in range(total):
            due = began + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        run.seconds = time.perf_counter() - began
        return run


async def publish_wards(settings: Settings, workdir: Path) -> None:
    """What the registry publishes at start: the built-in wards and their policy packs."""
    store = EventStore(Database(f"sqlite:///{workdir / 'registry.sqlite3'}"))
    await store.create_tables()
    await onboard_builtin_wards(store)
    redis = Redis.from_url(settings.redis_url)
    relay = OutboxRelay(store, redis, StreamNames(settings.stream_prefix, 8), service="registry")
    await relay.start()
    while await relay.publish_once():
        pass
    await redis.aclose()
    store.database.dispose()


async def wait_until_ready(base_url: str, server: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        for _ in range(600):
            if server.poll() is not None:
                raise RuntimeError("the fund server exited")
            try:
                statuses = [
                    (await client.get(f"/v1/wards/{ward}/fund/balances")).status_code
                    for ward in WARDS
                ]
                if statuses == [200] * len(WARDS):
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the fund server did not learn the wards in time")


def receipt_gaps(url: str, schema: str) -> tuple[int, list[str]]:
    """Receipts issued, and every receipt stream whose numbers are not exactly 1..n."""
    database = Database(url, schema=schema)
    query = (
        sa.select(events.c.stream_id, events.c.version, events.c.body)
        .where(events.c.event_type == DONATION_RECEIVED)
        .order_by(events.c.stream_id, events.c.version)
    )
    with database.engine.connect() as connection:
        rows = connection.execute(query).all()
    database.dispose()
    by_stream: dict[str, list[int]] = {}
    for stream, version, _body in rows:
        by_stream.setdefault(stream, []).append(int(version))
    gaps = [s for s, numbers in by_stream.items() if numbers != list(range(1, len(numbers) + 1))]
    return len(rows), gaps


async def measure(console: Console, url: str, schema: str) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis_server:
        workdir = Path(tmp)
        settings = Settings(redis_url=redis_server.url, stream_prefix="fundbench", data_dir=workdir)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "benchmarks.fund_server", str(port), url, schema]
        command += [redis_server.url, settings.stream_prefix, str(workdir)]
        server = subprocess.Popen([*command, "api"])
        workers = subprocess.Popen([*command[:3], str(free_port()), *command[4:], "workers"])
        load = Load(port, settings)
        try:
            await publish_wards(settings, workdir)
            await wait_until_ready(base_url, server)
            await load.open()
            warm = await load.closed_loop(WARMUP, 0)
            console.print(
                f"donations for {THROUGHPUT_SECONDS:.0f} s, {CLIENTS} concurrent clients…"
            )
            cpu = CpuMeter(server.pid, workers.pid)
            busy = await load.closed_loop(THROUGHPUT_DONATIONS, WARMUP, THROUGHPUT_SECONDS)
            api_cpu, workers_cpu, own_cpu, postgres_cpu = cpu.seconds()
            await asyncio.sleep(1.0)
            console.print(f"{FIXED_RATE} donations/s for {FIXED_SECONDS} s…")
            steady = await load.fixed_rate(FIXED_RATE, FIXED_SECONDS, WARMUP + THROUGHPUT_DONATIONS)
        finally:
            await load.close()
            for process in (server, workers):
                process.terminate()
                process.wait(timeout=30)
        issued, gaps = receipt_gaps(url, schema)
    accepted = warm.done + busy.done + steady.done
    refused = warm.failures + busy.failures + steady.failures
    rate = busy.done / busy.seconds
    return [
        (
            "donations/s through HTTP",
            f"{rate:,.0f} /s",
            f"{busy.done:,} in {busy.seconds:.1f} s, {CLIENTS} clients (target ≥ 1,200/s)",
        ),
        ("  latency p50 / p99", f"{busy.percentile(0.5):.1f} / {busy.percentile(0.99):.1f} ms", ""),
        (
            "  CPU per donation",
            f"{api_cpu / busy.done * 1e6:,.0f} µs API",
            f"{workers_cpu / busy.done * 1e6:,.0f} µs relay and consumer process (in the same "
            f"seconds), {postgres_cpu / busy.done * 1e6:,.0f} µs PostgreSQL, "
            f"{own_cpu / busy.done * 1e6:,.0f} µs load generator",
        ),
        (
            f"p99 at {FIXED_RATE} donations/s",
            f"{steady.percentile(0.99):.1f} ms",
            f"p50 {steady.percentile(0.5):.1f} ms, achieved {steady.done / steady.seconds:,.0f}/s "
            "(target ≤ 30 ms)",
        ),
        (
            "receipt numbers",
            "no gaps" if not gaps and issued == accepted else f"GAPS in {gaps}",
            f"{issued:,} receipts, 1..n per ward and fiscal year, for {accepted:,} accepted "
            f"donations ({refused} refused)",
        ),
    ]


def run(console: Console) -> None:
    url = postgres_url()
    schema = f"bench_fund_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as error:
        console.print(f"fund benchmark skipped: no PostgreSQL ({error})")
        admin.dispose()
        return
    try:
        rows = asyncio.run(measure(console, url, schema))
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    table = Table(title="Fund: donations over HTTP on PostgreSQL (2-core machine, load included)")
    for column in ("measure", "figure", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
