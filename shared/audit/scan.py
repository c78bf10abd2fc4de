"""Leaf and subtree hashes of an entries file (one leaf per line), computed in worker
processes when the file is large. Kept free of heavy imports so that workers start fast."""

from __future__ import annotations

import hashlib
import os
import threading
from bisect import bisect_right
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

from shared.audit.merkle import HASH_SIZE, pair_hashes, perfect_subtrees

CHUNK_BYTES = 4 << 20
PARALLEL_FROM_BYTES = 32 << 20

_sha256 = hashlib.sha256


def leaf_hashes(lines: Sequence[bytes]) -> list[bytes]:
    return [_sha256(b"\x00" + line).digest() for line in lines]


def lines_starting_in(path: str, begin: int, end: int) -> list[bytes]:
    """The lines whose first byte lies in ``[begin, end)``, without their newlines; a last line
    without a newline still counts."""
    with open(path, "rb") as source:
        start = begin
        if begin > 0:
            source.seek(begin - 1)
            start = begin - 1 + len(source.readline())
        if start >= end:
            return []
        source.seek(start)
        data = source.read(end - start)
        lines = data.split(b"\n")
        if data.endswith(b"\n"):
            lines.pop()
        else:
            lines[-1] += source.readline().removesuffix(b"\n")
    return lines


@dataclass(frozen=True, slots=True)
class ChunkSummary:
    """A chunk's leaves ``[first, first + count)``, summarised: for each wanted tree size in
    ``(first, first + count]``, the hashes of ``perfect_subtrees(first, size)``."""

    first: int
    count: int
    covers: dict[int, list[bytes]]


def hash_chunk(path: str, begin: int, end: int) -> bytes:
    """The leaf hashes of a chunk's lines, joined: one object is cheap to send between
    processes."""
    return b"".join(leaf_hashes(lines_starting_in(path, begin, end)))


def summarise_joined(joined: bytes, first: int, sizes: Sequence[int]) -> ChunkSummary:
    hashes = [joined[at : at + HASH_SIZE] for at in range(0, len(joined), HASH_SIZE)]
    return summarise(hashes, first, sizes)


def summarise(hashes: list[bytes], first: int, sizes: Sequence[int]) -> ChunkSummary:
    """The chunk of leaf hashes that starts at leaf ``first``, for the wanted sizes in it."""
    levels = _aligned_levels(first, hashes)
    covers = {
        size: [levels[level][1][index - levels[level][0]] for level, index in cover]
        for size in sizes
        if size <= first + len(hashes) and (cover := perfect_subtrees(first, size))
    }
    return ChunkSummary(first, len(hashes), covers)


def _aligned_levels(first: int, hashes: list[bytes]) -> list[tuple[int, list[bytes]]]:
    """``(index of the first node, node hashes)`` per level, of the subtrees that lie wholly
    within the leaves ``[first, first + len(hashes))``."""
    levels = [(first, hashes)]
    while True:
        start, nodes = levels[-1]
        if start & 1:  # a right child: its sibling lies before this chunk
            start, nodes = start + 1, nodes[1:]
        parents = pair_hashes(nodes)
        if not parents:
            return levels
        levels.append((start >> 1, parents))


def summarise_file(
    path: Path, sizes: Sequence[int], workers: int | None = None
) -> Iterator[ChunkSummary]:
    """Every line of ``path`` as a leaf, summarised chunk by chunk in order for the wanted tree
    ``sizes`` and each chunk's end.

    In ``workers`` processes (default: one per CPU for files of PARALLEL_FROM_BYTES or more,
    else none), a chunk's leaves are hashed, and once the chunks before it have told where it
    starts in the tree, its inner nodes. Workers are forked from a single-threaded caller and
    spawned otherwise; a spawning script must guard its entry point with
    ``if __name__ == "__main__":``.
    """
    size = path.stat().st_size
    if workers is None:
        workers = (os.cpu_count() or 1) if size >= PARALLEL_FROM_BYTES else 1
    begins = range(0, max(size, 1), CHUNK_BYTES)
    chunks = [(str(path), begin, min(begin + CHUNK_BYTES, size)) for begin in begins]
    wanted = sorted(sizes)
    if workers <= 1:
        first = 0
        for chunk in chunks:
            hashes = leaf_hashes(lines_starting_in(*chunk))
            yield summarise(hashes, first, _sizes_in(wanted, first, len(hashes)))
            first += len(hashes)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context(_start_method()))
    try:
        yield from _summarise_in(pool, chunks, wanted, window=2 * workers)
    finally:
        # A caller that stops at the first problem should not wait for the rest of the file.
        pool.shutdown(wait=True, cancel_futures=True)


def _summarise_in(
    pool: ProcessPoolExecutor, chunks: list[tuple[str, int, int]], wanted: list[int], window: int
) -> Iterator[ChunkSummary]:
    """Keeps ``window`` chunks hashing and ``window`` summarising, so memory stays flat."""
    waiting = iter(chunks)
    hashing: deque[Future[bytes]] = deque()
    summarising: deque[Future[ChunkSummary]] = deque()
    first = 0
    while True:
        while len(hashing) < window and (chunk := next(waiting, None)):
            hashing.append(pool.submit(hash_chunk, *chunk))
        if not hashing:
            break
        joined = hashing.popleft().result()
        count = len(joined) // HASH_SIZE
        sizes = _sizes_in(wanted, first, count)
        summarising.append(pool.submit(summarise_joined, joined, first, sizes))
        first += count
        if len(summarising) >= window:
            yield summarising.popleft().result()
    while summarising:
        yield summarising.popleft().result()


def _sizes_in(wanted: list[int], first: int, count: int) -> list[int]:
    """The wanted sizes in ``(first, first + count]``, and the chunk's end."""
    return [
        *wanted[bisect_right(wanted, first) : bisect_right(wanted, first + count)],
        first + count,
    ]


def read_lines(path: Path, start: int, stop: int) -> list[bytes]:
    """Lines ``[start, stop)`` of a file (0-based), read sequentially."""
    lines: list[bytes] = []
    with path.open("rb") as source:
        for number, line in enumerate(source):
            if number >= stop:
                break
            if number >= start:
                lines.append(line.removesuffix(b"\n"))
    return lines


def _start_method() -> str:
    # Forking is cheapest but unsafe once other threads may hold locks; spawn is always safe.
    single_threaded = threading.active_count() == 1
    return "fork" if single_threaded and "fork" in get_all_start_methods() else "spawn"
