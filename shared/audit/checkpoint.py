"""Checkpoints in the C2SP tlog-checkpoint format: signed notes that commit to a tree head."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.audit import merkle
from shared.audit.errors import CheckpointError, NoteError, ProofError
from shared.audit.log import AuditLog
from shared.audit.note import Signer, VerifiedNote, Verifier, open_note, parse_note, sign_note
from shared.audit.store import StoredCheckpoint

DEFAULT_ORIGIN_PREFIX = "kyodo.example/audit"


def origin_for_ward(ward: str, prefix: str = DEFAULT_ORIGIN_PREFIX) -> str:
    """The log identity of a ward's audit log, e.g. ``kyodo.example/audit/nerima``."""
    if not ward or any(char.isspace() or char in "+/" for char in ward):
        raise CheckpointError(f"ward {ward!r} cannot be part of a log origin")
    return f"{prefix}/{ward}"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...] = ()
    """Opaque extra lines; this log writes none but accepts them as the format allows."""

    def body(self) -> str:
        """The note text: origin, tree size, base64 root hash and extensions, one per line."""
        root = base64.b64encode(self.root).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, self.tree_size, root, *self.extensions)
        )

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or "" in lines[:-1]:
            raise CheckpointError("checkpoint text must be origin, size and root lines, non-empty")
        origin, size_line, root_line, *extensions = lines[:-1]
        return cls(origin, _parse_tree_size(size_line), _parse_root(root_line), tuple(extensions))


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    checkpoint: Checkpoint
    note: VerifiedNote


def sign_checkpoint(checkpoint: Checkpoint, signers: Sequence[Signer]) -> str:
    return sign_note(checkpoint.body(), signers)


def open_checkpoint(
    note: str, verifiers: Iterable[Verifier], *, origin: str | None = None
) -> VerifiedCheckpoint:
    """Verify a checkpoint's signatures (NoteError on failure) and parse its body."""
    verified = open_note(note, verifiers)
    checkpoint = Checkpoint.from_body(verified.text)
    if origin is not None and checkpoint.origin != origin:
        raise CheckpointError(f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    return VerifiedCheckpoint(checkpoint, verified)


def read_unverified_checkpoint(note: str) -> Checkpoint:
    """The checkpoint in a note, without checking any signature."""
    return Checkpoint.from_body(parse_note(note).text)


def issue_checkpoint(
    log: AuditLog,
    signers: Sequence[Signer],
    *,
    origin: str,
    trusted: Sequence[Verifier] | None = None,
) -> StoredCheckpoint:
    """Sign and store a checkpoint at the log's current size.

    Refuses (CheckpointError) unless the latest checkpoint's note verifies with a ``trusted``
    key (by default the signers' own) and the stored tree is consistent with it, proven by a
    consistency proof from the stored subtree hashes. Without any checkpoint, only a log whose
    every entry this ``log`` appended can be signed: entries stored before with no checkpoint
    mean the checkpoints were removed. At an unchanged size the latest checkpoint is returned
    as it is.
    """
    tree_size = log.tree_size()
    root = log.root(tree_size)
    previous = log.store.latest_checkpoint()
    if previous is None:
        _require_first(log, tree_size)
    else:
        verifiers = trusted if trusted is not None else [s.verifier() for s in signers]
        _require_extends(log, previous, _signed(previous, verifiers, origin), tree_size, root)
        if previous.tree_size == tree_size:
            return previous
    note = sign_checkpoint(Checkpoint(origin, tree_size, root), signers)
    stored = StoredCheckpoint(tree_size, root, note)
    log.store.add_checkpoint(stored)
    return stored


def _require_first(log: AuditLog, tree_size: int) -> None:
    if tree_size > 0 and log.appended_from != 0:
        raise CheckpointError(
            f"refusing to sign size {tree_size}: the log holds entries that no checkpoint "
            "covers, so its earlier checkpoints are gone; restore them before signing"
        )


def _signed(previous: StoredCheckpoint, verifiers: Sequence[Verifier], origin: str) -> Checkpoint:
    try:
        return open_checkpoint(previous.note, verifiers, origin=origin).checkpoint
    except (NoteError, CheckpointError) as error:
        raise CheckpointError(
            f"refusing to sign: the checkpoint stored at size {previous.tree_size} does not "
            f"verify with a trusted key for {origin!r}: {error}"
        ) from error


def _require_extends(
    log: AuditLog, previous: StoredCheckpoint, signed: Checkpoint, tree_size: int, root: bytes
) -> None:
    if (signed.tree_size, signed.root) != (previous.tree_size, previous.root):
        raise CheckpointError(
            f"stored checkpoint at size {previous.tree_size} disagrees with its note"
        )
    if tree_size < previous.tree_size:
        raise CheckpointError(
            f"refusing to sign size {tree_size}: "
            f"smaller than the checkpoint at size {previous.tree_size}"
        )
    if previous.tree_size == 0:
        return
    proof = log.consistency_proof(previous.tree_size, tree_size)
    try:
        merkle.verify_consistency(previous.tree_size, tree_size, proof, previous.root, root)
    except ProofError as error:
        raise CheckpointError(
            f"refusing to sign size {tree_size}: the log is not consistent with the checkpoint "
            f"at size {previous.tree_size}: {error}"
        ) from error


def _parse_tree_size(line: str) -> int:
    if not line.isascii() or not line.isdigit() or (len(line) > 1 and line[0] == "0"):
        raise CheckpointError(f"checkpoint tree size {line!r} is not a plain decimal number")
    return int(line)


def _parse_root(line: str) -> bytes:
    try:
        root = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as error:
        raise CheckpointError("checkpoint root hash is not valid base64") from error
    if len(root) != merkle.HASH_SIZE:
        raise CheckpointError(f"checkpoint root hash is {len(root)} bytes, not {merkle.HASH_SIZE}")
    return root
