"""A pack that breaks an invariant never validates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from shared.policy import parse_pack
from tests.unit.policy._support import (
    item_index,
    pack_document,
    raw_pack_text,
    validate,
    with_value,
)

Document = dict[str, Any]


def _programme(document: Document, code: str) -> int:
    return item_index(document["programmes"], code)


def _rubric(document: Document, code: str) -> int:
    return item_index(document["screening"]["rubric"], code)


@pytest.mark.parametrize("value", [3_000_000.0, 3_000_000.5, "3000000", True, 0, -1, 10**13])
def test_money_must_be_positive_integer_yen(value: Any) -> None:
    document = pack_document("nerima")
    path = ("programmes", _programme(document, "collabo_challenge"), "max_amount_yen")
    with pytest.raises(ValidationError, match="max_amount_yen"):
        validate(with_value(document, path, value))


@pytest.mark.parametrize("field", ["min_donation_yen", "max_donation_yen"])
def test_donation_limits_refuse_floats(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        validate(with_value(pack_document("ota"), ("fund", field), 1000.0))


@pytest.mark.parametrize("value", [0, -2, 1.0, 1.5, True, "2"])
def test_rubric_weight_must_be_a_positive_integer(value: Any) -> None:
    document = pack_document("nerima")
    path = ("screening", "rubric", _rubric(document, "feasibility"), "weight")
    with pytest.raises(ValidationError, match="weight"):
        validate(with_value(document, path, value))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"max_amount_yen": 300000,', '"max_amount_yen": 300000.0,'),
        ('"share_bp": 2540', '"share_bp": 25.4'),
        ('"min_donation_yen": 1000,', '"min_donation_yen": 1e3,'),
        ('"weight": 3,', '"weight": 3.0,'),
    ],
)
def test_float_literals_in_pack_json_are_refused(old: str, new: str) -> None:
    raw = raw_pack_text("nerima")
    assert old in raw
    with pytest.raises(ValidationError):
        parse_pack(raw.replace(old, new, 1))


def _edit(path: tuple[Any, ...], value: Any) -> Callable[[Document], Document]:
    return lambda document: with_value(document, path, value)


def _unknown_allowed_form(document: Document) -> Document:
    index = _programme(document, "collabo_challenge")
    return with_value(document, ("programmes", index, "allowed_forms"), ["subsidy", "lobbying"])


def _unknown_reserved_kind(document: Document) -> Document:
    index = _programme(document, "collabo_challenge")
    places = [{"actor_kind": "civic_group", "places": 1}]
    return with_value(document, ("programmes", index, "reserved_places"), places)


def _programme_longer_than_term(document: Document) -> Document:
    index = _programme(document, "mirai_sozo_challenge")
    return with_value(document, ("programmes", index, "max_years"), 4)


def _repeated_form(document: Document) -> Document:
    return with_value(document, ("forms",), [*document["forms"], document["forms"][0]])


def _two_ward_kinds(document: Document) -> Document:
    index = item_index(document["actor_kinds"], "business")
    return with_value(document, ("actor_kinds", index, "is_ward"), True)


def _missing_domain_e(document: Document) -> Document:
    return with_value(document, ("domains",), document["domains"][:4])


def _baseline_with_domain_a(document: Document) -> Document:
    return with_value(document, ("domain_baseline", "shares", 0, "domain"), "A")


def _unsourced_rubric_item(document: Document) -> Document:
    defaults = [d for d in document["defaults"] if d != "screening.rubric"]
    return with_value(document, ("defaults",), defaults)


def _default_path_typo(document: Document) -> Document:
    return with_value(document, ("defaults",), [*document["defaults"], "fund.min_donation"])


def _default_path_unknown_code(document: Document) -> Document:
    return with_value(document, ("defaults",), [*document["defaults"], "fields.astronomy.ja"])


def _source_citing_unknown_document(document: Document) -> Document:
    return with_value(document, ("principles", 0, "source"), "nerima-shishin-2011 第3章4(1)")


def _unknown_evaluation_basis(document: Document) -> Document:
    return with_value(document, ("evaluation", "items", 0, "basis"), "harmony")


CASES: dict[str, tuple[Callable[[Document], Document], str]] = {
    "min above max donation": (
        _edit(("fund", "min_donation_yen"), 20_000_000),
        "min_donation_yen exceeds",
    ),
    "specificity order not a permutation": (
        _edit(("fund", "specificity_order"), ["project", "project", "field", "general"]),
        "specificity_order",
    ),
    "fiscal year starting in January": (
        _edit(("fund", "fiscal_year_start_month"), 1),
        "fiscal_year_start_month",
    ),
    "baseline not adding up": (
        _edit(("domain_baseline", "shares", 0, "share_bp"), 2541),
        "10000 basis points",
    ),
    "baseline with domain A": (_baseline_with_domain_a, "B, C and D"),
    "goal in domain E": (_edit(("domain_baseline", "goal_domain"), "E"), "goal_domain"),
    "divergence wider than the scale": (
        _edit(("evaluation", "divergence_threshold"), 5),
        "divergence_threshold",
    ),
    "empty scale": (_edit(("evaluation", "scale_min"), 5), "scale_min"),
    "no counted reviews": (_edit(("screening", "min_counted_reviews"), 0), "min_counted_reviews"),
    "unknown allowed form": (_unknown_allowed_form, "unknown forms"),
    "unknown reserved actor kind": (_unknown_reserved_kind, "unknown actor kinds"),
    "programme longer than the term": (_programme_longer_than_term, "term limit"),
    "repeated form code": (_repeated_form, "repeated form"),
    "two ward actor kinds": (_two_ward_kinds, "ward itself"),
    "domain E missing": (_missing_domain_e, "A, B, C, D and E"),
    "unsourced value not marked default": (_unsourced_rubric_item, "not marked as a default"),
    "default path typo": (_default_path_typo, "nothing named 'min_donation'"),
    "default path to unknown code": (_default_path_unknown_code, "nothing named 'astronomy'"),
    "source citing an unlisted document": (_source_citing_unknown_document, "cites no listed"),
    "evaluation item on an unknown principle": (_unknown_evaluation_basis, "unknown basis"),
    "unknown field": (_edit(("motto",), "協働"), "Extra inputs are not permitted"),
    "bad ward code": (_edit(("ward",), "Nerima"), "ward"),
    "future schema": (_edit(("schema_version",), 2), "schema_version"),
    "float version": (_edit(("version",), 1.0), "version"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_invariant_is_rejected(case: str) -> None:
    edit, message = CASES[case]
    document = pack_document("nerima")
    validate(document)
    with pytest.raises(ValidationError, match=message):
        validate(edit(document))
