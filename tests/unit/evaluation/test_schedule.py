"""A project's evaluation schedule: each fiscal year end within its term, and its end."""

from __future__ import annotations

from datetime import date

from hypothesis import given as for_all
from hypothesis import strategies as st

from services.evaluation.schedule import Occasion, due_occasions, evaluation_schedule
from shared.policy import fiscal_year

BOTH = ("fiscal_year_end", "project_end")


def test_a_three_year_project_has_two_year_ends_and_its_end() -> None:
    schedule = evaluation_schedule(date(2025, 4, 1), date(2028, 3, 31), None, BOTH)
    assert schedule == [
        Occasion("fiscal_year_end", 2025, date(2025, 4, 1), date(2026, 3, 31)),
        Occasion("fiscal_year_end", 2026, date(2026, 4, 1), date(2027, 3, 31)),
        Occasion("project_end", 2027, date(2025, 4, 1), date(2028, 3, 31)),
    ]
    assert [o.due_on for o in schedule] == [date(2026, 4, 1), date(2027, 4, 1), date(2028, 4, 1)]


def test_a_term_across_a_year_end_has_that_year_end_and_its_end() -> None:
    schedule = evaluation_schedule(date(2025, 10, 1), date(2026, 9, 30), None, BOTH)
    assert [(o.kind, o.fiscal_year, o.period_start, o.period_end) for o in schedule] == [
        ("fiscal_year_end", 2025, date(2025, 10, 1), date(2026, 3, 31)),
        ("project_end", 2026, date(2025, 10, 1), date(2026, 9, 30)),
    ]


def test_an_early_end_drops_the_later_year_ends() -> None:
    schedule = evaluation_schedule(date(2025, 4, 1), date(2028, 3, 31), date(2026, 6, 30), BOTH)
    assert [(o.kind, o.fiscal_year) for o in schedule] == [
        ("fiscal_year_end", 2025),
        ("project_end", 2026),
    ]
    assert schedule[-1].due_on == date(2026, 7, 1)


def test_the_pack_decides_which_occasions_there_are() -> None:
    ends_only = evaluation_schedule(date(2025, 4, 1), date(2027, 3, 31), None, ["project_end"])
    assert [(o.kind, o.fiscal_year) for o in ends_only] == [("project_end", 2026)]
    years_only = evaluation_schedule(date(2025, 4, 1), date(2026, 9, 30), None, ["fiscal_year_end"])
    assert [(o.kind, o.fiscal_year, o.due_on) for o in years_only] == [
        ("fiscal_year_end", 2025, date(2026, 4, 1)),
        ("fiscal_year_end", 2026, date(2027, 4, 1)),
    ]


def test_only_occasions_whose_period_is_over_are_due() -> None:
    start, end = date(2025, 4, 1), date(2027, 3, 31)
    assert due_occasions(start, end, None, BOTH, date(2026, 3, 31)) == []
    [first] = due_occasions(start, end, None, BOTH, date(2026, 4, 1))
    assert (first.kind, first.fiscal_year) == ("fiscal_year_end", 2025)
    assert len(due_occasions(start, end, None, BOTH, date(2027, 4, 1))) == 2


@for_all(
    st.dates(date(2000, 1, 1), date(2040, 12, 31)),
    st.integers(0, 5 * 366),
    st.one_of(st.none(), st.integers(0, 5 * 366)),
)
def test_a_schedule_covers_each_year_once_and_ends_with_the_project(
    start: date, length: int, ended_after: int | None
) -> None:
    from datetime import timedelta

    end = start + timedelta(days=length)
    ended_on = start + timedelta(days=ended_after) if ended_after is not None else None
    schedule = evaluation_schedule(start, end, ended_on, BOTH)
    last = min(end, ended_on) if ended_on else end
    assert schedule[-1].kind == "project_end" and schedule[-1].period_end == last
    years = [o.fiscal_year for o in schedule]
    assert years == list(range(fiscal_year(start), fiscal_year(last) + 1))
    assert all(o.period_end < last for o in schedule[:-1])
    assert all(o.due_on > o.period_end for o in schedule)
