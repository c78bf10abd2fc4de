"""The signing key from settings, or generated once into the data directory; rotation."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from shared.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from shared.audit.errors import UntrustedNoteError
from shared.audit.keys import KEY_FILE, MissingSigningKey, load_audit_keys, trusted_verifiers
from shared.audit.note import Signer
from shared.settings import Settings

ORIGIN = "kyodo.example/audit/nerima"


def note_signed_by(signer: Signer) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, 1, bytes(32)), [signer])


def test_a_key_is_generated_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    first = load_audit_keys(settings)
    path = tmp_path / "var" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.source == str(path)
    again = load_audit_keys(settings)
    assert again.signer.key_string() == first.signer.key_string()
    assert first.signer.name == "kyodo.example/audit"
    assert list(tmp_path.joinpath("var").iterdir()) == [path]


def test_without_creation_a_missing_key_is_an_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    with pytest.raises(MissingSigningKey, match="KYODO_AUDIT_SIGNING_KEY"):
        load_audit_keys(settings, create=False)
    assert trusted_verifiers(settings) == []
    assert not (tmp_path / KEY_FILE).exists()


def test_a_configured_key_signs_and_old_keys_stay_trusted(tmp_path: Path) -> None:
    generated = load_audit_keys(Settings(data_dir=tmp_path)).signer
    older = Signer.generate("kyodo.example/audit")
    newest = Signer.generate("kyodo.example/audit")
    settings = Settings(
        data_dir=tmp_path,
        audit_signing_key=SecretStr(newest.key_string()),
        audit_trusted_keys=[older.verifier().key_string()],
    )
    keys = load_audit_keys(settings)
    assert keys.source == "settings"
    assert keys.signer.key_string() == newest.key_string()
    assert keys.verifiers[0].key_string() == newest.verifier().key_string()
    for signer in (generated, older, newest):
        open_checkpoint(note_signed_by(signer), keys.verifiers, origin=ORIGIN)
    with pytest.raises(UntrustedNoteError):
        open_checkpoint(note_signed_by(Signer.generate("x")), keys.verifiers, origin=ORIGIN)


def test_the_signing_key_is_not_shown_in_settings(tmp_path: Path) -> None:
    secret = Signer.generate("kyodo.example/audit").key_string()
    settings = Settings(data_dir=tmp_path, audit_signing_key=SecretStr(secret))
    assert secret not in repr(settings)
