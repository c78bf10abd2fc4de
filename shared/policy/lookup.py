"""Look codes up in a pack, raising :class:`UnknownPolicyCodeError` with the known codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from shared.policy.errors import UnknownPolicyCodeError
from shared.policy.model import (
    COLLABORATION_DOMAINS,
    ActivityField,
    ActorKind,
    CollaborationForm,
    Domain,
    Exclusion,
    FormDomain,
    PolicyPack,
    Principle,
    Programme,
)
from shared.policy.provenance import is_covered


class _Coded(Protocol):
    @property
    def code(self) -> str: ...


_T = TypeVar("_T", bound=_Coded)


def _find(pack: PolicyPack, what: str, items: Sequence[_T], code: str) -> _T:
    for item in items:
        if item.code == code:
            return item
    raise UnknownPolicyCodeError(pack.ward, what, code, [item.code for item in items])


def get_actor_kind(pack: PolicyPack, code: str) -> ActorKind:
    return _find(pack, "actor kind", pack.actor_kinds, code)


def get_activity_field(pack: PolicyPack, code: str) -> ActivityField:
    return _find(pack, "activity field", pack.fields, code)


def get_form(pack: PolicyPack, code: str) -> CollaborationForm:
    return _find(pack, "collaboration form", pack.forms, code)


def get_principle(pack: PolicyPack, code: str) -> Principle:
    """A principle or a viewpoint."""
    return _find(pack, "principle", pack.all_principles, code)


def get_exclusion(pack: PolicyPack, code: str) -> Exclusion:
    return _find(pack, "exclusion", pack.exclusions, code)


def get_programme(pack: PolicyPack, code: str) -> Programme:
    return _find(pack, "programme", pack.programmes, code)


def form_domain(pack: PolicyPack, form_code: str) -> FormDomain:
    """The domain (B, C or D) a form lies in, or ``"side"`` for side support."""
    return get_form(pack, form_code).domain


def is_collaboration_domain(domain: Domain | str) -> bool:
    """B, C and D are collaboration; A (citizens alone) and E (ward alone) are not.

    Raises ``ValueError`` for anything that is not one of the domains A–E.
    """
    return Domain(domain) in COLLABORATION_DOMAINS


def is_default(pack: PolicyPack, path: str) -> bool:
    """True when the value at ``path`` was chosen for the platform, not read from a source."""
    return is_covered(pack.defaults, path)
