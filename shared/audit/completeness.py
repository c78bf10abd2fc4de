"""Whether an export holds what its manifest says it was written with.

The manifest is not signed, so it cannot prove anything on its own; but an export that lost its
latest checkpoints together with their entries is otherwise a valid, shorter log, and only the
counts the manifest states show that something is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from shared.audit.diagnose import read_index_records
from shared.audit.export import CHECKPOINTS_DIR, ENTRIES_FILE, INDEX_FILE, MANIFEST_FILE, Manifest
from shared.audit.problems import Problem, ProblemKind, SignedHead


def manifest_mismatch(manifest: Manifest) -> Problem | None:
    """The manifest's ward and log origin must name the same log."""
    if manifest.origin.endswith(f"/{manifest.ward}"):
        return None
    return Problem(
        ProblemKind.MALFORMED_EXPORT,
        f"{MANIFEST_FILE} names ward {manifest.ward!r} but log {manifest.origin!r}, which is "
        "another ward's",
        location=MANIFEST_FILE,
    )


def missing_from_export(
    directory: Path, manifest: Manifest, heads: Sequence[SignedHead], entries: int
) -> Problem | None:
    """Fewer entries or checkpoints than the manifest states (more are checked on their own:
    every entry must be covered by a checkpoint, and every checkpoint verifies)."""
    entries_short = entries < manifest.entries
    if not entries_short and len(heads) >= manifest.checkpoints:
        return None
    latest = (
        f"the latest, {heads[-1].location}, signs tree size {heads[-1].tree_size}"
        if heads
        else "none is left"
    )
    message = (
        f"the export is truncated: {MANIFEST_FILE} states {manifest.entries:,} entries and "
        f"{manifest.checkpoints:,} checkpoints, but it holds {entries:,} entries and "
        f"{len(heads):,} checkpoints ({latest})"
    )
    if not entries_short:
        return Problem(
            ProblemKind.TRUNCATED_EXPORT,
            f"{message}: checkpoint files were removed",
            location=f"{CHECKPOINTS_DIR}/",
        )
    records = read_index_records(directory / INDEX_FILE, entries, entries + 1)
    event_id = records[entries].event_id if records else None
    named = f" ({event_id})" if event_id else ""
    return Problem(
        ProblemKind.TRUNCATED_EXPORT,
        f"{message}: entry {entries}{named} and later were removed",
        entries,
        event_id,
        ENTRIES_FILE,
    )
