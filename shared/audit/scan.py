"""Leaf hashes of an entries file (one leaf per line), computed in worker processes when the
file is large. Kept free of heavy imports so that workers start fast."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

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


def hash_chunk(path: str, begin: int, end: int) -> list[bytes]:
    return leaf_hashes(lines_starting_in(path, begin, end))


def hash_file(path: Path, workers: int | None = None) -> Iterator[list[bytes]]:
    """Leaf hashes of every line of ``path``, chunk by chunk in order, hashed in ``workers``
    processes (default: one per CPU for files of PARALLEL_FROM_BYTES or more, else none).

    Workers are forked from a single-threaded caller and spawned otherwise; a spawning script
    must guard its entry point with ``if __name__ == "__main__":``.
    """
    size = path.stat().st_size
    if workers is None:
        workers = (os.cpu_count() or 1) if size >= PARALLEL_FROM_BYTES else 1
    begins = range(0, max(size, 1), CHUNK_BYTES)
    ends = [min(begin + CHUNK_BYTES, size) for begin in begins]
    paths = [str(path)] * len(begins)
    if workers <= 1:
        yield from map(hash_chunk, paths, begins, ends)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context(_start_method()))
    try:
        yield from pool.map(hash_chunk, paths, begins, ends)
    finally:
        # A caller that stops at the first problem should not wait for the rest of the file.
        pool.shutdown(wait=True, cancel_futures=True)


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
