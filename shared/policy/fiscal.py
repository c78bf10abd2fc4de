"""Japanese local-government fiscal years (会計年度): 1 April to 31 March (地方自治法 第208条)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

FISCAL_YEAR_START_MONTH = 4
JST = timezone(timedelta(hours=9), "JST")


def fiscal_year(day: date) -> int:
    """The fiscal year a day falls in, named by the calendar year it starts in.

    2026-03-31 -> 2025, 2026-04-01 -> 2026. A ``datetime`` must be timezone-aware and is
    judged on its date in Japan (JST has no daylight saving, so a fixed offset is exact).
    """
    if isinstance(day, datetime):
        if day.tzinfo is None or day.utcoffset() is None:
            raise ValueError("fiscal_year needs a timezone-aware datetime or a date")
        day = day.astimezone(JST).date()
    return day.year if day.month >= FISCAL_YEAR_START_MONTH else day.year - 1


def fiscal_year_bounds(year: int) -> tuple[date, date]:
    """First and last day (inclusive) of fiscal year ``year``."""
    return date(year, FISCAL_YEAR_START_MONTH, 1), date(year + 1, FISCAL_YEAR_START_MONTH, 1) - (
        timedelta(days=1)
    )
