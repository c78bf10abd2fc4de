"""When a project is evaluated: each fiscal year end within its term, and its end (the ward's pack
says which of the two it uses). Pure: dates in, occasions out.

A fiscal year end that falls on or after the project's end is no separate occasion: the end's
round covers that last stretch (and, when the pack has no end round, the last year's round does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from services.evaluation.policy import FISCAL_YEAR_END, PROJECT_END
from shared.policy import fiscal_year, fiscal_year_bounds

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Occasion:
    kind: str
    """``fiscal_year_end`` or ``project_end``."""
    fiscal_year: int
    period_start: date
    period_end: date

    @property
    def due_on(self) -> date:
        """A round opens the day after the period it looks back on."""
        return self.period_end + ONE_DAY

    @property
    def key(self) -> tuple[str, int | None]:
        """What identifies the occasion among a project's: the end has one, whatever its year."""
        return (self.kind, None if self.kind == PROJECT_END else self.fiscal_year)


def project_end_date(term_end: date, ended_on: date | None) -> date:
    """The agreed end, or an earlier one when the project was ended before it."""
    return min(term_end, ended_on) if ended_on is not None else term_end


def evaluation_schedule(
    term_start: date, term_end: date, ended_on: date | None, timings: Sequence[str]
) -> list[Occasion]:
    end = project_end_date(term_end, ended_on)
    start = min(term_start, end)
    occasions = []
    for year in range(fiscal_year(start), fiscal_year(end) + 1):
        year_start, year_end = fiscal_year_bounds(year)
        if year_end < end:
            if FISCAL_YEAR_END in timings:
                occasions.append(Occasion(FISCAL_YEAR_END, year, max(start, year_start), year_end))
        elif PROJECT_END in timings:
            occasions.append(Occasion(PROJECT_END, year, start, end))
        elif FISCAL_YEAR_END in timings:
            occasions.append(Occasion(FISCAL_YEAR_END, year, max(start, year_start), year_end))
    return occasions


def due_occasions(
    term_start: date,
    term_end: date,
    ended_on: date | None,
    timings: Sequence[str],
    today: date,
) -> list[Occasion]:
    schedule = evaluation_schedule(term_start, term_end, ended_on, timings)
    return [occasion for occasion in schedule if occasion.due_on <= today]


def find_occasion(
    schedule: Sequence[Occasion], kind: str, fiscal_year: int | None
) -> Occasion | None:
    key = (kind, None if kind == PROJECT_END else fiscal_year)
    return next((occasion for occasion in schedule if occasion.key == key), None)
