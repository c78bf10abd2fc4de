"""Given-when-then helpers for the evaluation's aggregates and rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from services.evaluation import rounds
from services.evaluation.commands import (
    Assessment,
    ConcludeRound,
    Outcomes,
    ReconcileScores,
    Reconciliation,
    RoundConclusion,
    SubmitAssessment,
)
from services.evaluation.policy import EvaluationPolicy, evaluation_policy
from services.evaluation.rounds import ProjectSnapshot, Round
from shared.events import EventActor, EventEnvelope, NewEvent
from shared.policy import load_builtin_pack

S = TypeVar("S")
STAFF = EventActor(subject="staff@nerima", role="staff")
ROUND_ID = "r-1"
LEAD = "actor-lead"
PARTNER = "actor-partner"
STRANGER = "actor-elsewhere"


def nerima_policy() -> EvaluationPolicy:
    return evaluation_policy(load_builtin_pack("nerima"), 1)


def ota_policy() -> EvaluationPolicy:
    return evaluation_policy(load_builtin_pack("ota"), 1)


def envelopes(
    events: Sequence[NewEvent], *, ward: str = "nerima", stream_id: str = "s"
) -> list[EventEnvelope]:
    now = datetime(2026, 4, 1, tzinfo=UTC)
    return [
        EventEnvelope(
            event_id=event.event_id,
            event_type=event.event_type,
            schema_version=event.schema_version,
            ward=ward,
            stream_id=stream_id,
            version=offset,
            position=offset,
            occurred_at=now,
            recorded_at=now,
            actor=STAFF,
            correlation_id="c",
            policy_version=1,
            data=event.data,
        )
        for offset, event in enumerate(events, start=1)
    ]


def given(
    initial: Callable[[], S],
    evolve: Callable[[S, EventEnvelope], S],
    *histories: Sequence[NewEvent],
    ward: str = "nerima",
) -> S:
    state = initial()
    for envelope in envelopes([e for events in histories for e in events], ward=ward):
        state = evolve(state, envelope)
    return state


def project(**overrides: Any) -> ProjectSnapshot:
    values: dict[str, Any] = {
        "project_id": "p-1",
        "title": "光が丘の子ども食堂",
        "form": "subsidy",
        "domain": "B",
        "lead_actor_id": LEAD,
        "partner_actor_ids": (PARTNER,),
        "department": "子育て支援課",
        "fields": ("childcare",),
        "term_start": date(2025, 4, 1),
        "term_end": date(2027, 3, 31),
        "citizen_proposed": True,
    }
    values.update(overrides)
    return ProjectSnapshot(**values)


def opened(policy: EvaluationPolicy | None = None, **project_overrides: Any) -> list[NewEvent]:
    return rounds.decide_open(
        None,
        round_id=ROUND_ID,
        project=project(**project_overrides),
        occasion="fiscal_year_end",
        fiscal_year=2025,
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
        policy=policy or nerima_policy(),
    )


def round_after(*histories: Sequence[NewEvent], ward: str = "nerima") -> Round | None:
    return given(rounds.initial_round, rounds.evolve_round, *histories, ward=ward)


def scores(value: int = 3, **each: int) -> dict[str, int]:
    """A score for each of Nerima's items."""
    codes = [item.code for item in nerima_policy().items]
    return {code: each.get(code, value) for code in codes}


def assessment(score_map: dict[str, int] | None = None, **overrides: Any) -> Assessment:
    values: dict[str, Any] = {
        "scores": score_map if score_map is not None else scores(),
        "outcomes": Outcomes.model_validate(
            {
                "targets": [
                    {"target": "開催回数", "unit": "回", "planned": 24, "achieved": 22},
                ],
                "beneficiaries": 480,
            }
        ),
        "comments": "毎月二回の開催を続けられた。",
    }
    values.update(overrides)
    return Assessment(**values)


def submit(
    caller: str,
    score_map: dict[str, int] | None = None,
    *,
    actor_id: str | None = LEAD,
    **overrides: Any,
) -> SubmitAssessment:
    return SubmitAssessment(
        ward="nerima",
        round_id=ROUND_ID,
        side=caller,
        actor_id=actor_id if caller == "actor" else None,
        assessment=assessment(score_map, **overrides),
    )


def reconcile(**agreed: int) -> ReconcileScores:
    return ReconcileScores(
        ward="nerima",
        round_id=ROUND_ID,
        reconciliation=Reconciliation(scores=agreed, note="協議して合意した。"),
    )


def conclude(conclusion: str = "continue") -> ConcludeRound:
    return ConcludeRound(
        ward="nerima",
        round_id=ROUND_ID,
        conclusion=RoundConclusion(conclusion=conclusion, reasons="目標をおおむね達成した。"),
    )


def types_of(events: Sequence[NewEvent]) -> list[str]:
    return [event.event_type for event in events]
