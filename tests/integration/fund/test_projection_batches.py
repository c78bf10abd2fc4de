"""The fund's read model does not depend on how its events are cut into batches.

Random histories (donations, grants, tranches, returns, refunds, holds, releases: the steps of
the ledger's state machine, with the registry's and proposals' events of targets in between)
are applied one event per batch and in random cuts, on SQLite and PostgreSQL: every table is the
same, and the lots and grants equal the in-memory book. A batch gives the read model's parts
their events at once, so a cut also reorders the targets' events against the money's.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.fund import events as names
from services.fund.ledger import Account
from services.fund.projections import projection
from services.fund.tables import ACCOUNT_COLUMNS, GRANT_LINE_COLUMNS, metadata
from shared.db import Database
from shared.events import EventEnvelope, NewEvent
from shared.projections.inbox import inbox_metadata
from tests.support.projection_parts import tables_after
from tests.unit.fund.support import MemoryFund
from tests.unit.fund.test_ledger_properties import FIELDS, FundMachine, amounts

Step = tuple[str, dict[str, Any]]
picks = st.integers(0, 50)
TARGET_EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "registered": (
        names.ACTOR_REGISTERED,
        {"name": "光が丘町会", "individual": False, "fields": ["environment"]},
    ),
    "verified": (names.ACTOR_VERIFIED, {}),
    "renamed": (names.ACTOR_PROFILE_UPDATED, {"changes": {"name": "光が丘第二町会"}}),
    "suspended": (names.ACTOR_SUSPENDED, {}),
    "project started": (
        names.PROJECT_STARTED,
        {"title": "川の清掃", "lead_actor_id": "a0", "fields": ["environment"]},
    ),
    "project ended": (names.PROJECT_ENDED, {}),
}
"""Events of the fund's targets, by a name of their change: their data but the target's id. They
name the targets the money's steps designate and pay (``a0``..``a2``, ``p0``, ``p1``), so a money
handler that read the targets' table would see them come before or after, as a cut falls."""

steps = st.one_of(
    st.fixed_dictionaries(
        {
            "amount": amounts,
            "kind": st.sampled_from(["general", "field", "actor", "project"]),
            "pick": picks,
            "days_ago": st.integers(0, 400),
        }
    ).map(lambda args: ("donate", args)),
    st.fixed_dictionaries(
        {
            "amount": st.integers(1_000, 150_000),
            "to_project": st.booleans(),
            "pick": picks,
            "field": st.sampled_from(FIELDS),
        }
    ).map(lambda args: ("award", args)),
    st.fixed_dictionaries({"pick": picks, "amount": st.integers(1, 200_000)}).map(
        lambda args: ("disburse", args)
    ),
    st.fixed_dictionaries(
        {"pick": picks, "amount": st.integers(1, 100_000), "disbursed": st.booleans()}
    ).map(lambda args: ("give_back", args)),
    st.fixed_dictionaries({"pick": picks, "amount": st.none() | st.integers(1, 70_000)}).map(
        lambda args: ("refund", args)
    ),
    st.fixed_dictionaries({"key": st.sampled_from(["a1", "a2", "p0", "p1"])}).map(
        lambda args: ("target_gone", args)
    ),
    st.fixed_dictionaries({"pick": picks, "to_field": st.sampled_from((None, *FIELDS))}).map(
        lambda args: ("release", args)
    ),
    st.fixed_dictionaries(
        {"number": st.integers(0, 2), "change": st.sampled_from(sorted(TARGET_EVENTS))}
    ).map(lambda args: ("target", args)),
)

PRECONDITIONS: dict[str, Callable[[FundMachine], object]] = {
    "disburse": lambda machine: machine.grant_ids,
    "give_back": lambda machine: machine.grant_ids,
    "refund": lambda machine: machine.fund.book.donations,
    "release": lambda machine: machine.fund.book.held,
}


def history(taken: Sequence[Step]) -> FundMachine:
    """The state machine's steps, run one after another (those whose precondition fails are
    left out, as the machine would)."""
    machine = FundMachine()
    for name, args in taken:
        if name == "target":
            record_target_event(machine.fund, **args)
        elif PRECONDITIONS.get(name, bool)(machine):
            getattr(machine, name)(**args)
    return machine


def record_target_event(fund: MemoryFund, number: int, change: str) -> None:
    """The registry's (or proposals') event ``change`` of the machine's target ``number``."""
    event_type, data = TARGET_EVENTS[change]
    if event_type.startswith("proposals."):
        stream, ids = f"project-p{number % 2}", {"project_id": f"p{number % 2}"}
    else:
        stream, ids = f"actor-a{number}", {"actor_id": f"a{number}"}
    fund.record(stream, [NewEvent(event_type=event_type, data={**ids, **data})])


def cut(events: Sequence[EventEnvelope], at: set[int]) -> list[Sequence[EventEnvelope]]:
    bounds = [0, *sorted(i for i in at if 0 < i < len(events)), len(events)]
    return [events[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def lots_of(machine: FundMachine) -> dict[tuple[str, str], dict[str, int]]:
    return {
        key: {account.value: lot.balance[account] for account in Account}
        for key, lot in machine.fund.book.lots.items()
    }


def grants_of(machine: FundMachine) -> dict[str, dict[str, int]]:
    return {
        grant_id: {
            **{
                c: sum(getattr(line, c) for line in grant.lines.values())
                for c in GRANT_LINE_COLUMNS
            },
            "tranches": grant.tranches,
            "returns": grant.returns,
        }
        for grant_id, grant in machine.fund.book.grants.items()
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(taken=st.lists(steps, min_size=1, max_size=40), at=st.sets(st.integers(1, 80)))
async def test_any_cut_into_batches_gives_the_tables_of_one_event_at_a_time(
    database: Database, taken: list[Step], at: set[int]
) -> None:
    await database.create_all(inbox_metadata)
    await database.create_all(metadata)
    machine = history(taken)
    events = machine.fund.events
    one_by_one = await tables_after(database, projection, [[event] for event in events])
    in_cuts = await tables_after(database, projection, cut(events, at))
    assert in_cuts == one_by_one
    lots = {
        (row["donation_id"], row["designation"]): {c: row[c] for c in ACCOUNT_COLUMNS}
        for row in in_cuts["fund_lots"]
    }
    assert lots == lots_of(machine)
    grants = {
        row["grant_id"]: {c: row[c] for c in (*GRANT_LINE_COLUMNS, "tranches", "returns")}
        for row in in_cuts["fund_grants"]
    }
    assert grants == grants_of(machine)
    donations = {row["donation_id"]: row for row in in_cuts["fund_donations"]}
    copied = ("ward", "receipt_fiscal_year", "received_on")
    for lot in in_cuts["fund_lots"]:
        assert {c: lot[c] for c in copied} == {c: donations[lot["donation_id"]][c] for c in copied}
    assert all(
        row["designation_kind"] == row["designation"].split(":")[0] for row in in_cuts["fund_lots"]
    )
