"""A donor's designation (寄附者の意向) and which grants it may fund.

A designation is written as a key: ``general``, ``field:<code>``, ``actor:<id>`` or
``project:<id>``. Money keeps its designation wherever it goes; only a recorded ward decision
(a release of held money) moves it to another one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.policy.model import Designation as DesignationKind

__all__ = ["Designation", "DesignationKind", "GrantPurpose", "RecipientKind"]


@dataclass(frozen=True)
class Designation:
    kind: DesignationKind
    target: str | None = None
    """The field code, actor id or project id; None for general money."""

    def __post_init__(self) -> None:
        if (self.kind is DesignationKind.GENERAL) != (self.target is None):
            raise ValueError(
                f"designation {self.kind} {'has no' if self.target else 'needs a'} target"
            )

    @property
    def key(self) -> str:
        return self.kind.value if self.target is None else f"{self.kind.value}:{self.target}"

    @classmethod
    def parse(cls, key: str) -> Designation:
        kind, _, target = key.partition(":")
        return cls(DesignationKind(kind), target or None)

    @classmethod
    def general(cls) -> Designation:
        return cls(DesignationKind.GENERAL)

    @classmethod
    def field(cls, code: str) -> Designation:
        return cls(DesignationKind.FIELD, code)

    @classmethod
    def actor(cls, actor_id: str) -> Designation:
        return cls(DesignationKind.ACTOR, actor_id)

    @classmethod
    def project(cls, project_id: str) -> Designation:
        return cls(DesignationKind.PROJECT, project_id)

    @property
    def names_a_target(self) -> bool:
        """Designated to an actor or a project, which can be gone (deregistered, ended)."""
        return self.kind in (DesignationKind.ACTOR, DesignationKind.PROJECT)

    def __str__(self) -> str:
        return self.key


class RecipientKind(StrEnum):
    ACTOR = "actor"
    PROJECT = "project"


@dataclass(frozen=True)
class GrantPurpose:
    """What a grant is for: who receives it, the actor paid, and the purpose field."""

    recipient_kind: RecipientKind
    recipient_id: str
    paid_actor_id: str
    """The actor itself, or the project's lead actor (who receives the project's money)."""
    field: str

    def accepts(self, designation: Designation) -> bool:
        """Money may fund this grant only if its designation matches."""
        kind = designation.kind
        if kind is DesignationKind.GENERAL:
            return True
        if kind is DesignationKind.FIELD:
            return designation.target == self.field
        if kind is DesignationKind.ACTOR:
            # Gifts to a named group reach it, also through a project it leads.
            return designation.target == self.paid_actor_id
        return (
            self.recipient_kind is RecipientKind.PROJECT and designation.target == self.recipient_id
        )
