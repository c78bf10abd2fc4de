"""Portfolio figures: exact integer shares against the ward's baseline."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given as for_all
from hypothesis import strategies as st

from services.evaluation.portfolio import (
    PortfolioGrant,
    PortfolioProject,
    apportion,
    percent,
    portfolio,
)
from tests.unit.evaluation.support import nerima_policy, ota_policy


def projects(*specs: tuple[str, str, bool]) -> list[PortfolioProject]:
    return [
        PortfolioProject(f"p-{i}", form, domain, citizen)
        for i, (form, domain, citizen) in enumerate(specs)
    ]


def test_shares_by_domain_against_nerimas_2008_baseline() -> None:
    started = projects(
        ("subsidy", "B", True),
        ("cooperation_actor_hosted", "B", True),
        ("co_hosting", "C", False),
        ("commission", "D", False),
    )
    figures = portfolio("nerima", 2026, started, [], nerima_policy())
    by_domain = {row["domain"]: row for row in figures["by_domain"]}
    assert by_domain["B"] == {
        "domain": "B",
        "projects": 2,
        "share_bp": 5000,
        "share_percent": "50.00",
        "baseline_bp": 2540,
        "baseline_percent": "25.40",
        "difference_bp": 2460,
    }
    assert (by_domain["C"]["share_bp"], by_domain["C"]["difference_bp"]) == (2500, 2500 - 1770)
    assert (by_domain["D"]["share_bp"], by_domain["D"]["difference_bp"]) == (2500, 2500 - 5690)
    assert figures["baseline"] == {
        "survey_fiscal_year": 2008,
        "goal_domain": "B",
        "shares_bp": {"B": 2540, "C": 1770, "D": 5690},
    }
    assert figures["citizen_proposed"] == {
        "projects": 2,
        "share_bp": 5000,
        "share_percent": "50.00",
    }
    forms = {row["form"]: row for row in figures["by_form"]}
    assert forms["subsidy"]["projects"] == 1 and forms["subsidy"]["domain"] == "B"
    assert forms["joint_committee"]["projects"] == 0
    assert sum(row["share_bp"] for row in figures["by_form"]) == 10_000


def test_thirds_are_apportioned_to_add_up_exactly() -> None:
    started = projects(
        ("subsidy", "B", True), ("co_hosting", "C", False), ("commission", "D", False)
    )
    figures = portfolio("nerima", 2026, started, [], nerima_policy())
    assert [row["share_bp"] for row in figures["by_domain"]] == [3334, 3333, 3333]
    assert figures["citizen_proposed"]["share_bp"] == 3333


def test_a_ward_without_a_baseline_and_a_year_without_projects() -> None:
    figures = portfolio("ota", 2026, [], [], ota_policy())
    assert figures["baseline"] is None and figures["projects"] == 0
    assert all(row["share_bp"] == 0 and row["baseline_bp"] is None for row in figures["by_domain"])
    empty = portfolio("nerima", 2026, [], [], nerima_policy())
    assert all(row["difference_bp"] is None for row in empty["by_domain"])


def test_money_granted_by_field() -> None:
    grants = [
        PortfolioGrant("g-1", "childcare", 300_000),
        PortfolioGrant("g-2", "childcare", 200_000, returned_yen=20_000),
        PortfolioGrant("g-3", "environment", 500_000),
    ]
    figures = portfolio("nerima", 2026, [], grants, nerima_policy())
    assert figures["granted_total_yen"] == 1_000_000
    assert figures["returned_total_yen"] == 20_000
    assert figures["granted_by_field"] == [
        {
            "field": "childcare",
            "grants": 2,
            "amount_yen": 500_000,
            "returned_yen": 20_000,
            "net_yen": 480_000,
            "share_bp": 5000,
            "share_percent": "50.00",
        },
        {
            "field": "environment",
            "grants": 1,
            "amount_yen": 500_000,
            "returned_yen": 0,
            "net_yen": 500_000,
            "share_bp": 5000,
            "share_percent": "50.00",
        },
    ]


def test_percent_is_exact() -> None:
    assert [percent(bp) for bp in (0, 5, 2540, 10_000)] == ["0.00", "0.05", "25.40", "100.00"]


@for_all(st.lists(st.integers(0, 10**12), min_size=1, max_size=30))
def test_apportioned_shares_add_up_and_stay_within_one_of_the_exact_quota(
    amounts: list[int],
) -> None:
    shares = apportion(amounts)
    total = sum(amounts)
    if total == 0:
        assert shares == [0] * len(amounts)
        return
    assert sum(shares) == 10_000
    for amount, share in zip(amounts, shares, strict=True):
        quota = Fraction(amount * 10_000, total)
        assert quota - 1 < share < quota + 1
        assert share >= 0 and (amount > 0 or share == 0)


@for_all(st.lists(st.integers(0, 10**6), min_size=2, max_size=10))
def test_a_larger_amount_never_gets_a_smaller_share(amounts: list[int]) -> None:
    shares = apportion(amounts)
    for i, a in enumerate(amounts):
        for j, b in enumerate(amounts):
            if a > b:
                assert shares[i] >= shares[j]
