"""A replay in several processes stopped from outside, by its caller or by a kill: every group
gives up, nothing it built stays, and no replay process outlives the replay that started it."""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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
"""Seconds a replay process has to end once its replay was killed, and a killed replay has to
say which processes it started."""
GIVEN_UP_WITHIN = 10.0
"""Seconds a cancelled replay has to return, where each group would take 30 or more."""
SEVERAL_CPUS = pytest.mark.skipif(
    (os.cpu_count() or 1) < 2, reason="several processes need several CPUs"
)


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


async def paced_replay(target: Path, log: SignedLog, progress: Progress | None = None) -> None:
    specs = paced_specs()
    await parallel.replay(
        log, specs, target, progress=progress, load_specs=paced_specs, processes=2, batch=4
    )


@SEVERAL_CPUS
@pytest.mark.parametrize(
    ("leaves", "pace"), [(6_000, 0.02), (60_000, 0.002)], ids=["slow chunks", "many chunks"]
)
async def test_a_cancelled_replay_stops_every_group_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, leaves: int, pace: float
) -> None:
    """Each group would take half a minute; the caller gives up after one and a half seconds."""
    monkeypatch.setenv(LEAVES, str(leaves))
    monkeypatch.setenv(PACE, str(pace))
    collector = gc.get_threshold(), gc.get_freeze_count()
    log = paced_log()
    tasks, children = asyncio.all_tasks(), multiprocessing.active_children()
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(paced_replay(tmp_path / "target", log), 1.5)
    assert time.monotonic() - began < GIVEN_UP_WITHIN
    assert asyncio.all_tasks() == tasks
    assert (gc.get_threshold(), gc.get_freeze_count()) == collector
    assert not (tmp_path / "target").exists()
    assert multiprocessing.active_children() == children


def replay_until_killed(target: str) -> None:
    """Run by the test in an interpreter of its own: prints the ids of its replay processes
    once every group has applied a chunk (so each holds its lock), then replays on."""
    printed = False

    def progress(done: int, _total: int) -> None:
        nonlocal printed
        children = multiprocessing.active_children()
        if done and children and not printed:
            print(" ".join(str(child.pid) for child in children), flush=True)
            printed = True

    asyncio.run(paced_replay(Path(target), paced_log(), progress))


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, ended but not reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


@contextmanager
def replay_in_its_own_session(target: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A paced replay in a new session, killed with every process of it on the way out."""
    code = f"from {__name__} import replay_until_killed; replay_until_killed({str(target)!r})"
    environment = {**os.environ, LEAVES: "1200", PACE: "0.05"}
    replay = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield replay
    finally:
        with suppress(ProcessLookupError):
            os.killpg(replay.pid, signal.SIGKILL)
        replay.wait()
        if replay.stdout is not None:
            replay.stdout.close()


def first_line(replay: subprocess.Popen[bytes], within: float) -> bytes:
    assert replay.stdout is not None
    readable, _, _ = select.select([replay.stdout], [], [], within)
    assert readable, f"the replay printed nothing in {within} s"
    return replay.stdout.readline()


def swept_once_free(target: Path, within: float) -> list[Path]:
    """The scratch directories the next replay would sweep, once the killed one's are free."""
    deadline = time.monotonic() + within
    while not (removed := remove_abandoned_scratch(target)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return removed


@SEVERAL_CPUS
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads process states from /proc")
def test_a_replay_process_ends_with_the_replay_that_started_it(tmp_path: Path) -> None:
    target = tmp_path / "target"
    with replay_in_its_own_session(target) as replay:
        replay_processes = [int(pid) for pid in first_line(replay, GONE_WITHIN).split()]
        (scratch,) = target.glob(f"{SCRATCH_PREFIX}*")
        assert remove_abandoned_scratch(target) == []  # locked by the replay and its processes
        replay.kill()
        assert replay_processes
        assert swept_once_free(target, GONE_WITHIN) == [scratch]
        assert not any(map(running, replay_processes))
        assert list(target.iterdir()) == []
