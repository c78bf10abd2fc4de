"""Built-in packs shipped as package data, and the content hash that identifies a pack."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

import rfc8785

from shared.policy.errors import PolicyError, UnknownWardError
from shared.policy.model import PolicyPack

_SUFFIX = ".json"


def _packs_dir() -> Traversable:
    return resources.files("shared.policy").joinpath("packs")


def builtin_wards() -> list[str]:
    """Ward codes of the packs that ship with the platform, sorted."""
    return sorted(
        entry.name.removesuffix(_SUFFIX)
        for entry in _packs_dir().iterdir()
        if entry.is_file() and entry.name.endswith(_SUFFIX)
    )


def parse_pack(raw: str | bytes) -> PolicyPack:
    """Validate a pack from its JSON text (raises pydantic's ``ValidationError``)."""
    return PolicyPack.model_validate_json(raw)


@cache
def load_builtin_pack(ward: str) -> PolicyPack:
    """The pack shipped for ``ward``; packs are frozen, so one shared instance is safe."""
    known = builtin_wards()
    if ward not in known:
        raise UnknownWardError(ward, known)
    pack = parse_pack(_packs_dir().joinpath(ward + _SUFFIX).read_bytes())
    if pack.ward != ward:
        raise PolicyError(f"pack file {ward}{_SUFFIX} declares ward {pack.ward!r}")
    return pack


def canonical_json(pack: PolicyPack) -> bytes:
    """RFC 8785 (JCS) canonical JSON of the pack."""
    return bytes(rfc8785.dumps(pack.model_dump(mode="json")))


def pack_hash(pack: PolicyPack) -> str:
    """SHA-256 hex digest of the pack's canonical JSON."""
    return hashlib.sha256(canonical_json(pack)).hexdigest()
