"""Replay: every service's read models rebuilt from one ward's audit log alone.

The leaves are streamed in batches, so memory does not grow with the log. They are hashed as
they go and must reproduce the root of the signed checkpoint they are read up to. Each leaf is
parsed back into its envelope and applied, through the services' own projection code and the
same projection runner as live, to the services that consume its stream, each into a fresh
SQLite file. A digest per read table then says what was rebuilt. The files are built in a
scratch directory and reach the target only once the root was reproduced (``staging``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import count, islice
from pathlib import Path
from textwrap import shorten

import sqlalchemy as sa

from shared.audit.checkpoint import Checkpoint, open_checkpoint
from shared.audit.compact import CompactRange
from shared.audit.digest import TableDigest, read_model_tables, table_digests
from shared.audit.envelopes import envelope_at
from shared.audit.errors import AuditError, NoteError, ReplayError
from shared.audit.note import Verifier
from shared.audit.scan import leaf_hashes
from shared.audit.staging import fresh_database_path, staged, sync_to_disk
from shared.db import Database
from shared.events.envelope import EventEnvelope, service_of
from shared.projections.composite import CompositeProjection
from shared.projections.inbox import projection_positions
from shared.projections.runner import ProjectionRunner
from shared.service import ServiceSpec

DEFAULT_BATCH = 2000
GC_THRESHOLD = 200_000
"""New objects between automatic collections while replaying: more than COLLECT_EVERY chunks
make."""
COLLECT_EVERY = 4
"""Chunks applied between collections: the read models' batches leave (almost) no cyclic
garbage, and each collection still walks the chunk being parsed."""
SYMPTOM_WIDTH = 160
"""Characters of an unexpected error's text quoted where a changed log is reported."""
LeafSource = Callable[[], Iterator[bytes]]
Progress = Callable[[int, int], None]
"""Called with (leaves read, leaves to read)."""
Pick = Callable[[list[bytes], int], tuple[list[EventEnvelope], int]]
"""Of a chunk of leaves inside the selected size, the first at the index given: the envelopes to
apply, and how many events of the chunk count as applied; ReplayError on a leaf that is not an
event of the ward."""


@dataclass(frozen=True, slots=True)
class SignedLog:
    """One ward's leaves from index 0, and the verified checkpoint they must reproduce."""

    ward: str
    checkpoint: Checkpoint
    leaves: LeafSource
    portable: LeafSource | None = None
    """The same leaves from a picklable description of where they are (a database or an
    export), which another process can read again; None when there is none."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Which leaves to apply: the first ``size``, and of those the ones recorded by ``until``."""

    size: int | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ServiceReplay:
    name: str
    database: Path
    events: int
    digests: dict[str, TableDigest | None]
    positions: dict[str, int]
    """Highest position applied per source service, as the runner records it."""


@dataclass(frozen=True, slots=True)
class ReplayResult:
    ward: str
    signed_size: int
    applied: int
    services: list[ServiceReplay]
    seconds: float


def verified_checkpoint(note: str, verifiers: Sequence[Verifier], origin: str) -> Checkpoint:
    try:
        return open_checkpoint(note, verifiers, origin=origin).checkpoint
    except (NoteError, AuditError) as error:
        raise ReplayError(f"the latest checkpoint does not verify: {error}") from error


async def replay_log(
    log: SignedLog,
    specs: Mapping[str, ServiceSpec],
    target: Path,
    selection: Selection = Selection(),
    progress: Progress | None = None,
    *,
    batch: int = DEFAULT_BATCH,
) -> ReplayResult:
    """Rebuild the read models of ``specs`` from ``log`` into ``target`` (one file each), in
    this process; nothing is left in ``target`` unless the replay succeeds."""
    started = time.perf_counter()
    signed = log.checkpoint.tree_size
    limit = selected_size(selection, signed)
    pick = every_leaf(log.ward, selection.until)
    with staged(target, replayed_services(specs)) as scratch:
        services, applied = await replay_services(log, specs, scratch, limit, pick, batch, progress)
    elapsed = time.perf_counter() - started
    return ReplayResult(log.ward, signed, applied, moved_into(target, services), elapsed)


def replayed_services(specs: Mapping[str, ServiceSpec]) -> list[str]:
    """The names of the services with read models, in order."""
    return sorted(name for name, spec in specs.items() if spec.projections)


def moved_into(target: Path, services: Sequence[ServiceReplay]) -> list[ServiceReplay]:
    """The replays of ``services``, built elsewhere, with their databases now in ``target``."""
    return [replace(service, database=target / service.database.name) for service in services]


async def replay_services(
    log: SignedLog,
    specs: Mapping[str, ServiceSpec],
    target: Path,
    limit: int,
    pick: Pick,
    batch: int,
    progress: Progress | None,
) -> tuple[list[ServiceReplay], int]:
    """The replays of ``specs`` (by name) that have projections, and the events applied; their
    databases are left in ``target`` whether or not the log reproduced its signed root."""
    replayers = [_ServiceReplayer(name, specs[name], target) for name in replayed_services(specs)]
    try:
        for replayer in replayers:
            await replayer.start()
        with fewer_collections(GC_THRESHOLD):
            applied = await _feed(log, replayers, limit, pick, batch, progress)
        services = [await replayer.result(log.ward) for replayer in replayers]
    finally:
        for replayer in replayers:
            replayer.database.dispose()
    for replayer in replayers:
        sync_to_disk(replayer.path)  # closed: its last connection folded the WAL into it
    return services, applied


async def _feed(
    log: SignedLog,
    replayers: Sequence[_ServiceReplayer],
    limit: int,
    pick: Pick,
    batch: int,
    progress: Progress | None,
) -> int:
    """Applies the log's leaves and checks that they reproduce the signed root.

    When a leaf cannot be parsed or applied, the rest is still hashed and the root checked
    first: a log that was changed is reported as changed (the leaf's problem is a symptom),
    and only a leaf that is signed as it is is reported by itself.
    """
    signed = log.checkpoint.tree_size
    tree = CompactRange()
    chunks = _chunks(islice(log.leaves(), signed), batch)

    def advance() -> None:
        if progress:
            progress(tree.size, signed)

    try:
        applied = await _apply_chunks(chunks, tree, replayers, limit, pick, advance)
    except _Unapplied as failure:
        _hash_chunks(chunks, tree, advance)
        _require_signed_root(log.checkpoint, tree, failure.error)
        raise failure.error from None
    _require_signed_root(log.checkpoint, tree)
    return applied


class _Unapplied(Exception):
    """A chunk of leaves could not be parsed or applied; ``error`` says why."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _apply_chunks(
    chunks: Iterator[list[bytes]],
    tree: CompactRange,
    replayers: Sequence[_ServiceReplayer],
    limit: int,
    pick: Pick,
    advance: Callable[[], None],
) -> int:
    """Applies chunk after chunk in order, hashing each into ``tree``; while one chunk is being
    applied (SQL in the databases' threads), the next is read, hashed and parsed."""
    applied = 0
    in_flight: asyncio.Future[None] | None = None
    try:
        for number, chunk in enumerate(chunks):
            start = tree.size
            tree.extend(leaf_hashes(chunk))
            envelopes, counted = _picked(pick, chunk[: max(0, limit - start)], start)
            if in_flight is not None:
                await in_flight
                if number % COLLECT_EVERY == 0:
                    gc.collect()  # the applied chunks' garbage, while the next one waits
            in_flight = asyncio.ensure_future(_apply(replayers, envelopes))
            applied += counted
            advance()
    finally:
        if in_flight is not None:
            await in_flight
    return applied


def _picked(pick: Pick, leaves: list[bytes], start: int) -> tuple[list[EventEnvelope], int]:
    try:
        return pick(leaves, start)
    except ReplayError as error:
        raise _Unapplied(error) from error


async def _apply(replayers: Sequence[_ServiceReplayer], envelopes: list[EventEnvelope]) -> None:
    try:
        for replayer in replayers:
            await replayer.apply(envelopes)
    except Exception as error:
        raise _Unapplied(error) from error


def _hash_chunks(
    chunks: Iterator[list[bytes]], tree: CompactRange, advance: Callable[[], None]
) -> None:
    for chunk in chunks:
        tree.extend(leaf_hashes(chunk))
        advance()


def every_leaf(ward: str, until: datetime | None) -> Pick:
    """Every leaf parsed, and every selected event counted."""

    def pick(leaves: list[bytes], start: int) -> tuple[list[EventEnvelope], int]:
        envelopes = selected_envelopes(ward, list(map(envelope_at, count(start), leaves)), until)
        return envelopes, len(envelopes)

    return pick


def selected_envelopes(
    ward: str, envelopes: list[EventEnvelope], until: datetime | None
) -> list[EventEnvelope]:
    """The envelopes recorded by ``until``; ReplayError on one of another ward."""
    for envelope in envelopes:
        if envelope.ward != ward:
            wrong = f"event {envelope.event_id} of ward {envelope.ward!r}"
            raise ReplayError(f"{wrong} is in the log of ward {ward!r}")
    if until is None:
        return envelopes
    return [envelope for envelope in envelopes if envelope.recorded_at <= until]


def _require_signed_root(
    checkpoint: Checkpoint, tree: CompactRange, failure: Exception | None = None
) -> None:
    """ReplayError unless ``tree`` is the checkpoint's; ``failure``: why replaying stopped."""
    symptom = "" if failure is None else f" (and replaying it failed: {_one_line(failure)})"
    if tree.size != checkpoint.tree_size:
        raise ReplayError(
            f"the log ends after {tree.size} entries but its checkpoint covers "
            f"{checkpoint.tree_size}{symptom}; run `kyodo audit verify` on an export to locate "
            "the change"
        ) from failure
    if tree.root() != checkpoint.root:
        raise ReplayError(
            f"the {tree.size} entries do not reproduce the signed root of the checkpoint, so "
            f"the log was changed{symptom}; nothing replayed can be trusted: run "
            "`kyodo audit verify` to locate the change"
        ) from failure


def _one_line(error: Exception) -> str:
    if isinstance(error, ReplayError):
        return str(error)
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {shorten(text, SYMPTOM_WIDTH, placeholder=' …')}"


@contextmanager
def fewer_collections(threshold: int) -> Iterator[None]:
    """Collect garbage once per few chunks rather than once per 700 new objects.

    A chunk's envelopes (tens of thousands of objects) live until the chunk is applied; at the
    default threshold the cyclic collector traverses them, and every object of the process,
    again and again, which cost about half the CPU of a replay. Inside, the objects that exist
    already are left out of collections (``gc.freeze``) and ``_feed`` collects after every
    ``COLLECT_EVERY`` chunks (a collection finds no cycles there but still walks the chunk in
    flight), so memory stays flat.
    """
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(threshold, previous[0]), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def selected_size(selection: Selection, signed: int) -> int:
    if selection.size is None:
        return signed
    if not 0 <= selection.size <= signed:
        raise ReplayError(f"size {selection.size} is outside 0..{signed}, the signed tree size")
    return selection.size


def _chunks(leaves: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    while chunk := list(islice(leaves, size)):
        yield chunk


class _ServiceReplayer:
    """One service's projections over a fresh SQLite file, fed only what it consumes live."""

    def __init__(self, name: str, spec: ServiceSpec, target: Path) -> None:
        self.name = name
        self.path = fresh_database_path(target, name)
        # Written without waiting for the disk, and synced once when the replay is done.
        self.database = Database(f"sqlite:///{self.path}", durable=False)
        self.projection = CompositeProjection(name, spec.projections)
        self.runner = ProjectionRunner(self.database, self.projection)
        self.consumes = frozenset(spec.consumes)
        self.tables = read_model_tables(name, spec.projections)
        self.events = 0

    async def start(self) -> None:
        await self.runner.create_tables()

    async def apply(self, envelopes: Sequence[EventEnvelope]) -> None:
        types = {envelope.event_type for envelope in envelopes}
        consumed = {t for t in types if service_of(t) in self.consumes}
        relevant = [envelope for envelope in envelopes if envelope.event_type in consumed]
        if relevant:
            self.events += await self.runner.apply(relevant)

    async def result(self, ward: str) -> ServiceReplay:
        digests = await self.database.read(lambda c: table_digests(c, self.tables, ward))
        positions = await self.database.read(lambda c: read_positions(c, self.name, ward))
        return ServiceReplay(self.name, self.path, self.events, digests, positions)


def read_positions(connection: sa.Connection, projection: str, ward: str) -> dict[str, int]:
    """Highest applied position per source service of a projection, for one ward."""
    if not sa.inspect(connection).has_table(projection_positions.name):
        return {}
    table = projection_positions
    query = sa.select(table.c.source, table.c.position).where(
        table.c.projection == projection, table.c.ward == ward
    )
    return {str(source): int(position) for source, position in connection.execute(query)}
