"""Offline verification of an exported audit log.

Checks, in this order, and stops at the first problem: the manifest and keys; every checkpoint's
signature, origin and order, and that no two checkpoints sign different roots for one size; then
the entries, hashed from the start, against the root of every checkpoint at its size (which also
proves the checkpoints consistent with each other); that no entry or checkpoint the manifest
states is missing; finally that the entries end exactly at the latest checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from shared.audit.checkpoint import open_checkpoint
from shared.audit.compact import CompactRange
from shared.audit.completeness import manifest_mismatch, missing_from_export
from shared.audit.diagnose import explain_mismatch, explain_shortfall
from shared.audit.errors import (
    BadSignatureError,
    CheckpointError,
    ExportFormatError,
    NoteError,
    UntrustedNoteError,
)
from shared.audit.export import (
    CHECKPOINTS_DIR,
    ENTRIES_FILE,
    Manifest,
    read_checkpoint_notes,
    read_manifest,
    read_verifier_keys,
)
from shared.audit.merkle import perfect_subtrees
from shared.audit.note import Verifier
from shared.audit.problems import Problem, ProblemKind, SignedHead, VerificationError
from shared.audit.scan import ChunkSummary, read_lines, summarise_file
from shared.audit.window import envelope_event_id

Progress = Callable[[int, int], None]
"""Called with (entries hashed so far, entries in the export) as verification advances."""


@dataclass(frozen=True, slots=True)
class VerificationReport:
    directory: Path
    origin: str | None
    entries_verified: int
    """Entries covered by the last checkpoint whose root was reproduced."""
    checkpoints_verified: int
    root: bytes
    """Root of the tree of the verified entries."""
    keys_from_export: bool
    """True when no trusted keys were given and the export's own key file was believed."""
    problem: Problem | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_export(
    directory: Path,
    *,
    trusted_keys: Sequence[Verifier] | None = None,
    progress: Progress | None = None,
    workers: int | None = None,
    pinned: Sequence[Path] = (),
) -> VerificationReport:
    """Verify an export directory. ``trusted_keys`` should come from a source other than the
    export itself; without them the export's own ``verifier-keys.txt`` is used. ``pinned`` are
    checkpoint files obtained elsewhere (a signed note, or the JSON of the checkpoint route):
    the entries must reach each one's size and reproduce its root."""
    started = time.perf_counter()
    scan = _EntryScan(directory, progress)
    origin: str | None = None
    problem: Problem | None = None
    try:
        manifest = _read_manifest(directory)
        origin = manifest.origin
        keys = list(trusted_keys) if trusted_keys is not None else _read_keys(directory)
        heads = check_checkpoints(directory, keys, manifest)
        expected = _with_pinned(heads, _pinned_heads(pinned, keys, manifest))
        scan.run(expected, manifest.entries, workers)
        _raise_first(
            missing_from_export(directory, manifest, heads, scan.total),
            scan.uncovered(),
            _nothing_signed(heads),
        )
    except VerificationError as found:
        problem = found.problem
    return VerificationReport(
        directory,
        origin,
        scan.verified.size,
        scan.checkpoints_verified,
        scan.verified.root(),
        trusted_keys is None,
        problem,
        time.perf_counter() - started,
    )


def check_checkpoints(
    directory: Path, keys: Iterable[Verifier], manifest: Manifest
) -> list[SignedHead]:
    """Verified heads in file order; raises VerificationError at the first bad checkpoint."""
    keys = list(keys)
    heads: list[SignedHead] = []
    by_size: dict[int, SignedHead] = {}
    for location, note in _read_notes(directory):
        head = _open_head(location, note, keys, manifest.origin)
        if heads and head.tree_size < heads[-1].tree_size:
            raise VerificationError(_out_of_order(heads[-1], head))
        earlier = by_size.setdefault(head.tree_size, head)
        if earlier.root != head.root:
            raise VerificationError(_conflict(earlier, head))
        heads.append(head)
    return heads


def _pinned_heads(
    paths: Sequence[Path], keys: list[Verifier], manifest: Manifest
) -> list[SignedHead]:
    return [_open_head(str(path), _read_pinned(path), keys, manifest.origin) for path in paths]


def _with_pinned(heads: list[SignedHead], pinned: list[SignedHead]) -> list[SignedHead]:
    """The export's heads and the pinned ones, by tree size; a pinned head must not sign
    another root for the size of one of the export's."""
    by_size = {head.tree_size: head for head in heads}
    for head in pinned:
        earlier = by_size.get(head.tree_size, head)
        if earlier.root != head.root:
            raise VerificationError(_conflict(earlier, head))
    return sorted([*heads, *pinned], key=lambda head: head.tree_size)


def _read_pinned(path: Path) -> str:
    """The note in a checkpoint file: the note itself, or ``{"note": ...}`` as served."""
    try:
        text = path.read_text(encoding="utf-8")
        if not text.lstrip().startswith("{"):
            return text
        note = json.loads(text).get("note")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as error:
        problem = _at(ProblemKind.MALFORMED_CHECKPOINT, str(path), error)
        raise VerificationError(problem) from error
    if not isinstance(note, str):
        message = f"{path}: no signed note in this JSON"
        raise VerificationError(
            Problem(ProblemKind.MALFORMED_CHECKPOINT, message, location=str(path))
        )
    return note


class _EntryScan:
    """Hashes the entries once, checking each checkpoint's root at its tree size."""

    def __init__(self, directory: Path, progress: Progress | None) -> None:
        self._directory = directory
        self._progress = progress
        self._tree = CompactRange()
        self.verified = CompactRange()
        self.checkpoints_verified = 0
        self._pending: list[SignedHead] = []
        self._expected_total = 0
        self.total = 0
        """Entries in the export, once run."""

    def run(self, heads: list[SignedHead], expected_total: int, workers: int | None) -> None:
        self._pending = list(reversed(heads))
        self._expected_total = expected_total
        self._check_heads_at(self._tree)
        path = self._directory / ENTRIES_FILE
        if not path.is_file():
            raise VerificationError(
                Problem(ProblemKind.MALFORMED_EXPORT, f"{ENTRIES_FILE} is missing")
            )
        for summary in summarise_file(path, [head.tree_size for head in heads], workers):
            self._add_chunk(summary)
            if self._progress:
                self._progress(self._tree.size, max(self._tree.size, self._expected_total))
        self.total = self._tree.size
        self._check_end(self.total)

    def _add_chunk(self, summary: ChunkSummary) -> None:
        """Grows the tree by one chunk, checking the heads signed at sizes inside it."""
        base = self._tree
        for size, cover in sorted(summary.covers.items()):
            tree = base.copy()
            for (level, _index), subtree_hash in zip(
                perfect_subtrees(base.size, size), cover, strict=True
            ):
                tree.append_subtree(level, subtree_hash)
            self._check_heads_at(tree)
            self._tree = tree

    def _check_heads_at(self, tree: CompactRange) -> None:
        while self._pending and self._pending[-1].tree_size == tree.size:
            head = self._pending[-1]
            if tree.root() != head.root:
                later = self._pending[-2::-1]
                problem = explain_mismatch(self._directory, self.verified, head, later)
                raise VerificationError(problem)
            self._pending.pop()
            self.verified = tree
            self.checkpoints_verified += 1

    def _check_end(self, total: int) -> None:
        if self._pending:
            head = self._pending[-1]
            raise VerificationError(explain_shortfall(self._directory, self.verified, head, total))

    def uncovered(self) -> Problem | None:
        """The first entry after the latest checkpoint, if any."""
        index = self.verified.size
        if self.total <= index:
            return None
        lines = read_lines(self._directory / ENTRIES_FILE, index, index + 1)
        event_id = envelope_event_id(lines[0]) if lines else None
        return Problem(
            ProblemKind.UNCOVERED_ENTRY,
            f"entry {index} ({event_id}) is not covered by any checkpoint: the latest signs "
            f"{index} entries, so this entry was added to the export afterwards",
            index,
            event_id,
            f"{ENTRIES_FILE} line {index + 1}",
        )


def _nothing_signed(heads: Sequence[SignedHead]) -> Problem | None:
    """An export is signed by at least one checkpoint (an empty log's signs the empty tree)."""
    if heads:
        return None
    message = "the export holds no checkpoint, so nothing in it is signed"
    return Problem(ProblemKind.MALFORMED_EXPORT, message, location=f"{CHECKPOINTS_DIR}/")


def _read_manifest(directory: Path) -> Manifest:
    try:
        manifest = read_manifest(directory)
    except ExportFormatError as error:
        raise VerificationError(Problem(ProblemKind.MALFORMED_EXPORT, str(error))) from error
    _raise_first(manifest_mismatch(manifest))
    return manifest


def _raise_first(*problems: Problem | None) -> None:
    for problem in problems:
        if problem is not None:
            raise VerificationError(problem)


def _read_keys(directory: Path) -> list[Verifier]:
    try:
        return read_verifier_keys(directory)
    except (ExportFormatError, NoteError) as error:
        raise VerificationError(Problem(ProblemKind.MALFORMED_EXPORT, str(error))) from error


def _read_notes(directory: Path) -> list[tuple[str, str]]:
    try:
        return read_checkpoint_notes(directory)
    except ExportFormatError as error:
        raise VerificationError(Problem(ProblemKind.MALFORMED_EXPORT, str(error))) from error


def _open_head(location: str, note: str, keys: list[Verifier], origin: str) -> SignedHead:
    try:
        checkpoint = open_checkpoint(note, keys).checkpoint
    except BadSignatureError as error:
        raise VerificationError(_at(ProblemKind.BAD_SIGNATURE, location, error)) from error
    except UntrustedNoteError as error:
        raise VerificationError(_at(ProblemKind.UNKNOWN_KEY, location, error)) from error
    except (NoteError, CheckpointError) as error:
        raise VerificationError(_at(ProblemKind.MALFORMED_CHECKPOINT, location, error)) from error
    if checkpoint.origin != origin:
        message = f"{location}: checkpoint is for log {checkpoint.origin!r}, not {origin!r}"
        raise VerificationError(Problem(ProblemKind.WRONG_ORIGIN, message, location=location))
    return SignedHead(checkpoint.tree_size, checkpoint.root, location)


def _at(kind: ProblemKind, location: str, error: Exception) -> Problem:
    return Problem(kind, f"{location}: {error}", location=location)


def _out_of_order(previous: SignedHead, head: SignedHead) -> Problem:
    return Problem(
        ProblemKind.CHECKPOINTS_OUT_OF_ORDER,
        f"{head.location} (tree size {head.tree_size}) comes after {previous.location} "
        f"(tree size {previous.tree_size}): checkpoints must grow",
        location=head.location,
    )


def _conflict(earlier: SignedHead, head: SignedHead) -> Problem:
    return Problem(
        ProblemKind.CONFLICTING_CHECKPOINTS,
        f"{earlier.location} and {head.location} both sign tree size {head.tree_size} but with "
        f"different roots ({earlier.root.hex()[:16]}… and {head.root.hex()[:16]}…): "
        "the log signed two different histories",
        location=head.location,
    )
