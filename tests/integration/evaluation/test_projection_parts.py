"""The evaluation's read model is six parts (wards, projects, calls, grants, rounds, flags) that
share no table, so a batch may give each part its events at once: a history with every event
type the parts handle, the registry's, proposals', fund's and evaluation's events interleaved,
leaves the same tables in one batch as one event at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from services.evaluation.policy import FISCAL_YEAR_END, PROJECT_END
from services.evaluation.projections import projection
from shared.db import Database
from shared.events import EventEnvelope
from shared.projections.inbox import inbox_metadata
from tests.integration.evaluation.full_history import (
    ENDED_ON,
    RETURNED_YEN,
    WARD,
    evaluation_history,
)
from tests.support.projection_parts import (
    handled_event_types,
    shared_tables,
    table_rows,
    tables_after,
    tables_by_part,
)
from tests.unit.proposals.support import CALL_ID

Tables = dict[str, list[dict[str, Any]]]
TABLES_BY_PART = {
    "evaluation-wards": {"evaluation_wards"},
    "evaluation-projects": {"evaluation_projects"},
    "evaluation-calls": {"evaluation_calls"},
    "evaluation-grants": {"evaluation_grants"},
    "evaluation-rounds": {"evaluation_rounds"},
    "evaluation-flags": {"evaluation_inertia_flags"},
}


def reaching_the_read_model(history: Sequence[EventEnvelope]) -> list[EventEnvelope]:
    return [event for event in history if projection.handles(event.event_type)]


def test_the_history_has_every_event_type_the_parts_handle() -> None:
    history = reaching_the_read_model(evaluation_history())
    assert {event.event_type for event in history} == handled_event_types(projection)


async def test_the_parts_of_the_evaluation_read_model_share_no_table(database: Database) -> None:
    history = reaching_the_read_model(evaluation_history())
    await database.create_all(projection.metadata)
    touched = await database.write(lambda c: tables_by_part(c, projection, history))
    assert shared_tables(touched) == {}
    assert touched == TABLES_BY_PART
    assert_what_the_history_left(await database.read(lambda c: table_rows(c, projection.metadata)))


async def test_one_batch_gives_the_tables_of_one_event_at_a_time(database: Database) -> None:
    history = evaluation_history()
    await database.create_all(inbox_metadata)
    await database.create_all(projection.metadata)
    one_by_one = await tables_after(database, projection, [[event] for event in history])
    in_one_batch = await tables_after(database, projection, [history])
    assert in_one_batch == one_by_one
    assert_what_the_history_left(in_one_batch)


def assert_what_the_history_left(tables: Tables) -> None:
    [ward] = tables["evaluation_wards"]
    assert (ward["ward"], ward["policy_version"]) == (WARD, 2)
    [project] = tables["evaluation_projects"]
    assert (project["agreement_version"], project["term_end"]) == (2, date(2028, 5, 31))
    assert (project["ended_on"], project["end_reason"]) == (ENDED_ON, "事業を完了した")
    assert [call["call_id"] for call in tables["evaluation_calls"]] == [CALL_ID]
    returned = {grant["grant_id"]: grant["returned_yen"] for grant in tables["evaluation_grants"]}
    assert returned == {"grant-1": RETURNED_YEN, "grant-2": 0, "grant-3": 0, "grant-4": 0}
    rounds = {(r["occasion"], r["status"], r["conclusion"]) for r in tables["evaluation_rounds"]}
    assert rounds == {(FISCAL_YEAR_END, "concluded", "improve"), (PROJECT_END, "open", None)}
    [flag] = tables["evaluation_inertia_flags"]
    assert (flag["rule"], flag["status"]) == ("repeat_grants", "cleared")
