"""Storage of one ward's audit log: the interface and an in-memory implementation."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.audit.compact import HashLevels, Subtree
from shared.audit.merkle import Position


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One leaf of the log: ``leaf`` holds exactly the hashed bytes."""

    index: int
    event_id: str
    leaf: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint: ``note`` is the full signed-note text."""

    tree_size: int
    root: bytes
    note: str


class LogStore(Protocol):
    """Storage of one ward's log. Writes belong to the caller's transaction, if any."""

    @property
    def ward(self) -> str: ...

    def tree_size(self) -> int:
        """One more than the highest stored leaf index."""
        ...

    def known_event_ids(self, event_ids: Collection[str]) -> set[str]:
        """Those of ``event_ids`` that are already in the log."""
        ...

    @property
    def lowest_stored_level(self) -> int:
        """The lowest level (at least 1) of the subtrees that ``add_entries`` keeps."""
        ...

    def add_entries(self, entries: Sequence[LogEntry], subtrees: Sequence[Subtree]) -> None:
        """Store new leaves and the subtrees (level >= ``lowest_stored_level``) that they
        completed."""
        ...

    def subtree_hashes(self, positions: Collection[Position]) -> dict[Position, bytes]:
        """Hashes of perfect subtrees by ``(level, index)``; level 0 are leaf hashes."""
        ...

    def entries(self, start: int, stop: int) -> Iterator[LogEntry]:
        """Stored leaves with ``start <= index < stop`` in index order."""
        ...

    def entry_by_event_id(self, event_id: str) -> LogEntry | None: ...

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None: ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """All checkpoints, smallest tree size first."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None: ...


class InMemoryLogStore:
    """A LogStore held in lists: for tests, benchmarks and tools."""

    def __init__(self, ward: str) -> None:
        self._ward = ward
        self._entries: list[LogEntry] = []
        self._index_by_event_id: dict[str, int] = {}
        self._levels = HashLevels()
        self._checkpoints: dict[int, StoredCheckpoint] = {}

    @property
    def ward(self) -> str:
        return self._ward

    @property
    def lowest_stored_level(self) -> int:
        return 1

    def tree_size(self) -> int:
        return len(self._entries)

    def known_event_ids(self, event_ids: Collection[str]) -> set[str]:
        return {event_id for event_id in event_ids if event_id in self._index_by_event_id}

    def add_entries(self, entries: Sequence[LogEntry], subtrees: Sequence[Subtree]) -> None:
        for entry in entries:
            if entry.index != len(self._entries) or entry.event_id in self._index_by_event_id:
                raise ValueError(f"cannot add entry {entry.index} ({entry.event_id})")
            self._entries.append(entry)
            self._index_by_event_id[entry.event_id] = entry.index
            self._levels.add(Subtree(0, entry.index, entry.leaf_hash))
        for subtree in subtrees:
            self._levels.add(subtree)

    def subtree_hashes(self, positions: Collection[Position]) -> dict[Position, bytes]:
        return {position: self._levels.subtree_hash(*position) for position in positions}

    def entries(self, start: int, stop: int) -> Iterator[LogEntry]:
        return iter(self._entries[start:stop])

    def entry_by_event_id(self, event_id: str) -> LogEntry | None:
        index = self._index_by_event_id.get(event_id)
        return None if index is None else self._entries[index]

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        if checkpoint.tree_size in self._checkpoints:
            raise ValueError(f"a checkpoint at tree size {checkpoint.tree_size} already exists")
        self._checkpoints[checkpoint.tree_size] = checkpoint

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [self._checkpoints[size] for size in sorted(self._checkpoints)]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        return self._checkpoints[max(self._checkpoints)] if self._checkpoints else None
