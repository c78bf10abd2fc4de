"""The audit log's signing key and the verifier keys it trusts, from settings.

The signing key is ``settings.audit_signing_key``; without one, a key is generated on first
start and kept in ``data_dir/audit-signing.key`` (mode 0600), so restarts sign with the same key.
Rotation: configure a new signing key and list the old verifier keys in
``settings.audit_trusted_keys``; new checkpoints are signed with the new key and checkpoints of
any trusted key still verify. A generated key file left in ``data_dir`` stays trusted too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from shared.audit.errors import NoteError
from shared.audit.note import Signer, Verifier
from shared.settings import Settings

KEY_FILE = "audit-signing.key"


class MissingSigningKey(NoteError):
    """No signing key is configured and none was generated yet."""


@dataclass(frozen=True, slots=True)
class AuditKeys:
    signer: Signer
    verifiers: tuple[Verifier, ...]
    """The signer's own verifier first, then every other trusted key."""
    source: str
    """Where the signing key came from: ``settings`` or the key file's path."""


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def load_audit_keys(settings: Settings, *, create: bool = True) -> AuditKeys:
    """The signer and trusted verifiers; generates the key file when allowed and needed."""
    generated = _read_key_file(key_file(settings))
    configured = settings.audit_signing_key
    if configured is not None:
        signer, source = Signer.from_key_string(configured.get_secret_value()), "settings"
    elif generated is not None:
        signer, source = generated, str(key_file(settings))
    elif create:
        signer, source = _generate_key_file(settings), str(key_file(settings))
    else:
        raise MissingSigningKey(
            f"no audit signing key: set KYODO_AUDIT_SIGNING_KEY or start the audit service "
            f"once to generate {key_file(settings)}"
        )
    others = [Verifier.from_key_string(key) for key in settings.audit_trusted_keys]
    if generated is not None:
        others.append(generated.verifier())
    return AuditKeys(signer, _unique([signer.verifier(), *others]), source)


def trusted_verifiers(settings: Settings) -> list[Verifier]:
    """Every verifier key this deployment trusts, without creating a signing key."""
    try:
        return list(load_audit_keys(settings, create=False).verifiers)
    except MissingSigningKey:
        return [Verifier.from_key_string(key) for key in settings.audit_trusted_keys]


def _read_key_file(path: Path) -> Signer | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    return Signer.from_key_string(text)


def _generate_key_file(settings: Settings) -> Signer:
    path = key_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    signer = Signer.generate(settings.audit_origin_prefix)
    draft = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(signer.key_string() + "\n")
        file.flush()
        os.fsync(file.fileno())
    try:
        # A hard link appears complete or not at all; when two processes start at once,
        # the first key linked wins and both use it.
        os.link(draft, path)
    except FileExistsError:
        existing = _read_key_file(path)
        if existing is None:
            raise
        return existing
    finally:
        draft.unlink()
    return signer


def _unique(verifiers: list[Verifier]) -> tuple[Verifier, ...]:
    by_key: dict[str, Verifier] = {}
    for verifier in verifiers:
        by_key.setdefault(verifier.key_string(), verifier)
    return tuple(by_key.values())
