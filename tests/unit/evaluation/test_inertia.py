"""The inertia rules (惰性的な関係) on facts from the proposals and the fund, and the flag stream."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from services.evaluation import inertia
from services.evaluation.commands import ClearInertiaFlag, FlagClearance
from services.evaluation.events import INERTIA_FLAG_CLEARED, INERTIA_FLAGGED
from services.evaluation.inertia import (
    CONSECUTIVE_YEARS,
    NO_OPEN_CALL,
    REPEAT_GRANTS,
    Breach,
    CallFact,
    GrantFact,
    ProjectFact,
    WardFacts,
    consecutive_runs,
    find_breaches,
)
from services.evaluation.policy import Limits
from shared.errors import Conflict, NotFound
from tests.unit.evaluation.support import given, types_of

LIMITS = Limits(max_consecutive_years=3, max_grants_same_actor_same_purpose=3)
DEPARTMENT = "子育て支援課"


def project(
    project_id: str, first: int, years: int = 1, *, call: str = "call-1", **extra: Any
) -> ProjectFact:
    values: dict[str, Any] = {
        "project_id": project_id,
        "lead_actor_id": "npo-1",
        "partner_actor_ids": (),
        "department": DEPARTMENT,
        "call_id": call,
        "term_start": date(first, 4, 1),
        "term_end": date(first + years, 3, 31),
    }
    values.update(extra)
    return ProjectFact(**values)


def grant(
    grant_id: str, year: int, *, to: str = "p-1", kind: str = "project", **extra: Any
) -> GrantFact:
    values: dict[str, Any] = {
        "grant_id": grant_id,
        "recipient_kind": kind,
        "recipient_id": to,
        "paid_actor_id": "npo-1",
        "purpose": "childcare",
        "fiscal_year": year,
    }
    values.update(extra)
    return GrantFact(**values)


def facts(projects=(), calls=(), grants=()) -> WardFacts:  # type: ignore[no-untyped-def]
    return WardFacts("nerima", list(projects), list(calls), list(grants))


def calls(*pairs: tuple[str, date]) -> list[CallFact]:
    return [CallFact(call_id, opens_on) for call_id, opens_on in pairs]


def rules(breaches: list[Breach]) -> list[tuple[str, str]]:
    return [(b.rule, b.subject) for b in breaches]


# --- consecutive years --------------------------------------------------------------------


def test_consecutive_runs() -> None:
    assert consecutive_runs([2027, 2024, 2025, 2025, 2030]) == [
        (2024, 2025),
        (2027, 2027),
        (2030, 2030),
    ]
    assert consecutive_runs([]) == []


def test_a_pair_within_the_limit_is_not_flagged() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-2", date(2026, 1, 10)))
    projects = [project("p-1", 2024, 2), project("p-2", 2026, 1, call="call-2")]
    assert find_breaches(facts(projects, known), LIMITS) == []


def test_a_pair_working_together_beyond_the_limit_is_flagged() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-2", date(2027, 1, 10)))
    projects = [project("p-1", 2024, 3), project("p-2", 2027, 1, call="call-2")]
    [breach] = find_breaches(facts(projects, known), LIMITS)
    assert (breach.rule, breach.subject) == (CONSECUTIVE_YEARS, "actor_department")
    assert (breach.actor_id, breach.department) == ("npo-1", DEPARTMENT)
    assert (breach.limit, breach.observed) == (3, 4)
    assert (breach.first_year, breach.last_year) == (2024, 2027)
    assert breach.evidence == {"project_ids": ["p-1", "p-2"]}


def test_a_partner_counts_as_much_as_the_lead() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-2", date(2027, 1, 10)))
    projects = [
        project("p-1", 2024, 3, partner_actor_ids=("school-1",)),
        project("p-2", 2027, 1, call="call-2", lead_actor_id="school-1"),
    ]
    pairs = {(b.actor_id, b.rule) for b in find_breaches(facts(projects, known), LIMITS)}
    assert pairs == {("school-1", CONSECUTIVE_YEARS)}


def test_a_gap_year_breaks_the_run_and_another_department_is_another_pair() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-2", date(2028, 1, 10)))
    gap = [project("p-1", 2024, 3), project("p-2", 2028, 1, call="call-2")]
    assert find_breaches(facts(gap, known), LIMITS) == []
    other = [project("p-1", 2024, 3), project("p-2", 2027, 1, call="call-2", department="環境課")]
    assert (
        find_breaches(
            facts(other, calls(("call-1", date(2024, 1, 1)), ("call-2", date(2027, 1, 1)))), LIMITS
        )
        == []
    )


def test_a_project_whose_own_term_exceeds_the_limit_is_flagged_as_a_project() -> None:
    [breach] = find_breaches(facts([project("p-1", 2024, 4)]), LIMITS)
    assert (breach.rule, breach.subject, breach.project_id) == (CONSECUTIVE_YEARS, "project", "p-1")
    assert breach.observed == 4


def test_an_early_end_shortens_the_years_counted() -> None:
    ended = project("p-1", 2024, 4, ended_on=date(2026, 9, 30))
    assert find_breaches(facts([ended]), LIMITS) == []


# --- repeat grants ------------------------------------------------------------------------


def test_repeat_grants_to_one_project_for_one_purpose_beyond_the_limit() -> None:
    grants = [grant(f"g-{y}", y) for y in (2024, 2025, 2026)]
    assert find_breaches(facts(grants=grants), LIMITS) == []
    [breach] = find_breaches(facts(grants=[*grants, grant("g-2026b", 2026)]), LIMITS)
    assert (breach.rule, breach.subject, breach.project_id) == (REPEAT_GRANTS, "project", "p-1")
    assert breach.observed == 4
    assert breach.evidence == {
        "purpose": "childcare",
        "grant_ids": ["g-2024", "g-2025", "g-2026", "g-2026b"],
    }


def test_grants_for_other_purposes_or_after_a_gap_do_not_add_up() -> None:
    grants = [
        grant("g-1", 2020),
        grant("g-2", 2022),
        grant("g-3", 2023),
        grant("g-4", 2024),
        grant("g-5", 2024, purpose="environment"),
    ]
    assert find_breaches(facts(grants=grants), LIMITS) == []


def test_repeat_grants_to_a_pair_over_several_projects() -> None:
    projects = [project("p-1", 2024, 2), project("p-2", 2026, 2, call="call-2")]
    known = calls(("call-1", date(2024, 1, 1)), ("call-2", date(2025, 12, 1)))
    grants = [
        grant("g-1", 2024, to="p-1"),
        grant("g-2", 2025, to="p-1"),
        grant("g-3", 2026, to="p-2"),
        grant("g-4", 2027, to="p-2"),
    ]
    found = find_breaches(facts(projects, known, grants), LIMITS)
    # Four years together is a breach of its own.
    assert rules(found) == [
        (CONSECUTIVE_YEARS, "actor_department"),
        (REPEAT_GRANTS, "actor_department"),
    ]
    breach = found[1]
    assert (breach.actor_id, breach.department, breach.observed) == ("npo-1", DEPARTMENT, 4)


def test_grants_made_to_an_actor_directly_count_for_the_actor_without_a_department() -> None:
    grants = [grant(f"g-{y}", y, to="npo-1", kind="actor") for y in (2024, 2025, 2026, 2027)]
    [breach] = find_breaches(facts(grants=grants), LIMITS)
    assert (breach.subject, breach.actor_id, breach.department) == (
        "actor_department",
        "npo-1",
        None,
    )


# --- no open call in between --------------------------------------------------------------


def test_a_continuation_through_the_same_call_is_flagged() -> None:
    projects = [project("p-1", 2024, 1), project("p-2", 2025, 1)]
    [breach] = find_breaches(facts(projects, calls(("call-1", date(2024, 1, 10)))), LIMITS)
    assert (breach.rule, breach.project_id) == (NO_OPEN_CALL, "p-2")
    assert breach.evidence["project_ids"] == ["p-1", "p-2"]


def test_a_continuation_through_a_call_opened_before_the_earlier_project_is_flagged() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-0", date(2023, 12, 1)))
    projects = [project("p-1", 2024, 1), project("p-2", 2025, 1, call="call-0")]
    assert rules(find_breaches(facts(projects, known), LIMITS)) == [
        (NO_OPEN_CALL, "actor_department")
    ]


def test_a_continuation_through_a_fresh_call_or_after_a_gap_is_not() -> None:
    known = calls(("call-1", date(2024, 1, 10)), ("call-2", date(2025, 1, 10)))
    fresh = [project("p-1", 2024, 1), project("p-2", 2025, 1, call="call-2")]
    assert find_breaches(facts(fresh, known), LIMITS) == []
    later = [project("p-1", 2024, 1), project("p-2", 2027, 1)]
    assert find_breaches(facts(later, known), LIMITS) == []


def test_no_judgement_while_the_call_is_not_known() -> None:
    projects = [project("p-1", 2024, 1), project("p-2", 2025, 1, call="call-9")]
    assert find_breaches(facts(projects, calls(("call-1", date(2024, 1, 10)))), LIMITS) == []


# --- flag ids -----------------------------------------------------------------------------


def test_the_same_breach_has_the_same_id_and_a_longer_run_a_new_one() -> None:
    grants = [grant(f"g-{y}", y) for y in (2024, 2025, 2026, 2027)]
    [first] = find_breaches(facts(grants=grants), LIMITS)
    [again] = find_breaches(facts(grants=list(reversed(grants))), LIMITS)
    assert first.flag_id == again.flag_id
    [longer] = find_breaches(facts(grants=[*grants, grant("g-2028", 2028)]), LIMITS)
    assert longer.flag_id != first.flag_id
    [elsewhere] = find_breaches(WardFacts("ota", [], [], grants), LIMITS)
    assert elsewhere.flag_id != first.flag_id


# --- the flag's stream --------------------------------------------------------------------


def breach() -> Breach:
    [found] = find_breaches(facts([project("p-1", 2024, 4)]), LIMITS)
    return found


def clearance(ward: str = "nerima") -> ClearInertiaFlag:
    body = FlagClearance(decision="継続を認める", reason="公開募集で他の応募がなかったため。")
    return ClearInertiaFlag(ward=ward, flag_id=breach().flag_id, clearance=body)


def test_a_flag_is_raised_once_and_cleared_once_by_a_recorded_decision() -> None:
    raised = inertia.decide_flag(None, breach())
    assert types_of(raised) == [INERTIA_FLAGGED]
    assert raised[0].data["rule"] == CONSECUTIVE_YEARS and raised[0].data["fiscal_years"] == [
        2024,
        2027,
    ]
    state = given(inertia.initial_flag, inertia.evolve_flag, raised)
    assert state is not None and state.status == "open"
    with pytest.raises(Conflict):
        inertia.decide_flag(state, breach())
    cleared = inertia.decide_clear(state, clearance())
    assert types_of(cleared) == [INERTIA_FLAG_CLEARED]
    assert cleared[0].data == {
        "flag_id": state.flag_id,
        "decision": "継続を認める",
        "reason": "公開募集で他の応募がなかったため。",
    }
    after = given(inertia.initial_flag, inertia.evolve_flag, raised, cleared)
    assert after is not None and after.status == "cleared" and after.decision == "継続を認める"
    with pytest.raises(Conflict, match="already cleared"):
        inertia.decide_clear(after, clearance())


def test_another_wards_flag_cannot_be_cleared_here() -> None:
    state = given(inertia.initial_flag, inertia.evolve_flag, inertia.decide_flag(None, breach()))
    with pytest.raises(NotFound):
        inertia.decide_clear(state, clearance("ota"))
    with pytest.raises(NotFound):
        inertia.decide_clear(None, clearance())
