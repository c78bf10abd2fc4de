"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys.

Key strings follow the reference implementation (golang.org/x/mod/sumdb/note): a verifier key
is ``<name>+<hex key id>+<base64(0x01 || public key)>`` and a signer key is
``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || private seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.audit.errors import BadSignatureError, NoteError, UntrustedNoteError

ED25519 = 0x01
SIGNATURE_PREFIX = "— "
MAX_SIGNATURES = 100
_KEY_ID_SIZE = 4
_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
_CONTROL_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f]")


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(key name || 0x0A || 0x01 || 32-byte Ed25519 public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A named Ed25519 public key that checks note signatures."""

    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @classmethod
    def from_public_key(cls, name: str, public_key: Ed25519PublicKey) -> Verifier:
        _require_key_name(name)
        return cls(name, key_id(name, _raw_public_key(public_key)), public_key)

    @classmethod
    def from_key_string(cls, vkey: str) -> Verifier:
        parts = vkey.split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"malformed verifier key {vkey!r}")
        name, id_hex, encoded = parts
        raw = _decode_typed_key(encoded, vkey)
        verifier = cls.from_public_key(name, Ed25519PublicKey.from_public_bytes(raw))
        _require_key_id(verifier.key_id, id_hex, vkey)
        return verifier

    def key_string(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + _raw_public_key(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def accepts(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Signer:
    """A named Ed25519 private key that signs notes."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls, name: str) -> Signer:
        return cls.from_private_key(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_key(cls, name: str, private_key: Ed25519PrivateKey) -> Signer:
        _require_key_name(name)
        return cls(name, key_id(name, _raw_public_key(private_key.public_key())), private_key)

    @classmethod
    def from_key_string(cls, skey: str) -> Signer:
        if not skey.startswith(_PRIVATE_KEY_PREFIX):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        parts = skey.removeprefix(_PRIVATE_KEY_PREFIX).split("+", 2)
        if len(parts) != 3:
            raise NoteError("malformed signer key")
        name, id_hex, encoded = parts
        seed = _decode_typed_key(encoded, "signer key")
        signer = cls.from_private_key(name, Ed25519PrivateKey.from_private_bytes(seed))
        _require_key_id(signer.key_id, id_hex, "signer key")
        return signer

    def key_string(self) -> str:
        seed = self.private_key.private_bytes_raw()
        encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"{_PRIVATE_KEY_PREFIX}{self.name}+{self.key_id.hex()}+{encoded}"

    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key_id, self.private_key.public_key())

    def sign(self, text: bytes) -> bytes:
        return self.private_key.sign(text)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    key_name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.signature).decode()
        return f"{SIGNATURE_PREFIX}{self.key_name} {encoded}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text (ending in a newline) and its signatures, not yet verified."""

    text: str
    signatures: tuple[NoteSignature, ...]


@dataclass(frozen=True, slots=True)
class VerifiedNote:
    text: str
    verified_by: tuple[Verifier, ...]
    unknown_signatures: tuple[NoteSignature, ...]
    """Signatures from keys the verifier does not know: ignored, as the spec requires."""


def sign_note(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of ``text`` with one signature line per signer."""
    if not signers:
        raise NoteError("a note needs at least one signer")
    _require_note_text(text)
    message = text.encode()
    lines = (NoteSignature(s.name, s.key_id, s.sign(message)).line() for s in signers)
    return text + "\n" + "".join(lines)


def parse_note(note: str) -> Note:
    """Split a signed note into text and signatures, checking only its syntax."""
    _require_note_characters(note)
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, signature_block = note[: split + 1], note[split + 2 :]
    if not signature_block.endswith("\n"):
        raise NoteError("note does not end with a newline")
    lines = signature_block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def open_note(note: str, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse and verify a note: every signature from a known key must verify, and at least one
    must be present. Signatures from unknown keys are reported, not trusted."""
    parsed = parse_note(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    message = parsed.text.encode()
    verified: dict[tuple[str, bytes], Verifier] = {}
    unknown: list[NoteSignature] = []
    for signature in parsed.signatures:
        key = (signature.key_name, signature.key_id)
        verifier = known.get(key)
        if verifier is None:
            unknown.append(signature)
        elif key not in verified:
            if not verifier.accepts(message, signature.signature):
                raise BadSignatureError(
                    f"signature by key {signature.key_name}+{signature.key_id.hex()} "
                    "does not verify"
                )
            verified[key] = verifier
    if not verified:
        names = ", ".join(f"{s.key_name}+{s.key_id.hex()}" for s in unknown)
        raise UntrustedNoteError(f"note has no signature from a known key (signed by: {names})")
    return VerifiedNote(parsed.text, tuple(verified.values()), tuple(unknown))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError(f"signature line does not start with an em dash: {line[:40]!r}")
    name, space, encoded = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    if not space:
        raise NoteError(f"signature line has no signature: {line[:40]!r}")
    _require_key_name(name)
    blob = _decode_base64(encoded, f"signature of key {name}")
    if len(blob) <= _KEY_ID_SIZE:
        raise NoteError(f"signature of key {name} is too short")
    return NoteSignature(name, blob[:_KEY_ID_SIZE], blob[_KEY_ID_SIZE:])


def _require_note_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _require_note_characters(text)


def _require_note_characters(note: str) -> None:
    if _CONTROL_CHARACTER.search(note):
        raise NoteError("note contains an ASCII control character other than newline")


def _require_key_name(name: str) -> None:
    if not name or "+" in name or any(char.isspace() for char in name):
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def _require_key_id(computed: bytes, id_hex: str, what: str) -> None:
    if len(id_hex) != 2 * _KEY_ID_SIZE or id_hex.lower() != computed.hex():
        raise NoteError(f"key id {id_hex} in {what} does not match its key ({computed.hex()})")


def _decode_typed_key(encoded: str, what: str) -> bytes:
    raw = _decode_base64(encoded, what)
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError(f"{what} is not an Ed25519 key")
    return raw[1:]


def _decode_base64(encoded: str, what: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as error:
        raise NoteError(f"{what} is not valid base64") from error


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
