"""Locating a change once a signed root has shown one.

The signed roots prove *that* entries changed since the last matching checkpoint; the index of
the export (what the log recorded at append time) tells *which* entry and how. When the index
was altered to match, a search for a single inserted entry is tried on small ranges.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

from shared.audit.compact import CompactRange
from shared.audit.difference import LINE_UP, difference_at
from shared.audit.errors import ExportFormatError
from shared.audit.export import ENTRIES_FILE, INDEX_FILE, IndexRecord, parse_index_line
from shared.audit.problems import Problem, ProblemKind, SignedHead
from shared.audit.scan import leaf_hashes, read_lines
from shared.audit.window import EntryWindow, entry_problem

MAX_INSERTION_SEARCH = 1024
WINDOW = 1 << 16
LOOKAHEAD = 4096
"""How far past a window's end a removal, insertion or move of entries that starts inside it
may reach and still be recognised (see ``_reach``)."""
_INDEX_PREFIX = b'{"index":'


def explain_mismatch(
    directory: Path, verified: CompactRange, head: SignedHead, later: Sequence[SignedHead] = ()
) -> Problem:
    """Why the entries after the verified tree do not reproduce ``head``'s root; ``later`` are
    the checkpoints after it, smallest first."""
    start, stop = verified.size, head.tree_size
    return (
        _first_difference(directory, start, stop)
        or _single_insertion(directory, verified, head)
        or _conflict_with_later(directory, verified, head, later)
        or _unrecorded_entry(directory, start, head)
        or _unexplained(start, head)
    )


def explain_shortfall(
    directory: Path, verified: CompactRange, head: SignedHead, total_entries: int
) -> Problem:
    """Why the entries end before ``head``'s tree size."""
    found = _first_difference(directory, verified.size, total_entries)
    if found:
        return found
    missing = read_index_records(directory / INDEX_FILE, total_entries, total_entries + 1)
    event_id = missing[total_entries].event_id if missing else None
    named = f" ({event_id})" if event_id else ""
    return Problem(
        ProblemKind.REMOVED_ENTRY,
        f"{ENTRIES_FILE} ends after {total_entries} entries but {head.location} covers "
        f"{head.tree_size}: entry {total_entries}{named} and later were removed",
        total_entries,
        event_id,
        ENTRIES_FILE,
    )


def read_index_records(path: Path, start: int, stop: int) -> dict[int, IndexRecord]:
    """Recorded entries with ``start <= index < stop``; empty if the index is unreadable."""
    records: dict[int, IndexRecord] = {}
    for record in _records_from(path, start):
        if record.index >= stop:
            break
        records.setdefault(record.index, record)
    return records


def _first_difference(directory: Path, start: int, stop: int) -> Problem | None:
    for window in _windows(directory, start, stop):
        end = min(window.start + WINDOW, stop, window.start + len(window.leaves))
        for index in range(window.start, end):
            problem = difference_at(window, index)
            if problem:
                return problem
    return None


def _windows(directory: Path, start: int, stop: int) -> Iterator[EntryWindow]:
    """Consecutive windows of at most WINDOW entries over ``[start, stop)``, read forward once
    so that memory stays bounded however far apart the checkpoints are."""
    with (directory / ENTRIES_FILE).open("rb") as entries:
        lines = (line.removesuffix(b"\n") for line in islice(entries, start, None))
        index = _IndexReader(directory / INDEX_FILE, start)
        held_lines: list[bytes] = []
        held_records: dict[int, IndexRecord] = {}
        for begin in range(start, stop, WINDOW):
            end = min(begin + WINDOW, stop)
            reach = _reach(end)
            held_lines += islice(lines, reach - begin - len(held_lines))
            entries_end = begin + len(held_lines) if begin + len(held_lines) < reach else None
            index.read_until(reach, held_records)
            yield EntryWindow.of(
                begin, held_lines, held_records, entries_end=entries_end, records_end=index.end
            )
            held_lines = held_lines[end - begin :]
            held_records = {i: record for i, record in held_records.items() if i >= end}


def _reach(end: int) -> int:
    """Where the entries and records loaded for a window ending at ``end`` stop: a shift of up
    to LOOKAHEAD entries at its end, the LINE_UP entries that must bear it out, and the one
    after them are all loaded, so that nothing the diagnosis concludes rests on what is not."""
    return end + LOOKAHEAD + LINE_UP + 1


class _IndexReader:
    """Index records read forward from ``start``, a window's worth at a time."""

    def __init__(self, path: Path, start: int) -> None:
        self._records = _records_from(path, start)
        self._pending = next(self._records, None)
        self._last = start - 1
        self.end: int | None = None
        """One past the last recorded index, once the index has been read to its end."""

    def read_until(self, limit: int, into: dict[int, IndexRecord]) -> None:
        """Adds the records before ``limit`` to ``into``, keeping the first after it."""
        while self._pending is not None and self._pending.index < limit:
            into.setdefault(self._pending.index, self._pending)
            self._last = max(self._last, self._pending.index)
            self._pending = next(self._records, None)
        if self._pending is None:
            self.end = self._last + 1


def _records_from(path: Path, start: int) -> Iterator[IndexRecord]:
    """Index records from ``start`` on, in file order; nothing if the index is unreadable."""
    try:
        with path.open("rb") as index_file:
            for line in index_file:
                quick = _quick_index(line)
                if quick is not None and quick < start:
                    continue
                record = parse_index_line(line)
                if record.index >= start:
                    yield record
    except (OSError, ExportFormatError):
        return


def _single_insertion(directory: Path, verified: CompactRange, head: SignedHead) -> Problem | None:
    start, stop = verified.size, head.tree_size
    if stop - start > MAX_INSERTION_SEARCH:
        return None
    window = EntryWindow.of(start, read_lines(directory / ENTRIES_FILE, start, stop + 1), {})
    if len(window.hashes) < stop - start + 1:
        return None
    prefix = verified.copy()
    for candidate in range(start, stop + 1):
        tree = prefix.copy()
        tree.extend(window.hashes[candidate - start + 1 : stop - start + 1])
        if tree.root() == head.root:
            event_id = window.event_id_at(candidate)
            return entry_problem(
                ProblemKind.INSERTED_ENTRY,
                f"entry {candidate} ({event_id}) was inserted: without it the entries "
                f"reproduce the root signed in {head.location}",
                candidate,
                event_id,
                candidate,
            )
        prefix.extend([window.hashes[candidate - start]])
    return None


def _conflict_with_later(
    directory: Path, verified: CompactRange, head: SignedHead, later: Sequence[SignedHead]
) -> Problem | None:
    """Entries that reproduce a later checkpoint's root prove that ``head`` cannot be a prefix
    of that tree: the two sign different histories, whatever was done to the entries."""
    larger = [other for other in later if other.tree_size > head.tree_size]
    if verified.size == head.tree_size or not larger:
        return None
    reproduced = _first_reproduced(directory, verified, larger)
    if reproduced is None:
        return None
    earlier = f" and every one before {head.location}" if verified.size else ""
    return Problem(
        ProblemKind.CONFLICTING_CHECKPOINTS,
        f"{head.location} (tree size {head.tree_size}) and {reproduced.location} (tree size "
        f"{reproduced.tree_size}) sign two different histories: the entries reproduce the root "
        f"signed in {reproduced.location}{earlier}, not the one at tree size {head.tree_size}",
        location=head.location,
    )


def _first_reproduced(
    directory: Path, verified: CompactRange, heads: Sequence[SignedHead]
) -> SignedHead | None:
    """The first of ``heads`` (smallest first) whose root the entries reproduce, hashing them
    on from the verified tree."""
    tree = verified.copy()
    with (directory / ENTRIES_FILE).open("rb") as entries:
        lines = (line.removesuffix(b"\n") for line in islice(entries, tree.size, None))
        for head in heads:
            while tree.size < head.tree_size:
                batch = list(islice(lines, min(WINDOW, head.tree_size - tree.size)))
                if not batch:
                    return None
                tree.extend(leaf_hashes(batch))
            if tree.root() == head.root:
                return head
    return None


def _unrecorded_entry(directory: Path, start: int, head: SignedHead) -> Problem | None:
    """The first entry from ``start`` to ``head`` that the index has no record of: the index is
    malformed, and cannot say which entry of that range (which does not reproduce ``head``'s
    root) differs, as it may be that one or any after it."""
    records = read_index_records(directory / INDEX_FILE, start, head.tree_size)
    missing = next((i for i in range(start, head.tree_size) if i not in records), None)
    if missing is None:
        return None
    gap = (
        f"has no record of entry {missing}"
        if any(i > missing for i in records)
        else f"has no records from entry {missing} on"
    )
    return Problem(
        ProblemKind.MALFORMED_EXPORT,
        f"{INDEX_FILE} {gap}, though {ENTRIES_FILE} holds it: entries "
        f"{start}..{head.tree_size - 1} do not reproduce the root signed in {head.location}, "
        "and without the index the entry that differs cannot be named",
        missing,
        None,
        f"{INDEX_FILE} line {missing + 1}",
    )


def _unexplained(start: int, head: SignedHead) -> Problem:
    if start == head.tree_size:
        message = (
            f"{head.location} signs a root for tree size {head.tree_size} that is not the root "
            "of that many entries"
        )
    else:
        message = (
            f"entries {start}..{head.tree_size - 1} do not reproduce the root signed in "
            f"{head.location} (tree size {head.tree_size}): one of them was changed, inserted, "
            "removed or reordered since the previous checkpoint"
        )
    return Problem(ProblemKind.ROOT_MISMATCH, message, None, None, head.location)


def _quick_index(line: bytes) -> int | None:
    if not line.startswith(_INDEX_PREFIX):
        return None
    digits = line[len(_INDEX_PREFIX) : line.find(b",")]
    return int(digits) if digits.isdigit() else None
