"""The fund's read model is three parts (ward rules, targets, money) that share no table, so a
batch may apply each part's events at once without changing any table."""

from __future__ import annotations

from services.fund.projections import projection
from services.fund.tables import metadata
from services.registry.commands import OnboardWard
from services.registry.policy import builtin_pack
from services.registry.wards import decide_onboard
from shared.db import Database
from shared.projections.inbox import inbox_metadata
from tests.integration.fund.test_projection_batches import Step, history, record_target_event
from tests.support.projection_parts import shared_tables, tables_by_part

EVERY_KIND_OF_EVENT: list[Step] = [
    ("donate", {"amount": 50_000, "kind": "general", "pick": 0, "days_ago": 3}),
    ("target", {"number": 0, "change": "registered"}),
    ("donate", {"amount": 30_000, "kind": "actor", "pick": 1, "days_ago": 2}),
    ("target", {"number": 0, "change": "verified"}),
    ("award", {"amount": 20_000, "to_project": False, "pick": 0, "field": "environment"}),
    ("target", {"number": 1, "change": "project started"}),
    ("disburse", {"pick": 0, "amount": 10_000}),
    ("target", {"number": 0, "change": "renamed"}),
    ("give_back", {"pick": 0, "amount": 5_000, "disbursed": True}),
    ("refund", {"pick": 0, "amount": 1_000}),
    ("target_gone", {"key": "a1"}),
    ("target", {"number": 1, "change": "project ended"}),
    ("release", {"pick": 0, "to_field": None}),
]


async def test_the_parts_of_the_fund_read_model_share_no_table(database: Database) -> None:
    machine = history(EVERY_KIND_OF_EVENT)
    (onboarded,) = decide_onboard(None, OnboardWard(pack=builtin_pack("ota")))
    machine.fund.record("ward-ota", [onboarded])
    record_target_event(machine.fund, 2, "suspended")
    events = machine.fund.events
    await database.create_all(inbox_metadata)
    await database.create_all(metadata)
    touched = await database.write(lambda c: tables_by_part(c, projection, events))
    assert shared_tables(touched) == {}
    assert touched["fund-wards"] == {"fund_wards"}
    assert touched["fund-targets"] == {"fund_targets"}
    money = {"fund_donations", "fund_journal", "fund_lots", "fund_grants", "fund_grant_lines"}
    assert money | {"fund_holds", "fund_releases"} <= touched["fund-money"]
