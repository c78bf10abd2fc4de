"""A replay in several processes stopped from outside, by its caller or by a kill: every group
gives up, nothing it built stays, and no replay process outlives the replay that started it."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared.audit import parallel
from shared.audit.replay import Progress, SignedLog
from shared.audit.staging import SCRATCH_PREFIX, remove_abandoned_scratch
from shared.events.envelope import EventEnvelope
from shared.service import ServiceSpec
from shared.testing.probe import ProbeProjection
from tests.unit.audit.test_projection import event
from tests.unit.audit.test_replay import signed_as_they_are

PACE = "KYODO_TEST_REPLAY_PACE"
"""Seconds each chunk takes to apply, in this process and in the replay processes."""
LEAVES = "KYODO_TEST_REPLAY_LEAVES"
REPOSITORY = Path(__file__).resolve().parents[3]
GONE_WITHIN = 10.0
"""Seconds a replay process has to end once its replay was killed."""


class PacedProbe(ProbeProjection):
    def apply(self, connection: sa.Connection, batch: Sequence[EventEnvelope]) -> None:
        time.sleep(float(os.environ.get(PACE, "0")))
        super().apply(connection, batch)


def paced_specs() -> dict[str, ServiceSpec]:
    """Two services: the first replays in the caller's process, the other in a process of its
    own."""
    return {
        name: ServiceSpec(name=name, title=name, projections=[PacedProbe()], consumes=["test"])
        for name in ("here", "there")
    }


def paced_log() -> SignedLog:
    return signed_as_they_are([event(n).to_json() for n in range(int(os.environ[LEAVES]))])


async def paced_replay(target: Path, progress: Progress | None = None) -> None:
    specs = paced_specs()
    await parallel.replay(
        paced_log(), specs, target, progress=progress, load_specs=paced_specs, processes=2, batch=4
    )


def replay_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if "_replay_job" in repr(task.get_coro())]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="several processes need several CPUs")
@pytest.mark.parametrize(
    ("leaves", "pace"),
    [(1_200, 0.02), (20_000, 0.001)],
    ids=["slow chunks", "more reports than a pipe holds"],
)
async def test_a_cancelled_replay_stops_every_group_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaves: int, pace: float
) -> None:
    """Each group would take seconds; the caller gives up after one and a half."""
    monkeypatch.setenv(LEAVES, str(leaves))
    monkeypatch.setenv(PACE, str(pace))
    collector = gc.get_threshold(), gc.get_freeze_count()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(paced_replay(tmp_path / "target"), 1.5)
    assert replay_tasks() == []
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector
    assert not (tmp_path / "target").exists()
    assert multiprocessing.active_children() == []


def replay_until_killed(target: str) -> None:
    """Run by the test in an interpreter of its own: prints the ids of its replay processes
    once they run, then replays until it is killed."""
    printed = False

    def progress(_done: int, _total: int) -> None:
        nonlocal printed
        children = multiprocessing.active_children()
        if children and not printed:
            print(" ".join(str(child.pid) for child in children), flush=True)
            printed = True

    asyncio.run(paced_replay(Path(target), progress))


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, ended but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_replay_process_ends_with_the_replay_that_started_it(tmp_path: Path) -> None:
    target = tmp_path / "target"
    code = f"from {__name__} import replay_until_killed; replay_until_killed({str(target)!r})"
    environment = {**os.environ, LEAVES: "1200", PACE: "0.05"}
    with subprocess.Popen(
        [sys.executable, "-c", code], cwd=REPOSITORY, env=environment, stdout=subprocess.PIPE
    ) as replay:
        assert replay.stdout is not None
        replay_processes = [int(pid) for pid in replay.stdout.readline().split()]
        replay.kill()
    assert replay_processes
    deadline = time.monotonic() + GONE_WITHIN
    while any(map(running, replay_processes)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(running, replay_processes))
    (scratch,) = target.glob(f"{SCRATCH_PREFIX}*")
    assert remove_abandoned_scratch(target) == [scratch]
    assert list(target.iterdir()) == []
