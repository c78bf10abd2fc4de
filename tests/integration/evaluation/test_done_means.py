"""Done means: a started project gets its rounds, both sides reflect, the result is published,
and a ward sees its domain shares against the baseline — end to end over HTTP, with the real
registry and the proposals' and fund's events arriving by stream."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from redis.asyncio import Redis

from shared.bus.streams import StreamNames
from tests.integration.evaluation.conftest import jst, live_evaluation
from tests.integration.evaluation.scenarios import assessment, scores
from tests.integration.registry.conftest import live_registry, registry_settings

pytestmark = pytest.mark.redis


async def test_a_project_is_evaluated_by_both_sides_and_the_ward_sees_its_portfolio(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    async with (
        live_registry(registry_settings(stream_names, tmp_path / "registry")),
        live_evaluation(
            redis,
            stream_names,
            tmp_path / "evaluation",
            now=jst(date(2025, 9, 1)),
            upstream_names=("proposals", "fund"),
        ) as live,
    ):
        await live.ward_known("nerima")
        proposals = live.upstream
        kodomo = await proposals.start_project("nerima", domain="B", form="subsidy")
        await proposals.start_project(
            "nerima", domain="D", form="commission", citizen_proposed=False, lead_actor_id="npo-a"
        )
        await proposals.start_project(
            "nerima", domain="D", form="commission", citizen_proposed=False, lead_actor_id="npo-b"
        )
        await proposals.start_project(
            "nerima", domain="C", form="co_hosting", lead_actor_id="npo-c"
        )
        await live.project_known(kodomo["project_id"])

        # The fiscal year ends; the project's first round opens by itself.
        live.clock.now = jst(date(2026, 4, 1))
        [round_] = await live.rounds_of(kodomo["project_id"], 1)
        path = f"/v1/wards/nerima/evaluations/{round_['round_id']}"

        # Both sides reflect, each unseen by the other until both have submitted.
        actor = live.member(kodomo["lead_actor_id"])
        response = await live.client.post(
            f"{path}/assessments", json=assessment(scores(4, equality=5)), headers=actor
        )
        assert response.status_code == 200, response.text
        response = await live.client.post(
            f"{path}/assessments", json=assessment(scores(4, equality=2)), headers=live.staff()
        )
        assert response.json()["divergent_items"][0]["code"] == "equality"
        await live.client.post(
            f"{path}/reconciliation",
            json={"scores": {"equality": 4}, "note": "役割分担を見直すことで合意。"},
            headers=live.staff(),
        )
        response = await live.client.post(
            f"{path}/conclusion",
            json={"conclusion": "continue", "reasons": "目標を達成し、参加者も増えた。"},
            headers=live.staff(),
        )
        assert response.status_code == 200, response.text

        # The result is published: anyone reads it.
        await live.caught_up()
        published = await live.get_json(path)
        assert published["status"] == "concluded"
        assert published["conclusion"]["conclusion"] == "continue"
        assert {item["code"]: item["result"] for item in published["result"]}["equality"] == "4"
        listed = await live.get_json("/v1/wards/nerima/evaluations", params={"status": "concluded"})
        assert [r["round_id"] for r in listed["items"]] == [round_["round_id"]]

        # The ward sees fiscal year 2025's domain shares against its 2008 baseline.
        figures = await live.get_json(
            "/v1/wards/nerima/insights/portfolio", params={"fiscal_year": 2025}
        )
        by_domain = {row["domain"]: row for row in figures["by_domain"]}
        assert {d: (r["share_bp"], r["baseline_bp"]) for d, r in by_domain.items()} == {
            "B": (2500, 2540),
            "C": (2500, 1770),
            "D": (5000, 5690),
        }
        assert by_domain["B"]["difference_bp"] == -40
        assert figures["baseline"]["goal_domain"] == "B"
        assert figures["citizen_proposed"]["share_bp"] == 5000
