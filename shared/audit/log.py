"""One ward's audit log: idempotent appends, roots and proofs over a LogStore."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import count
from typing import Any, TypeVar

from shared.audit import merkle
from shared.audit.compact import CompactRange
from shared.audit.errors import LeafEncodingError
from shared.audit.leaf import event_id_of, leaf_bytes
from shared.audit.merkle import Position
from shared.audit.scan import leaf_hashes
from shared.audit.store import LogEntry, LogStore

_PLACEHOLDER_HASH = bytes(merkle.HASH_SIZE)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AppendResult:
    appended: tuple[LogEntry, ...]
    skipped_event_ids: tuple[str, ...]
    """Event ids already in the log, or repeated within the batch: not appended again."""
    tree_size: int


class AuditLog:
    """Appends event envelopes to one ward's Merkle log and answers root and proof queries.

    With a SQL store, call it inside one transaction; concurrent appenders to the same ward
    collide on the leaf index key and the later transaction must retry.
    """

    def __init__(self, store: LogStore) -> None:
        self._store = store
        self._appended: dict[Position, bytes] = {}
        """The subtree hashes (leaves included) that the latest append computed. A complete
        perfect subtree never changes, so the checkpoint signed right after that append takes
        them from here; everything older is read from the store, so that a checkpoint still
        checks the stored history against the one signed before."""
        self.appended_from: int | None = None
        """The tree size this log's first append started from; None before any append."""

    @property
    def store(self) -> LogStore:
        return self._store

    @property
    def ward(self) -> str:
        return self._store.ward

    def tree_size(self) -> int:
        return self._store.tree_size()

    def append(self, envelopes: Iterable[Mapping[str, Any]]) -> AppendResult:
        """Append envelopes in order, skipping any event id that is already logged."""
        self._appended = {}
        fresh, skipped = self._split_new_envelopes(envelopes)
        tree = self._compact_range(self._store.tree_size())
        start = tree.size
        if self.appended_from is None:
            self.appended_from = start
        leaves = [leaf_bytes(envelope) for _event_id, envelope in fresh]
        hashes = leaf_hashes(leaves)
        entries = [
            LogEntry(index, event_id, leaf, leaf_hash)
            for index, (event_id, _envelope), leaf, leaf_hash in zip(
                count(start), fresh, leaves, hashes, strict=False
            )
        ]
        if entries:
            completed = tree.append_all(hashes)
            lowest = self._store.lowest_stored_level
            self._store.add_entries(entries, [s for s in completed if s.level >= lowest])
            self._appended = {(0, entry.index): entry.leaf_hash for entry in entries}
            self._appended.update(((s.level, s.index), s.hash) for s in completed)
        return AppendResult(tuple(entries), tuple(skipped), tree.size)

    def root(self, tree_size: int | None = None) -> bytes:
        size = self._store.tree_size() if tree_size is None else tree_size
        self._require_size(size)
        return self._with_subtrees(lambda subtree_hash: merkle.root_at(size, subtree_hash))

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        self._require_size(tree_size)
        return self._with_subtrees(
            lambda subtree_hash: merkle.inclusion_proof(leaf_index, tree_size, subtree_hash)
        )

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        self._require_size(size2)
        return self._with_subtrees(
            lambda subtree_hash: merkle.consistency_proof(size1, size2, subtree_hash)
        )

    def _split_new_envelopes(
        self, envelopes: Iterable[Mapping[str, Any]]
    ) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
        batch: dict[str, Mapping[str, Any]] = {}
        skipped: list[str] = []
        for envelope in envelopes:
            event_id = event_id_of(envelope)
            self._require_own_ward(envelope)
            if event_id in batch:
                skipped.append(event_id)
            else:
                batch[event_id] = envelope
        known = self._store.known_event_ids(list(batch)) if batch else set()
        skipped.extend(event_id for event_id in batch if event_id in known)
        fresh = [(event_id, env) for event_id, env in batch.items() if event_id not in known]
        return fresh, skipped

    def _require_own_ward(self, envelope: Mapping[str, Any]) -> None:
        if envelope.get("ward") != self.ward:
            raise LeafEncodingError(
                f"event {envelope.get('event_id')} is for ward {envelope.get('ward')!r}, "
                f"not {self.ward!r}"
            )

    def _require_size(self, tree_size: int) -> None:
        current = self._store.tree_size()
        if not 0 <= tree_size <= current:
            raise ValueError(f"tree size {tree_size} is outside 0..{current}")

    def _compact_range(self, tree_size: int) -> CompactRange:
        positions = merkle.perfect_subtrees(0, tree_size)
        hashes = self._store.subtree_hashes(positions)
        return CompactRange(tree_size, [hashes[position] for position in positions])

    def _with_subtrees(self, compute: Callable[[merkle.SubtreeHash], T]) -> T:
        # The positions a proof visits do not depend on hash values: a dry run with placeholder
        # hashes lists them, so the store can fetch them all in one query.
        wanted: list[tuple[int, int]] = []

        def record(level: int, index: int) -> bytes:
            wanted.append((level, index))
            return _PLACEHOLDER_HASH

        compute(record)
        appended = self._appended
        hashes = self._store.subtree_hashes([p for p in wanted if p not in appended])
        hashes.update((p, appended[p]) for p in wanted if p in appended)
        return compute(lambda level, index: hashes[level, index])
