"""What was done at the first entry that differs from the recorded index: changed, swapped,
removed, inserted or moved.

A removal of ``k`` entries at ``i`` leaves the logged entry ``i + k`` at position ``i`` and every
later entry ``k`` places early; an insertion of ``n`` entries leaves the logged entry ``i`` at
``i + n`` and every later one ``n`` places late. Each explanation is accepted only when the
entries after the difference bear it out: LINE_UP of them, or all up to the end of the entries
and the index when both end there together. An entry or record that is not loaded bears out
nothing.
"""

from __future__ import annotations

from shared.audit.export import IndexRecord
from shared.audit.problems import Problem, ProblemKind
from shared.audit.window import EntryWindow, entry_problem

LINE_UP = 8
"""How many following entries must agree with a shift for it to explain a difference."""


def difference_at(window: EntryWindow, index: int) -> Problem | None:
    record = window.records.get(index)
    if record is None:
        return _missing_from_index(window, index)
    computed = window.hash_at(index)
    if computed is None or computed == record.leaf_hash:
        return None
    return (
        _swapped(window, record)
        or _logged_later(window, record, computed)
        or _inserted(window, record)
        or _changed(window, record)
    )


def _logged_later(window: EntryWindow, record: IndexRecord, computed: bytes) -> Problem | None:
    """The entry at ``record``'s place was logged later: a move earlier, or a removal."""
    found = window.records_by_hash.get(computed)
    if found is None or found.index <= record.index:
        return None
    return _moved_earlier(window, record, found) or _removed(window, record, found)


def _missing_from_index(window: EntryWindow, index: int) -> Problem | None:
    """Entry ``index`` is missing from the entries and the index alike when the entry in its
    place is the one recorded after it; otherwise the index alone cannot say what it holds."""
    following = window.records.get(index + 1)
    if following is None or window.hash_at(index) != following.leaf_hash:
        return None
    place = f"follows entry {index - 1}" if index else "comes first"
    return entry_problem(
        ProblemKind.REMOVED_ENTRY,
        f"entry {index} was removed: the export has no entry {index}; entry {index + 1} "
        f"({following.event_id}) {place}",
        index,
        None,
        index,
    )


def _swapped(window: EntryWindow, record: IndexRecord) -> Problem | None:
    index = record.index
    following = window.records.get(index + 1)
    if not (following and window.holds(index, index + 1) and window.holds(index + 1, index)):
        return None
    return entry_problem(
        ProblemKind.REORDERED_ENTRIES,
        f"entries {index} ({record.event_id}) and {index + 1} ({following.event_id}) were swapped",
        index,
        record.event_id,
        index,
    )


def _moved_earlier(window: EntryWindow, record: IndexRecord, moved: IndexRecord) -> Problem | None:
    """Entry ``moved`` stands at ``record``'s place, and the entries from there to where it
    belongs each stand one place late."""
    index, origin = record.index, moved.index
    if window.run_end(index + 1, -1, origin - index) != origin + 1:
        return None
    # A copy of ``moved`` standing where it belongs too fails here: it is an insertion.
    if not window.lines_up(origin + 1, 0, LINE_UP):
        return None
    return entry_problem(
        ProblemKind.REORDERED_ENTRIES,
        f"entry {origin} ({moved.event_id}) was moved to {index}: it stands before entry "
        f"{index} ({record.event_id})",
        origin,
        moved.event_id,
        index,
    )


def _removed(window: EntryWindow, record: IndexRecord, found: IndexRecord) -> Problem | None:
    index, count = record.index, found.index - record.index
    end = window.run_end(index, count, window.stop - index)
    # True only once both files have ended together: the removal holds to the end.
    if window.holds(end, end + count) is not True:
        moved = _moved_later(window, record, end, count)
        if moved or end - index < LINE_UP:
            return moved
    return _removal(record, found)


def _moved_later(
    window: EntryWindow, record: IndexRecord, position: int, count: int
) -> Problem | None:
    """The ``count`` entries from ``record`` on, missing from their place, stand together at
    ``position`` and the entries after them are in place again."""
    index = record.index
    if window.run_end(position, index - position, count) != position + count:
        return None
    if not window.lines_up(position + count, 0, LINE_UP):
        return None
    before = window.records[position - 1 + count]
    what = (
        f"entry {index} ({record.event_id}) was"
        if count == 1
        else (f"entries {index}..{index + count - 1} were")
    )
    return entry_problem(
        ProblemKind.REORDERED_ENTRIES,
        f"{what} moved to {position}: after entry {before.index} ({before.event_id})",
        index,
        record.event_id,
        index,
    )


def _removal(record: IndexRecord, found: IndexRecord) -> Problem:
    index = record.index
    if found.index == index + 1:
        message = (
            f"entry {index} ({record.event_id}) was removed: entry {found.index} "
            f"({found.event_id}) stands in its place"
        )
    else:
        message = (
            f"entries {index}..{found.index - 1} were removed: entry {found.index} "
            f"({found.event_id}) stands where entry {index} ({record.event_id}) belongs"
        )
    return entry_problem(ProblemKind.REMOVED_ENTRY, message, index, record.event_id, index)


def _inserted(window: EntryWindow, record: IndexRecord) -> Problem | None:
    """The logged entry stands a few places late and the entries after it line up."""
    index = record.index
    for position in window.find(record.leaf_hash, index):
        count = position - index
        if window.lines_up(position, -count, LINE_UP):
            return _insertion(window, record, count)
    return None


def _insertion(window: EntryWindow, record: IndexRecord, count: int) -> Problem:
    index = record.index
    event_id = window.event_id_at(index)
    if count > 1:
        message = (
            f"{count} entries were inserted at {index}, the first {event_id}: the logged "
            f"entry {index} ({record.event_id}) follows them"
        )
    else:
        copied = window.records_by_hash.get(window.hash_at(index) or b"")
        copy = f", a copy of entry {copied.index}" if copied else ""
        message = (
            f"entry {index} ({event_id}) was inserted{copy}: the logged entry {index} "
            f"({record.event_id}) follows it"
        )
    return entry_problem(ProblemKind.INSERTED_ENTRY, message, index, event_id, index)


def _changed(window: EntryWindow, record: IndexRecord) -> Problem:
    index = record.index
    found = _what_it_reads(window, index, record.event_id)
    return entry_problem(
        ProblemKind.CHANGED_ENTRY,
        f"entry {index} ({record.event_id}) was changed: its bytes no longer hash to the leaf "
        f"hash logged for it{found}",
        index,
        record.event_id,
        index,
    )


def _what_it_reads(window: EntryWindow, index: int, logged_id: str) -> str:
    if window.reads_as_json(index) is False:
        return "; it no longer reads as JSON"
    found_id = window.event_id_at(index)
    return "" if found_id == logged_id else f"; its event_id now reads {found_id!r}"
