"""Incremental Merkle trees: a compact range for appends and per-level subtree hash storage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.audit.merkle import fold_peaks, node_hash, pair_hashes


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
        return self.append_all([leaf_hash])

    def append_subtree(self, level: int, subtree_hash: bytes) -> None:
        """Append the ``2**level`` leaves of a perfect subtree, given its hash; the tree's size
        must be a multiple of ``2**level``."""
        if self._size & ((1 << level) - 1):
            raise ValueError(f"a subtree of level {level} cannot follow {self._size} leaves")
        index = self._size >> level
        self._size += 1 << level
        while index & 1:
            subtree_hash = node_hash(self._peaks.pop(), subtree_hash)
            index >>= 1
        self._peaks.append(subtree_hash)

    def append_all(self, leaf_hashes: Iterable[bytes], from_level: int = 1) -> list[Subtree]:
        """Append leaves a whole level at a time; returns the subtrees (level >= ``from_level``,
        at least 1) that they completed, level by level, each level in index order."""
        completed: list[Subtree] = []
        for level, first, nodes in self._climb(list(leaf_hashes)):
            if level >= from_level:
                completed.extend([Subtree(level, first + i, n) for i, n in enumerate(nodes)])
        return completed

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append leaves a whole level at a time, without reporting the subtrees completed."""
        self._climb(list(leaf_hashes))

    def _climb(self, nodes: list[bytes]) -> list[tuple[int, int, list[bytes]]]:
        """Absorb leaf hashes level by level; returns ``(level, first index, hashes)`` of the
        subtrees completed on each level from 1 up."""
        completed = []
        first = self._size  # index of nodes[0] on the current level
        self._size += len(nodes)
        new_peaks: list[bytes] = []
        level = 0
        while nodes:
            # An odd first index makes nodes[0] a right child; its sibling is the lowest peak.
            # The lists are copied, not changed: each level's list is also reported.
            if first & 1:
                nodes = [self._peaks.pop(), *nodes]
                first -= 1
            if len(nodes) & 1:
                new_peaks.append(nodes[-1])
                nodes = nodes[:-1]
            nodes = pair_hashes(nodes)
            first >>= 1
            level += 1
            if nodes:
                completed.append((level, first, nodes))
        self._peaks.extend(reversed(new_peaks))
        return completed


class HashLevels:
    """Every perfect subtree hash of a tree, stored level by level, so that any subtree hash is
    one list lookup: level 0 holds the leaf hashes, level ``l`` the subtrees of ``2**l`` leaves."""

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[list[bytes]] = [[]]

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Sequence[bytes]) -> HashLevels:
        levels = cls()
        hashes = list(leaf_hashes)
        levels._levels[0] = hashes
        while len(hashes) > 1:
            hashes = pair_hashes(hashes)
            levels._levels.append(hashes)
        return levels

    def subtree_hash(self, level: int, index: int) -> bytes:
        if level >= len(self._levels) or not 0 <= index < len(self._levels[level]):
            raise KeyError((level, index))
        return self._levels[level][index]

    def add(self, subtree: Subtree) -> None:
        """Store a subtree hash; the subtrees of one level must arrive in index order."""
        while subtree.level >= len(self._levels):
            self._levels.append([])
        hashes = self._levels[subtree.level]
        if subtree.index != len(hashes):
            raise ValueError(f"expected subtree ({subtree.level}, {len(hashes)}), got {subtree}")
        hashes.append(subtree.hash)
