"""Fiscal years run from 1 April to 31 March and are judged on the date in Japan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.policy import fiscal_year, fiscal_year_bounds
from shared.policy.fiscal import JST


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 31), 2025),
        (date(2026, 4, 1), 2026),
        (date(2025, 12, 31), 2025),
        (date(2026, 1, 1), 2025),
        (date(2024, 2, 29), 2023),
    ],
)
def test_boundaries(day: date, expected: int) -> None:
    assert fiscal_year(day) == expected


def test_aware_datetimes_are_judged_in_japan() -> None:
    assert fiscal_year(datetime(2026, 3, 31, 14, 59, 59, tzinfo=UTC)) == 2025
    assert fiscal_year(datetime(2026, 3, 31, 15, 0, 0, tzinfo=UTC)) == 2026
    assert fiscal_year(datetime(2026, 4, 1, 0, 0, tzinfo=JST)) == 2026


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fiscal_year(datetime(2026, 4, 1, 12, 0))


def test_bounds() -> None:
    assert fiscal_year_bounds(2025) == (date(2025, 4, 1), date(2026, 3, 31))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 31)))
def test_every_day_lies_within_its_fiscal_year(day: date) -> None:
    year = fiscal_year(day)
    first, last = fiscal_year_bounds(year)
    assert first <= day <= last
    assert year == (day.year if day.month >= 4 else day.year - 1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 30)))
def test_fiscal_year_only_changes_on_the_first_of_april(day: date) -> None:
    following = day + timedelta(days=1)
    changes = fiscal_year(following) != fiscal_year(day)
    assert changes == (following.month == 4 and following.day == 1)
    assert fiscal_year(following) - fiscal_year(day) in (0, 1)


offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30)),
    offsets,
)
def test_datetime_fiscal_year_is_that_of_its_date_in_japan(
    moment: datetime, zone: timezone
) -> None:
    aware = moment.replace(tzinfo=zone)
    assert fiscal_year(aware) == fiscal_year(aware.astimezone(JST).date())
