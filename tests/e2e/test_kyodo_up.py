"""`kyodo up` on the embedded default: real processes, an embedded redis-server, SQLite files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.cli.discovery import available_services
from shared.testing.http import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"kyodo up exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("kyodo up did not become ready")
        time.sleep(0.2)


def test_up_runs_every_service_and_stops_cleanly(tmp_path: Path) -> None:
    services = list(available_services())
    assert "registry" in services
    ports = {name: free_port() for name in services}
    environment = {**os.environ, "KYODO_PORTS": json.dumps(ports)}
    command = [sys.executable, "-m", "shared.cli.main", "up", "--data-dir", str(tmp_path)]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE)
    try:
        wait_for(tmp_path / "endpoints.json", process)
        endpoints = json.loads((tmp_path / "endpoints.json").read_text())
        assert set(endpoints["services"]) == set(services)
        for name, entry in endpoints["services"].items():
            assert entry["url"] == f"http://127.0.0.1:{ports[name]}"
            assert httpx.get(f"{entry['url']}/health/ready", timeout=5).status_code == 200
        wards = httpx.get(f"{endpoints['services']['registry']['url']}/v1/wards", timeout=5).json()
        assert {w["ward"] for w in wards} >= {"nerima", "ota"}
        assert (tmp_path / "registry.sqlite3").exists()
        assert list((tmp_path / "redis").glob("appendonly*")), "the embedded Redis keeps an AOF"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    for port in ports.values():
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=2)
