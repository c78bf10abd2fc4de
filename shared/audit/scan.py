"""Hashing an entries file chunk by chunk, in worker processes when the file is large.

Each chunk is a run of whole lines whose first leaf index is known, so a worker can compute
every perfect subtree inside it; the caller joins chunks with a compact range in O(log n).
"""

from __future__ import annotations

import hashlib
import os
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

from shared.audit.compact import HashLevels

CHUNK_BYTES = 4 << 20
PARALLEL_FROM_BYTES = 32 << 20

_sha256 = hashlib.sha256


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines ``[first_index, first_index + count)`` of a file: ``length`` bytes at ``offset``."""

    path: str
    offset: int
    length: int
    first_index: int
    count: int


@dataclass(frozen=True, slots=True)
class ChunkDigest:
    """For each requested end: the ``(level, hash)`` cover of leaves ``[first_index, end)``."""

    chunk: Chunk
    covers: dict[int, list[tuple[int, bytes]]]

    @property
    def end(self) -> int:
        return self.chunk.first_index + self.chunk.count


def plan_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Cut a file into chunks of whole lines; a last line without a newline still counts."""
    offset = first_index = 0
    with path.open("rb") as source:
        carry = b""
        while block := source.read(chunk_bytes):
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut:
                count = data.count(b"\n", 0, cut)
                yield Chunk(str(path), offset, cut, first_index, count)
                offset, first_index = offset + cut, first_index + count
            carry = data[cut:]
        if carry:
            yield Chunk(str(path), offset, len(carry), first_index, 1)


def read_lines(chunk: Chunk) -> list[bytes]:
    with open(chunk.path, "rb") as source:
        source.seek(chunk.offset)
        data = source.read(chunk.length)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if len(lines) != chunk.count:
        raise OSError(f"{chunk.path} changed while it was being read")
    return lines


def leaf_hashes(lines: Sequence[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + line).digest() for line in lines]


def digest_chunk(chunk: Chunk, cuts: Sequence[int]) -> ChunkDigest:
    """Hash a chunk's leaves and subtrees; ``cuts`` are the tree sizes whose roots are wanted."""
    levels = HashLevels.from_leaf_hashes(leaf_hashes(read_lines(chunk)), chunk.first_index)
    end = chunk.first_index + chunk.count
    ends = sorted({cut for cut in cuts if chunk.first_index < cut < end} | {end})
    return ChunkDigest(chunk, {stop: levels.cover(chunk.first_index, stop) for stop in ends})


def digest_file(
    path: Path, cuts: Sequence[int], workers: int | None = None
) -> Iterator[ChunkDigest]:
    """Digests of every chunk of ``path`` in order, hashed in ``workers`` processes
    (default: one per CPU for files of at least PARALLEL_FROM_BYTES, else in this process)."""
    if workers is None:
        large = path.stat().st_size >= PARALLEL_FROM_BYTES
        workers = (os.cpu_count() or 1) if large else 1
    ordered_cuts = sorted(cuts)
    tasks = ((chunk, _cuts_inside(chunk, ordered_cuts)) for chunk in plan_chunks(path))
    if workers <= 1:
        yield from map(_digest_task, tasks)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        yield from pool.map(_digest_task, tasks)
    finally:
        # A caller that stops at the first problem should not wait for the rest of the file.
        pool.shutdown(wait=True, cancel_futures=True)


def _digest_task(task: tuple[Chunk, list[int]]) -> ChunkDigest:
    return digest_chunk(*task)


def _cuts_inside(chunk: Chunk, ordered_cuts: Sequence[int]) -> list[int]:
    end = chunk.first_index + chunk.count
    low = bisect_right(ordered_cuts, chunk.first_index)
    return list(ordered_cuts[low : bisect_left(ordered_cuts, end, low)])
