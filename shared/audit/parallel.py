"""Replay in several processes: each replays a group of services from its own read of the log.

The first group is replayed in this process, each other group in a fresh process of its own,
so the first does not wait for an interpreter to start and import the services (about a
second). Every process reads and hashes the whole log and checks the signed root, as a replay
in one process does, but parses only the leaves its services consume. Each leaf also has one owner
process (the first whose services consume its service, else the first), which parses it even
when none of its services consume it and counts it as applied: so every selected leaf is still
parsed, checked for its ward and counted exactly once. Each service sees the same chunks of
the same events as in one process, so its read models, digests and positions are identical.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import TypeAlias

import orjson

from shared.audit.envelopes import envelope_at
from shared.audit.errors import ReplayError
from shared.audit.replay import (
    DEFAULT_BATCH,
    Pick,
    Progress,
    ReplayResult,
    Selection,
    ServiceReplay,
    SignedLog,
    moved_into,
    replay_log,
    replay_services,
    replayed_services,
    selected_envelopes,
    selected_size,
)
from shared.audit.staging import holding, staged
from shared.events.envelope import EventEnvelope, service_of
from shared.service import ServiceSpec

SpecLoader = Callable[[], Mapping[str, ServiceSpec]]
"""Finds the services' specs again in a fresh process: a module-level function (picklable)."""
PARALLEL_FROM_ENTRIES = 50_000
"""The smallest signed log replayed in several processes unless they are asked for: the groups
replayed elsewhere start a second or more late (a fresh interpreter importing every service),
as long as one process takes to replay some 20,000 events."""
PROGRESS_EVERY = 0.1
"""Seconds between two looks at the processes' progress."""


@dataclass(frozen=True, slots=True)
class Share:
    """The leaves process ``index`` parses and counts, given what each process consumes."""

    index: int
    consumed: tuple[frozenset[str], ...]

    def owner(self, service: str) -> int:
        return next((i for i, sources in enumerate(self.consumed) if service in sources), 0)

    def parses(self, service: str) -> bool:
        return service in self.consumed[self.index] or self.owner(service) == self.index

    def counts(self, service: str) -> bool:
        return self.owner(service) == self.index


@dataclass(frozen=True, slots=True)
class GroupJob:
    log: SignedLog
    services: tuple[str, ...]
    load_specs: SpecLoader
    target: Path
    selection: Selection
    batch: int
    share: Share


@dataclass(frozen=True, slots=True)
class GroupOutcome:
    services: list[ServiceReplay]
    applied: int


_Reports: TypeAlias = "queue.SimpleQueue[tuple[int, int]] | multiprocessing.Queue[tuple[int, int]]"


class _Stopped(Exception):
    """Another process of the replay failed; this one gave up."""


async def replay(
    log: SignedLog,
    specs: Mapping[str, ServiceSpec],
    target: Path,
    selection: Selection | None = None,
    progress: Progress | None = None,
    *,
    load_specs: SpecLoader | None = None,
    processes: int | None = None,
    batch: int = DEFAULT_BATCH,
) -> ReplayResult:
    """Like ``replay_log``, in up to ``processes`` processes (``process_count``) when two or
    more services have projections, the log can be read again elsewhere and ``load_specs``
    finds the specs there; in this process otherwise (``processes=1`` forces it). Without
    ``processes``, a log smaller than PARALLEL_FROM_ENTRIES is replayed in this process."""
    selection = selection or Selection()
    if processes is None and log.checkpoint.tree_size < PARALLEL_FROM_ENTRIES:
        processes = 1
    groups = service_groups(specs, process_count(processes))
    portable = log.portable
    if len(groups) < 2 or portable is None or load_specs is None:
        return await replay_log(log, specs, target, selection, progress, batch=batch)
    started = time.perf_counter()
    signed = log.checkpoint.tree_size
    selected_size(selection, signed)
    readable = SignedLog(log.ward, log.checkpoint, portable, portable)
    with staged(target, replayed_services(specs)) as scratch:
        jobs = _jobs(readable, specs, groups, load_specs, scratch, selection, batch)
        outcomes = await _run(jobs, specs, signed, progress)
    services = sorted((s for outcome in outcomes for s in outcome.services), key=_name)
    applied = sum(outcome.applied for outcome in outcomes)
    elapsed = time.perf_counter() - started
    return ReplayResult(log.ward, signed, applied, moved_into(target, services), elapsed)


def process_count(processes: int | None) -> int:
    """``processes`` (default: one per CPU), at most one per CPU."""
    cpus = os.cpu_count() or 1
    return min(processes or cpus, cpus)


def service_groups(specs: Mapping[str, ServiceSpec], processes: int) -> list[tuple[str, ...]]:
    """The services with projections, dealt round-robin by name to at most ``processes``."""
    names = replayed_services(specs)
    count = max(1, min(len(names), processes))
    return [tuple(names[index::count]) for index in range(count) if names[index::count]]


def _jobs(
    log: SignedLog,
    specs: Mapping[str, ServiceSpec],
    groups: Sequence[tuple[str, ...]],
    load_specs: SpecLoader,
    target: Path,
    selection: Selection,
    batch: int,
) -> list[GroupJob]:
    consumed = tuple(frozenset(s for n in group for s in specs[n].consumes) for group in groups)
    return [
        GroupJob(log, group, load_specs, target, selection, batch, Share(index, consumed))
        for index, group in enumerate(groups)
    ]


async def _run(
    jobs: Sequence[GroupJob],
    specs: Mapping[str, ServiceSpec],
    signed: int,
    progress: Progress | None,
) -> list[GroupOutcome]:
    """The first job here, with ``specs``; each other in a process that finds them again."""
    context = multiprocessing.get_context("spawn")
    reports: multiprocessing.Queue[tuple[int, int]] = context.Queue()
    stop = context.Event()
    here, *elsewhere = jobs
    with ProcessPoolExecutor(
        len(elsewhere), mp_context=context, initializer=_remember, initargs=(reports, stop)
    ) as pool:
        loop = asyncio.get_running_loop()
        started = [loop.run_in_executor(pool, replay_group, job) for job in elsewhere]
        # This process's reports stay in it: were it to write into the processes' pipe, a
        # worker killed while holding the pipe's lock would block its writer thread for good.
        mine: queue.SimpleQueue[tuple[int, int]] = queue.SimpleQueue()
        local = asyncio.ensure_future(
            _replay_job(here, specs, _reporter(here.share.index, mine.put, stop))
        )
        futures = [local, *started]
        try:
            await _follow(futures, (mine, reports), stop, signed, progress)
        except BaseException:
            await _settle(futures, (mine, reports), stop, signed)
            raise
    failures = [error for future in futures if (error := _failure(future)) is not None]
    if failures:
        raise failures[0]
    return [future.result() for future in futures]


async def _follow(
    futures: Sequence[asyncio.Future[GroupOutcome]],
    sources: Sequence[_Reports],
    stop: Event,
    signed: int,
    progress: Progress | None,
) -> None:
    """Until every process is done: the least any has read as progress, and a stop for all
    once one has failed."""
    read = [0] * len(futures)
    pending = set(futures)
    while pending:
        done, pending = await asyncio.wait(pending, timeout=PROGRESS_EVERY)
        if any(future.cancelled() or future.exception() is not None for future in done):
            stop.set()
        for reports in sources:
            while True:
                try:
                    index, count = reports.get_nowait()
                except queue.Empty:
                    break
                read[index] = count
        if progress:
            progress(min(read), signed)


async def _settle(
    futures: Sequence[asyncio.Future[GroupOutcome]],
    sources: Sequence[_Reports],
    stop: Event,
    signed: int,
) -> None:
    """After the caller was cancelled (or ``progress`` failed): every process, this one's too,
    gives up at its next chunk, and the reports are still read until all have, so that none
    blocks on a full pipe and the pool's shutdown returns; a further cancellation waits too."""
    stop.set()
    while not all(future.done() for future in futures):
        try:
            await _follow(futures, sources, stop, signed, None)
        except asyncio.CancelledError:
            continue
    for future in futures:
        if not future.cancelled():
            future.exception()  # each has given up or failed: retrieved, not logged at exit


def _failure(future: asyncio.Future[GroupOutcome]) -> BaseException | None:
    """The process's own error, if it failed other than by giving up."""
    error = future.exception()
    return None if isinstance(error, _Stopped) else error


def _name(service: ServiceReplay) -> str:
    return service.name


_reports: multiprocessing.Queue[tuple[int, int]] | None = None
_stop: Event | None = None


def _remember(reports: multiprocessing.Queue[tuple[int, int]], stop: Event) -> None:
    """In each replay process: where to report progress, and the sign to give up."""
    global _reports, _stop
    _reports, _stop = reports, stop
    reports.cancel_join_thread()  # at exit, never wait on a pipe no one may read any more
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    """Ends this replay process once the replay that started it is gone (killed): its lock on
    the scratch directory goes with it, so that the next replay into the target sweeps it."""
    parent.join()
    os._exit(1)


def replay_group(job: GroupJob) -> GroupOutcome:
    """In a replay process: the job's services replayed from the job's own read of the log."""
    specs = job.load_specs()
    missing = [name for name in job.services if name not in specs]
    if missing:
        raise ReplayError(f"the replay process cannot load the service(s) {', '.join(missing)}")
    assert _reports is not None and _stop is not None, "set by the pool's initializer"
    replaying = _replay_job(job, specs, _reporter(job.share.index, _reports.put, _stop))
    with holding(job.target):  # not swept while this process builds, whatever its parent
        return asyncio.run(replaying)


async def _replay_job(
    job: GroupJob, specs: Mapping[str, ServiceSpec], progress: Progress
) -> GroupOutcome:
    chosen = {name: specs[name] for name in job.services}
    limit = selected_size(job.selection, job.log.checkpoint.tree_size)
    pick = shared_leaves(job.log.ward, job.selection, job.share)
    services, applied = await replay_services(
        job.log, chosen, job.target, limit, pick, job.batch, progress
    )
    return GroupOutcome(services, applied)


def _reporter(index: int, put: Callable[[tuple[int, int]], None], stop: Event) -> Progress:
    def report(done: int, _total: int) -> None:
        if stop.is_set():
            raise _Stopped
        put((index, done))

    return report


def shared_leaves(ward: str, selection: Selection, share: Share) -> Pick:
    """The leaves of the services ``share`` parses; those it counts as applied."""
    parses = _type_filter(share.parses)
    counts = _type_filter(share.counts)

    def pick(leaves: list[bytes], start: int) -> tuple[list[EventEnvelope], int]:
        numbered = enumerate(leaves, start)
        parsed = [envelope_at(index, leaf) for index, leaf in numbered if _parsed(leaf, parses)]
        envelopes = selected_envelopes(ward, parsed, selection.until)
        return envelopes, sum(1 for envelope in envelopes if counts(envelope.event_type))

    return pick


def _parsed(leaf: bytes, parses: Callable[[str], bool]) -> bool:
    """Whether to parse a leaf: yes, unless it is certainly an event of a type not ``parses``.
    A leaf that is not a JSON object with a string ``event_type`` is parsed, so that it fails
    as it does in one process."""
    try:
        document = orjson.loads(leaf)
    except orjson.JSONDecodeError:
        return True
    event_type = document.get("event_type") if isinstance(document, dict) else None
    return not isinstance(event_type, str) or parses(event_type)


def _type_filter(by_service: Callable[[str], bool]) -> Callable[[str], bool]:
    """``by_service`` of an event type's service, remembered per type."""
    known: dict[str, bool] = {}

    def check(event_type: str) -> bool:
        answer = known.get(event_type)
        if answer is None:
            answer = known[event_type] = by_service(service_of(event_type))
        return answer

    return check
