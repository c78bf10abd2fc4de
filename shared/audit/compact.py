"""Incremental Merkle trees: a compact range for appends and per-level subtree hash storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.audit.merkle import fold_peaks, node_hash, pair_hashes, perfect_subtrees


@dataclass(frozen=True, slots=True)
class Subtree:
    """The hash of the perfect subtree at ``(level, index)``."""

    level: int
    index: int
    hash: bytes


class CompactRange:
    """The peaks of the tree of leaves ``[0, size)``: one perfect subtree per set bit of ``size``,
    largest first. Appending is O(1) amortised and the root is available at every size."""

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if size < 0 or len(peaks) != size.bit_count():
            raise ValueError(
                f"a tree of size {size} needs {size.bit_count()} peaks, not {len(peaks)}"
            )
        self._size = size
        self._peaks = list(peaks)

    @property
    def size(self) -> int:
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        return tuple(self._peaks)

    def copy(self) -> CompactRange:
        return CompactRange(self._size, self._peaks)

    def root(self) -> bytes:
        return fold_peaks(self._peaks)

    def append(self, leaf_hash: bytes) -> list[Subtree]:
        """Append one leaf; returns the subtrees (level >= 1) that this append completed."""
        completed: list[Subtree] = []
        self._push(0, leaf_hash, completed)
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaves a whole level at a time, without reporting the subtrees completed."""
        nodes = list(leaf_hashes)
        first = self._size  # index of nodes[0] on the current level
        self._size += len(nodes)
        new_peaks: list[bytes] = []
        while nodes:
            # An odd first index makes nodes[0] a right child; its sibling is the lowest peak.
            if first & 1:
                nodes.insert(0, self._peaks.pop())
                first -= 1
            if len(nodes) & 1:
                new_peaks.append(nodes.pop())
            nodes = pair_hashes(nodes)
            first >>= 1
        self._peaks.extend(reversed(new_peaks))

    def append_range(self, subtrees: Iterable[tuple[int, bytes]]) -> None:
        """Append consecutive perfect subtrees given as ``(level, hash)``, left to right; each
        must start at a multiple of its own size."""
        for level, subtree_hash in subtrees:
            if self._size % (1 << level):
                raise ValueError(f"a level-{level} subtree cannot start at leaf {self._size}")
            self._push(level, subtree_hash, None)

    def _push(self, level: int, subtree_hash: bytes, completed: list[Subtree] | None) -> None:
        index = self._size >> level
        self._size += 1 << level
        while index & 1:
            subtree_hash = node_hash(self._peaks.pop(), subtree_hash)
            level, index = level + 1, index >> 1
            if completed is not None:
                completed.append(Subtree(level, index, subtree_hash))
        self._peaks.append(subtree_hash)


class HashLevels:
    """Every perfect subtree hash inside leaves ``[begin, end)``, stored level by level, so that
    any subtree hash is one list lookup."""

    __slots__ = ("_begin", "_firsts", "_levels")

    def __init__(self, begin: int = 0) -> None:
        self._begin = begin
        self._levels: list[list[bytes]] = [[]]
        self._firsts: list[int] = [begin]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes], begin: int = 0) -> HashLevels:
        levels = cls(begin)
        levels._levels[0] = list(leaf_hashes)
        levels._build_upper_levels()
        return levels

    @property
    def end(self) -> int:
        return self._begin + len(self._levels[0])

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level >= len(self._levels):
            raise KeyError((level, index))
        offset = index - self._firsts[level]
        hashes = self._levels[level]
        if not 0 <= offset < len(hashes):
            raise KeyError((level, index))
        return hashes[offset]

    def cover(self, begin: int, end: int) -> list[tuple[int, bytes]]:
        """``(level, hash)`` of the perfect subtrees covering leaves ``[begin, end)``."""
        return [
            (level, self.subtree_hash(level, index))
            for level, index in perfect_subtrees(begin, end)
        ]

    def add(self, subtree: Subtree) -> None:
        """Store a subtree hash; subtrees of one level must arrive in index order."""
        while subtree.level >= len(self._levels):
            self._levels.append([])
            self._firsts.append(-(-self._begin >> len(self._firsts)))
        expected = self._firsts[subtree.level] + len(self._levels[subtree.level])
        if subtree.index != expected:
            raise ValueError(f"expected subtree ({subtree.level}, {expected}), got {subtree}")
        self._levels[subtree.level].append(subtree.hash)

    def _build_upper_levels(self) -> None:
        hashes, first = self._levels[0], self._begin
        while len(hashes) > 1:
            # A node whose sibling lies before ``begin`` has no parent inside the range.
            skip = first & 1
            hashes = pair_hashes(hashes[skip:])
            first = (first + skip) >> 1
            self._levels.append(hashes)
            self._firsts.append(first)
