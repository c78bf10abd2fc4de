"""`kyodo up`: the whole platform on the embedded default, one process per service."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from shared.embedded_redis import EmbeddedRedis
from shared.settings import Settings


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def service_environment(settings: Settings, redis_url: str, *, demo: bool) -> dict[str, str]:
    environment = dict(os.environ)
    environment["KYODO_REDIS_URL"] = redis_url
    environment["KYODO_DATA_DIR"] = str(settings.data_dir.resolve())
    environment["KYODO_DEMO_DATA"] = "true" if demo else "false"
    return environment


def start_service(
    name: str, port: int, environment: dict[str, str], log_dir: Path
) -> RunningService:
    log = (log_dir / f"{name}.log").open("ab")
    command = [sys.executable, "-m", "shared.cli.main", "serve", name, "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
    return RunningService(name, port, process)


def wait_ready(services: list[RunningService], timeout: float = 60.0) -> list[str]:
    pending = {s.name: s for s in services}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, service in list(pending.items()):
            if service.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {service.process.returncode}; see var/logs")
            try:
                if httpx.get(f"{service.url}/health/ready", timeout=1).status_code == 200:
                    del pending[name]
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    return sorted(pending)


def write_endpoints(settings: Settings, redis_url: str, services: list[RunningService]) -> Path:
    path = settings.data_dir / "endpoints.json"
    document = {
        "redis": redis_url,
        "services": {s.name: {"url": s.url, "docs": f"{s.url}/docs"} for s in services},
    }
    staging = path.with_suffix(".json.tmp")
    staging.write_text(json.dumps(document, indent=2))
    staging.replace(path)  # readers never see a half-written file
    return path


def print_endpoints(console: Console, services: list[RunningService], redis_url: str) -> None:
    table = Table(title="Kyōdō (協働) is running")
    table.add_column("service")
    table.add_column("URL")
    table.add_column("API docs")
    for service in services:
        table.add_row(service.name, service.url, f"{service.url}/docs")
    table.add_row("redis (embedded)", redis_url, "")
    console.print(table)


@contextmanager
def running_platform(
    settings: Settings, *, demo: bool, timeout: float
) -> Iterator[tuple[list[RunningService], str]]:
    """Every discovered service in its own process beside an embedded redis-server."""
    from shared.cli.discovery import available_services

    (settings.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    redis = EmbeddedRedis(settings.data_dir / "redis")
    redis.start()
    environment = service_environment(settings, redis.url, demo=demo)
    services = [
        start_service(name, settings.ports[name], environment, settings.data_dir / "logs")
        for name in available_services()
    ]
    try:
        not_ready = wait_ready(services, timeout)
        if not_ready:
            raise RuntimeError(f"not ready after {timeout}s: {', '.join(not_ready)}")
        write_endpoints(settings, redis.url, services)
        yield services, redis.url
    finally:
        stop_all(services, redis)


def stop_all(services: list[RunningService], redis: EmbeddedRedis) -> None:
    for service in services:
        if service.process.poll() is None:
            service.process.send_signal(signal.SIGTERM)
    for service in services:
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
    redis.stop()
