"""Request bodies and short flows the evaluation's API tests share."""

from __future__ import annotations

from typing import Any

from tests.integration.evaluation.conftest import LiveEvaluation

NERIMA_ITEMS = (
    "equality",
    "mutual_understanding",
    "respect_for_autonomy",
    "disclosure",
    "self_reliance",
    "shared_purpose",
    "evaluation",
    "outcome",
    "method",
    "process",
)


def scores(value: int = 4, **each: int) -> dict[str, int]:
    return {code: each.get(code, value) for code in NERIMA_ITEMS}


def assessment(score_map: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "scores": score_map if score_map is not None else scores(),
        "item_comments": {"disclosure": "活動報告の公開が遅れがちだった。"},
        "outcomes": {
            "targets": [
                {"target": "開催回数", "unit": "回", "planned": 24, "achieved": 22},
                {"target": "延べ参加者数", "unit": "人", "planned": 400, "achieved": 480},
            ],
            "beneficiaries": 480,
            "note": "地域の大学生ボランティアが加わった。",
        },
        "comments": "毎月二回の開催を続け、参加者が増えた。",
    }
    body.update(overrides)
    return body


async def started_with_round(
    live: LiveEvaluation, ward: str = "nerima", **project: Any
) -> tuple[dict[str, Any], str]:
    """A project started in fiscal year 2025, and its round for that year (now due)."""
    started = await live.upstream.start_project(ward, **project)
    [first] = await live.rounds_of(started["project_id"], 1, ward=ward)
    return started, str(first["round_id"])
