"""Exceptions raised by the audit log."""


class AuditError(Exception):
    """Base class of every audit log error."""


class ProofError(AuditError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""


class LeafEncodingError(AuditError):
    """An event envelope cannot be turned into leaf bytes."""


class NoteError(AuditError):
    """A signed note or a key string is malformed."""


class BadSignatureError(NoteError):
    """A signature from a known key does not verify."""


class UntrustedNoteError(NoteError):
    """No signature from a known key is present on a note."""


class CheckpointError(AuditError):
    """A checkpoint is malformed, or signing it would contradict an earlier one."""


class ExportFormatError(AuditError):
    """An export directory or one of its lines is not in the expected format."""


class ReplayError(AuditError):
    """The log cannot be replayed: it does not reproduce its signed checkpoint, one of its
    leaves is not an event of its ward, or the selection or the target is unusable."""
