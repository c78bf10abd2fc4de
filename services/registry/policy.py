"""What the registry needs from a ward's policy pack, behind one small view.

The domain decides against a :class:`RegistryPolicy`; only this module knows the pack model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shared.errors import InvalidCommand
from shared.policy import PolicyPack, load_builtin_pack, pack_hash

# Packs do not yet say which actor kinds are single persons; these codes are.
INDIVIDUAL_KIND_CODES = frozenset({"resident"})


@dataclass(frozen=True)
class KindRule:
    code: str
    corporate_number_required: bool
    is_ward: bool
    is_individual: bool


@dataclass(frozen=True)
class RegistryPolicy:
    ward: str
    version: int
    kinds: dict[str, KindRule]
    fields: frozenset[str]

    def kind(self, code: str) -> KindRule | None:
        return self.kinds.get(code)


def registry_policy(pack: PolicyPack, version: int) -> RegistryPolicy:
    kinds = {
        kind.code: KindRule(
            code=kind.code,
            corporate_number_required=kind.corporate_number_required,
            is_ward=kind.is_ward,
            is_individual=kind.code in INDIVIDUAL_KIND_CODES,
        )
        for kind in pack.actor_kinds
    }
    return RegistryPolicy(
        ward=pack.ward,
        version=version,
        kinds=kinds,
        fields=frozenset(field.code for field in pack.fields),
    )


_views: dict[str, RegistryPolicy] = {}


def policy_from_document(document: dict[str, Any], digest: str, version: int) -> RegistryPolicy:
    """The view of a stored pack; cached by content hash, since packs never change."""
    key = f"{digest}:{version}"
    view = _views.get(key)
    if view is None:
        view = registry_policy(PolicyPack.model_validate(document), version)
        _views[key] = view
    return view


def parse_policy_pack(document: dict[str, Any]) -> PolicyPack:
    """A pack sent by a client; an invalid one is a 422 problem that lists the errors."""
    try:
        return PolicyPack.model_validate(document)
    except ValidationError as error:
        problems = [
            {"loc": [str(part) for part in e["loc"]], "msg": e["msg"]} for e in error.errors()
        ]
        raise InvalidCommand("the policy pack is not valid", errors=problems) from error


def pack_document(pack: PolicyPack) -> dict[str, Any]:
    return pack.model_dump(mode="json")


def builtin_pack(ward: str) -> PolicyPack:
    return load_builtin_pack(ward)


__all__ = [
    "KindRule",
    "PolicyPack",
    "RegistryPolicy",
    "builtin_pack",
    "pack_document",
    "pack_hash",
    "parse_policy_pack",
    "policy_from_document",
    "registry_policy",
]
