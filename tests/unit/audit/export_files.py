"""Reading and tampering with an export's entries file, and checking what verification says."""

from __future__ import annotations

import json
from pathlib import Path

from shared.audit.export import ENTRIES_FILE
from shared.audit.problems import ProblemKind
from shared.audit.verify import VerificationReport

from .conftest import make_envelope


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
