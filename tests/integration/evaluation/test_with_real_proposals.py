"""The contract with the real services: the registry and the proposals service, each loading its
demo data, publish what the evaluation needs, and the evaluation schedules and shows it."""

from __future__ import annotations

from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path

import pytest
from redis.asyncio import Redis

from services.proposals.app import bootstrap as proposals_app
from services.registry.app import bootstrap as registry_app
from shared.bus.streams import StreamNames
from shared.clock import FixedClock
from shared.testing.http import serve
from tests.integration.evaluation.conftest import (
    evaluation_settings,
    jst,
    live_evaluation,
)
from tests.integration.evaluation.scenarios import assessment

pytestmark = pytest.mark.redis
PROPOSALS_NOW = jst(date(2026, 5, 1))


async def test_projects_started_by_the_proposals_service_get_their_rounds(
    redis: Redis, stream_names: StreamNames, tmp_path: Path
) -> None:
    async with AsyncExitStack() as stack:
        for name, bootstrap, clock in (
            ("registry", registry_app, None),
            ("proposals", proposals_app, FixedClock(PROPOSALS_NOW)),
        ):
            settings = evaluation_settings(stream_names, tmp_path / name)
            settings = settings.model_copy(update={"demo_data": True})
            await stack.enter_async_context(serve(bootstrap(settings, clock=clock)))
        # Two years on, the demo projects (a year from mid-June 2026) are over.
        live = await stack.enter_async_context(
            live_evaluation(
                redis,
                stream_names,
                tmp_path / "evaluation",
                now=jst(date(2028, 5, 1)),
                upstream_names=(),
            )
        )
        for ward in ("nerima", "ota"):
            await live.ward_known(ward)
            page = await live.eventually(
                lambda w=ward: live.rounds(w),  # type: ignore[misc]
                lambda items: len(items) >= 2,
                timeout=60,
            )
            occasions = sorted(r["occasion"] for r in page)
            assert occasions == ["fiscal_year_end", "project_end"], occasions
            assert len({r["project_id"] for r in page}) == 1

        rounds = await live.rounds("nerima")
        [final] = [r for r in rounds if r["occasion"] == "project_end"]
        detail = await live.get_json(
            f"/v1/wards/nerima/evaluations/{final['round_id']}", headers=live.staff()
        )
        project = detail["project"]
        assert project["domain"] in {"B", "C", "D"} and project["department"]
        lead = live.member(project["lead_actor_id"])
        response = await live.client.post(
            f"/v1/wards/nerima/evaluations/{final['round_id']}/assessments",
            json=assessment(),
            headers=lead,
        )
        assert response.status_code == 200, response.text

        assert (detail["period_start"], detail["period_end"]) == (
            project["term_start"],
            project["term_end"],
        )
        year = int(detail["fiscal_year"]) - 1  # the project's first year
        figures = await live.get_json(
            "/v1/wards/nerima/insights/portfolio", params={"fiscal_year": year}
        )
        assert figures["projects"] == 1
        [shown] = [row for row in figures["by_domain"] if row["projects"] == 1]
        assert (shown["domain"], shown["share_bp"]) == (project["domain"], 10_000)
