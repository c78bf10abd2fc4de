"""Actors and projects as the fund knows them, from the registry's and proposals' events."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.fund.designations import Designation, DesignationKind


class TargetStatus(StrEnum):
    PENDING = "pending"  # registered, not verified
    ACTIVE = "active"  # a verified actor, or a started project
    SUSPENDED = "suspended"
    GONE = "gone"  # a deregistered actor, an ended project


@dataclass(frozen=True)
class Target:
    kind: DesignationKind
    target_id: str
    ward: str
    status: TargetStatus
    name: str | None = None
    individual: bool = False
    lead_actor_id: str | None = None
    """The project's lead actor, who receives a project's grant; None for an actor."""

    @property
    def usable(self) -> bool:
        return self.status is TargetStatus.ACTIVE

    @property
    def paid_actor_id(self) -> str:
        return self.lead_actor_id or self.target_id

    @property
    def designation(self) -> Designation:
        return Designation(self.kind, self.target_id)
