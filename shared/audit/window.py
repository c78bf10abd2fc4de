"""A stretch of an export's entries next to what the log recorded for the same positions."""

from __future__ import annotations

import json
from dataclasses import dataclass

from shared.audit.export import ENTRIES_FILE, IndexRecord
from shared.audit.problems import Problem, ProblemKind
from shared.audit.scan import leaf_hashes


@dataclass(frozen=True, slots=True)
class EntryWindow:
    """Entries ``[start, start + len(leaves))`` with their hashes, and the recorded index
    around them (possibly further than the entries loaded). ``entries_end`` is the number of
    entries in the file and ``records_end`` one past the last recorded index, each known only
    when the window reaches the end of its file."""

    start: int
    leaves: list[bytes]
    hashes: list[bytes]
    records: dict[int, IndexRecord]
    records_by_hash: dict[bytes, IndexRecord]
    entries_end: int | None = None
    records_end: int | None = None

    @classmethod
    def of(
        cls,
        start: int,
        leaves: list[bytes],
        records: dict[int, IndexRecord],
        *,
        entries_end: int | None = None,
        records_end: int | None = None,
    ) -> EntryWindow:
        by_hash = {record.leaf_hash: record for record in records.values()}
        return cls(start, leaves, leaf_hashes(leaves), records, by_hash, entries_end, records_end)

    @property
    def stop(self) -> int:
        return self.start + len(self.hashes)

    def hash_at(self, index: int) -> bytes | None:
        offset = index - self.start
        return self.hashes[offset] if 0 <= offset < len(self.hashes) else None

    def event_id_at(self, index: int) -> str:
        leaf = self._leaf_at(index)
        return "unknown" if leaf is None else envelope_event_id(leaf)

    def reads_as_json(self, index: int) -> bool | None:
        """Whether the entry at ``index`` is a JSON document; None when it is not loaded."""
        leaf = self._leaf_at(index)
        if leaf is None:
            return None
        try:
            json.loads(leaf)
        except ValueError:
            return False
        return True

    def _leaf_at(self, index: int) -> bytes | None:
        offset = index - self.start
        return self.leaves[offset] if 0 <= offset < len(self.leaves) else None

    def holds(self, position: int, index: int) -> bool | None:
        """Whether the entry at ``position`` of the file is the logged entry ``index``; None
        when that cannot be told from what is loaded. Past the end of the entries, it holds
        only past the end of the index by as many places: both files end together."""
        computed = self.hash_at(position)
        record = self.records.get(index)
        if computed is not None and record is not None:
            return computed == record.leaf_hash
        past_entries = _places_past(position, self.entries_end)
        past_records = _places_past(index, self.records_end)
        if past_entries is not None and past_records is not None:
            return past_entries == past_records
        if past_entries is not None and record is not None:
            return False
        if past_records is not None and computed is not None:
            return False
        return None

    def run_end(self, position: int, shift: int, limit: int) -> int:
        """The first position from ``position`` on (at most ``position + limit``) whose entry is
        not known to be the logged entry ``shift`` places further."""
        end = position + limit
        while position < end and self.holds(position, position + shift):
            position += 1
        return position

    def lines_up(self, position: int, shift: int, count: int) -> bool:
        """Each entry of ``count`` from ``position`` is known to be the logged entry ``shift``
        places further (or both files have ended together)."""
        return all(self.holds(at, at + shift) for at in range(position, position + count))

    def find(self, leaf_hash: bytes, after: int) -> list[int]:
        """Positions after ``after`` whose entry hashes to ``leaf_hash``, in order."""
        offset = max(after + 1 - self.start, 0)
        found: list[int] = []
        while True:
            try:
                offset = self.hashes.index(leaf_hash, offset)
            except ValueError:
                return found
            found.append(self.start + offset)
            offset += 1


def _places_past(at: int, end: int | None) -> int | None:
    """How many places ``at`` lies past a known ``end``; None when before it or not known."""
    return at - end if end is not None and at >= end else None


def envelope_event_id(leaf: bytes) -> str:
    try:
        envelope = json.loads(leaf)
    except ValueError:
        return "unreadable"
    event_id = envelope.get("event_id") if isinstance(envelope, dict) else None
    return event_id if isinstance(event_id, str) else "unknown"


def entry_problem(
    kind: ProblemKind, message: str, index: int, event_id: str | None, line_index: int
) -> Problem:
    location = f"{ENTRIES_FILE} line {line_index + 1}"
    return Problem(kind, f"{message} ({location})", index, event_id, location)
