"""What the evaluation reads from the fund's grant events (``fund.GrantAwarded``).

The fund's data: ``grant_id``, ``recipient {kind: "project"|"actor", id, paid_actor_id, name}``,
``purpose_field`` (the activity field the grant is for: its purpose), ``fiscal_year``,
``amount_yen``, ``title``, ``awarded_on`` and the lineage ``lines``. Only what the inertia rules
and the portfolio need is kept; the recipient's name is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AwardedGrant:
    grant_id: str
    recipient_kind: str
    recipient_id: str
    paid_actor_id: str
    purpose: str
    amount_yen: int
    fiscal_year: int


def grant_facts(data: Mapping[str, Any]) -> AwardedGrant:
    recipient = data["recipient"]
    return AwardedGrant(
        grant_id=str(data["grant_id"]),
        recipient_kind=str(recipient["kind"]),
        recipient_id=str(recipient["id"]),
        paid_actor_id=str(recipient["paid_actor_id"]),
        purpose=str(data["purpose_field"]),
        amount_yen=int(data["amount_yen"]),
        fiscal_year=int(data["fiscal_year"]),
    )
