"""The export directory of one ward's audit log, for offline verification.

Layout (all text UTF-8)::

    log.json             manifest: format, ward, origin, entry and checkpoint counts
    entries.jsonl        line i = the leaf bytes of entry i, verbatim (its canonical JSON envelope)
    index.jsonl          line i = {"index": i, "event_id": ..., "leaf_hash": base64}
    checkpoints/         000001.note, 000002.note, ...: signed checkpoints, smallest size first
    verifier-keys.txt    the log's verifier keys, one per line

Leaf bytes are RFC 8785 JSON, which never contains a newline, so they are stored verbatim rather
than base64: the file can be read with any JSON-lines tool and verified at hashing speed. The
export stops at the latest checkpoint, so that every entry is covered by a signature.
``index.jsonl`` repeats what the log recorded when each entry was appended; it is not signed and
only serves to locate a change once the signed roots show one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shared.audit.errors import ExportFormatError
from shared.audit.note import Verifier
from shared.audit.store import LogEntry, LogStore

FORMAT = "kyodo-audit-export/1"
MANIFEST_FILE = "log.json"
ENTRIES_FILE = "entries.jsonl"
INDEX_FILE = "index.jsonl"
CHECKPOINTS_DIR = "checkpoints"
VERIFIER_KEYS_FILE = "verifier-keys.txt"
_NOTE_SUFFIX = ".note"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Manifest:
    ward: str
    origin: str
    entries: int
    checkpoints: int
    format: str = FORMAT


@dataclass(frozen=True, slots=True)
class IndexRecord:
    """What the log recorded for one entry: its position, event id and leaf hash."""

    index: int
    event_id: str
    leaf_hash: bytes


def export_log(
    store: LogStore, directory: Path, *, origin: str, verifiers: Sequence[Verifier]
) -> Manifest:
    """Write the log up to its latest checkpoint into ``directory`` (new or empty). With a SQL
    store, run it in one transaction so that entries and checkpoints come from one snapshot."""
    _prepare_empty_directory(directory)
    checkpoints = store.checkpoints()
    tree_size = checkpoints[-1].tree_size if checkpoints else 0
    written = _write_entries(directory, store.entries(0, tree_size))
    for number, checkpoint in enumerate(checkpoints, start=1):
        note_path = directory / CHECKPOINTS_DIR / f"{number:06d}{_NOTE_SUFFIX}"
        note_path.write_text(checkpoint.note, encoding="utf-8")
    keys = "".join(f"{verifier.key_string()}\n" for verifier in verifiers)
    (directory / VERIFIER_KEYS_FILE).write_text(keys, encoding="utf-8")
    manifest = Manifest(store.ward, origin, written, len(checkpoints))
    _write_manifest(directory, manifest)
    return manifest


def index_line(entry: LogEntry) -> bytes:
    record = {
        "index": entry.index,
        "event_id": entry.event_id,
        "leaf_hash": base64.b64encode(entry.leaf_hash).decode(),
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def parse_index_line(line: bytes) -> IndexRecord:
    try:
        record = json.loads(line)
        leaf_hash = base64.b64decode(record["leaf_hash"], validate=True)
        index, event_id = record["index"], record["event_id"]
    except (ValueError, KeyError, TypeError) as error:
        raise ExportFormatError(f"malformed index line {line[:80]!r}") from error
    if not isinstance(index, int) or not isinstance(event_id, str):
        raise ExportFormatError(f"malformed index line {line[:80]!r}")
    return IndexRecord(index, event_id, leaf_hash)


def read_manifest(directory: Path) -> Manifest:
    _require_export_directory(directory)
    try:
        raw = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
        manifest = Manifest(
            ward=_field(raw, "ward", str),
            origin=_field(raw, "origin", str),
            entries=_field(raw, "entries", int),
            checkpoints=_field(raw, "checkpoints", int),
            format=_field(raw, "format", str),
        )
    except (OSError, ValueError) as error:
        raise ExportFormatError(f"cannot read {MANIFEST_FILE}: {error}") from error
    if manifest.format != FORMAT:
        raise ExportFormatError(f"{MANIFEST_FILE} has format {manifest.format!r}, not {FORMAT!r}")
    return manifest


def read_verifier_keys(directory: Path) -> list[Verifier]:
    _require_export_directory(directory)
    path = directory / VERIFIER_KEYS_FILE
    try:
        lines = path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as error:
        raise ExportFormatError(f"cannot read {VERIFIER_KEYS_FILE}: {error}") from error
    return [Verifier.from_key_string(line) for line in lines]


def read_checkpoint_notes(directory: Path) -> list[tuple[str, str]]:
    """``(file name, signed note)`` of every checkpoint, in file name order."""
    folder = directory / CHECKPOINTS_DIR
    if not folder.is_dir():
        raise ExportFormatError(f"export has no {CHECKPOINTS_DIR}/ folder")
    paths = sorted(folder.glob(f"*{_NOTE_SUFFIX}"))
    return [(f"{CHECKPOINTS_DIR}/{path.name}", _read_text(path)) for path in paths]


def iter_leaves(directory: Path) -> Iterator[bytes]:
    """The leaf bytes of every entry, in order."""
    with (directory / ENTRIES_FILE).open("rb") as entries:
        for line in entries:
            yield line.removesuffix(b"\n")


def iter_index(directory: Path) -> Iterator[IndexRecord]:
    with (directory / INDEX_FILE).open("rb") as index:
        for line in index:
            yield parse_index_line(line)


def _write_entries(directory: Path, entries: Iterator[LogEntry]) -> int:
    written = 0
    with (
        (directory / ENTRIES_FILE).open("wb") as leaves,
        (directory / INDEX_FILE).open("wb") as index,
    ):
        for entry in entries:
            if b"\n" in entry.leaf:
                raise ExportFormatError(f"leaf {entry.index} contains a newline")
            leaves.write(entry.leaf + b"\n")
            index.write(index_line(entry))
            written += 1
    return written


def _prepare_empty_directory(directory: Path) -> None:
    if directory.exists() and not directory.is_dir():
        raise ExportFormatError(
            f"{directory} is not a directory: export needs a new or empty directory"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        in_use = any(directory.iterdir())
    except OSError as error:
        message = f"cannot make or read the export directory {directory}: {error.strerror}"
        raise ExportFormatError(message) from error
    if in_use:
        raise ExportFormatError(f"export directory {directory} is not empty")
    (directory / CHECKPOINTS_DIR).mkdir()


def _write_manifest(directory: Path, manifest: Manifest) -> None:
    content = {
        "format": manifest.format,
        "ward": manifest.ward,
        "origin": manifest.origin,
        "entries": manifest.entries,
        "checkpoints": manifest.checkpoints,
        "files": {
            "entries": ENTRIES_FILE,
            "index": INDEX_FILE,
            "checkpoints": f"{CHECKPOINTS_DIR}/",
            "verifier_keys": VERIFIER_KEYS_FILE,
        },
    }
    text = json.dumps(content, ensure_ascii=False, indent=2) + "\n"
    (directory / MANIFEST_FILE).write_text(text, encoding="utf-8")


def _field(raw: Any, name: str, kind: type[T]) -> T:
    value = raw.get(name) if isinstance(raw, dict) else None
    if not isinstance(value, kind):
        raise ValueError(f"field {name!r} is missing or not a {kind.__name__}")
    return value


def _require_export_directory(directory: Path) -> None:
    if not directory.is_dir():
        missing = "does not exist" if not directory.exists() else "is not a directory"
        raise ExportFormatError(f"there is no export at {directory}: it {missing}")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ExportFormatError(f"cannot read {path.name}: {error}") from error
