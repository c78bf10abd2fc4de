"""Problems that verification of an exported log reports."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.audit.errors import AuditError


class ProblemKind(StrEnum):
    MALFORMED_EXPORT = "malformed-export"
    TRUNCATED_EXPORT = "truncated-export"
    MALFORMED_CHECKPOINT = "malformed-checkpoint"
    BAD_SIGNATURE = "bad-signature"
    UNKNOWN_KEY = "unknown-key"
    WRONG_ORIGIN = "wrong-origin"
    CHECKPOINTS_OUT_OF_ORDER = "checkpoints-out-of-order"
    CONFLICTING_CHECKPOINTS = "conflicting-checkpoints"
    CHANGED_ENTRY = "changed-entry"
    REMOVED_ENTRY = "removed-entry"
    INSERTED_ENTRY = "inserted-entry"
    REORDERED_ENTRIES = "reordered-entries"
    UNCOVERED_ENTRY = "uncovered-entry"
    ROOT_MISMATCH = "root-mismatch"


@dataclass(frozen=True, slots=True)
class Problem:
    """What is wrong and where: ``index`` and ``event_id`` name the entry when one is known,
    ``location`` the file (and line) that shows it."""

    kind: ProblemKind
    message: str
    index: int | None = None
    event_id: str | None = None
    location: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A verified checkpoint: the tree size and root it signs, and the file it came from."""

    tree_size: int
    root: bytes
    location: str


class VerificationError(AuditError):
    """Carries the first problem found out of the checks that found it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem
