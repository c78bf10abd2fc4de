"""Reading and tampering with an export's entries file, and checking what verification says."""

from __future__ import annotations

import json
from pathlib import Path

from shared.audit.checkpoint import issue_checkpoint
from shared.audit.export import ENTRIES_FILE, INDEX_FILE, export_log
from shared.audit.log import AuditLog
from shared.audit.note import Signer
from shared.audit.problems import ProblemKind
from shared.audit.store import InMemoryLogStore
from shared.audit.verify import VerificationReport

from .conftest import ORIGIN, WARD, make_envelope


def export_of_batches(directory: Path, signer: Signer, events: int, batch: int) -> Path:
    """An export of ``events`` events with a signed checkpoint after every ``batch``."""
    store = InMemoryLogStore(WARD)
    log = AuditLog(store)
    for start in range(0, events, batch):
        log.append(make_envelope(n) for n in range(start, min(start + batch, events)))
        issue_checkpoint(log, [signer], origin=ORIGIN)
    export_log(store, directory, origin=ORIGIN, verifiers=[signer.verifier()])
    return directory


def event_id(number: int) -> str:
    return str(make_envelope(number)["event_id"])


def forged_line(number: int) -> bytes:
    return json.dumps(make_envelope(number), separators=(",", ":"), sort_keys=True).encode()


def entry_lines(directory: Path) -> list[bytes]:
    return (directory / ENTRIES_FILE).read_bytes().splitlines()


def write_entry_lines(directory: Path, lines: list[bytes]) -> None:
    (directory / ENTRIES_FILE).write_bytes(b"".join(line + b"\n" for line in lines))


def assert_problem(report: VerificationReport, kind: ProblemKind, index: int | None) -> str:
    assert report.problem is not None, "tampering was not detected"
    assert report.problem.kind == kind, report.problem.message
    assert report.problem.index == index, report.problem.message
    return report.problem.message


def index_lines(directory: Path) -> list[bytes]:
    return (directory / INDEX_FILE).read_bytes().splitlines()


def write_index_lines(directory: Path, lines: list[bytes]) -> None:
    (directory / INDEX_FILE).write_bytes(b"".join(line + b"\n" for line in lines))
