"""Default paths name values inside a pack document."""

from __future__ import annotations

from typing import Any

import pytest

from shared.policy.provenance import covers, is_covered, resolve, sourced_objects

DOCUMENT: dict[str, Any] = {
    "fund": {"min_donation_yen": 1000, "source": None},
    "forms": [
        {"code": "subsidy", "domain": "B", "source": "doc 1"},
        {"code": "co_hosting", "domain": "C", "source": None},
    ],
    "shares": [{"domain": "B", "share_bp": 10000}],
    "schedule": ["fiscal_year_end"],
}


def test_resolve_names_nested_and_keyed_values() -> None:
    assert resolve(DOCUMENT, "fund.min_donation_yen") == [1000]
    assert resolve(DOCUMENT, "forms.co_hosting.domain") == ["C"]
    assert resolve(DOCUMENT, "forms.*.domain") == ["B", "C"]
    assert resolve(DOCUMENT, "shares.B.share_bp") == [10000]
    assert resolve(DOCUMENT, "schedule") == [["fiscal_year_end"]]


@pytest.mark.parametrize(
    "path",
    [
        "fund.max_donation_yen",
        "forms.commission",
        "forms.subsidy.host",
        "schedule.0",
        "fund.min_donation_yen.x",
    ],
)
def test_resolve_refuses_paths_that_name_nothing(path: str) -> None:
    with pytest.raises(ValueError, match="nothing named"):
        resolve(DOCUMENT, path)


@pytest.mark.parametrize(
    ("default", "path", "expected"),
    [
        ("fund", "fund.min_donation_yen", True),
        ("fund.min_donation_yen", "fund.min_donation_yen", True),
        ("forms.*.domain", "forms.subsidy.domain", True),
        ("forms.*.domain", "forms.subsidy", False),
        ("forms.subsidy", "forms.co_hosting.domain", False),
        ("fund.min_donation_yen", "fund", False),
        ("fun", "fund.min_donation_yen", False),
    ],
)
def test_covers(default: str, path: str, expected: bool) -> None:
    assert covers(default, path) is expected
    assert is_covered([default], path) is expected


def test_sourced_objects_lists_every_object_with_a_source() -> None:
    assert list(sourced_objects(DOCUMENT)) == [
        ("fund", None),
        ("forms.subsidy", "doc 1"),
        ("forms.co_hosting", None),
    ]
