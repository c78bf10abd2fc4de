"""Collaboration forms lie in the domains of Nerima's table; A and E are not collaboration."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.policy import (
    SIDE_SUPPORT,
    Domain,
    UnknownPolicyCodeError,
    form_domain,
    get_form,
    is_collaboration_domain,
    load_builtin_pack,
)
from shared.policy.model import CollaborationForm
from tests.unit.policy._support import WARDS, item_index, pack_document, validate, with_value

# The table of forms and domains, by Japanese label (host given for 事業協力).
DESIGN_TABLE: dict[str, Domain | str] = {
    "事業協力（区民主催）": Domain.B,
    "補助・助成": Domain.B,
    "後援名義の付与": Domain.B,
    "共催": Domain.C,
    "実行委員会・協議会": Domain.C,
    "委託": Domain.D,
    "事業展開への提案と事業実施過程への参画": Domain.D,
    "事業協力（区主催）": Domain.D,
    "協働事業拡充のための人材育成": Domain.D,
    "その他の支援": SIDE_SUPPORT,
}


def _label(form: CollaborationForm) -> str:
    return form.ja if form.ja.startswith("事業協力") else form.ja.split("（")[0]


@pytest.mark.parametrize("ward", WARDS)
def test_forms_lie_in_the_domains_of_the_table(ward: str) -> None:
    pack = load_builtin_pack(ward)
    assert {_label(form): form_domain(pack, form.code) for form in pack.forms} == DESIGN_TABLE


@pytest.mark.parametrize("ward", WARDS)
def test_nine_forms_with_cooperation_split_by_host(ward: str) -> None:
    pack = load_builtin_pack(ward)
    hosted = {form.host.value: form.domain for form in pack.forms if form.host is not None}
    assert hosted == {"actor": Domain.B, "ward": Domain.D}
    assert len({_label(form).split("（")[0] for form in pack.forms}) == 9


def test_side_support_is_flagged() -> None:
    pack = load_builtin_pack("nerima")
    assert get_form(pack, "other_support").is_side_support
    assert not get_form(pack, "subsidy").is_side_support


@pytest.mark.parametrize(
    ("domain", "expected"), [("A", False), ("B", True), ("C", True), ("D", True), ("E", False)]
)
def test_only_b_c_d_are_collaboration(domain: str, expected: bool) -> None:
    assert is_collaboration_domain(domain) is expected
    assert is_collaboration_domain(Domain(domain)) is expected


@pytest.mark.parametrize("value", ["side", "F", "b", ""])
def test_is_collaboration_domain_refuses_non_domains(value: str) -> None:
    with pytest.raises(ValueError, match="is not a valid Domain"):
        is_collaboration_domain(value)


def _form(domain: str) -> dict[str, Any]:
    return {"code": "x", "ja": "x", "en": "x", "domain": domain, "host": None, "source": None}


@pytest.mark.parametrize("domain", ["A", "E"])
def test_a_form_in_domain_a_or_e_is_rejected(domain: str) -> None:
    with pytest.raises(ValidationError, match=f"domain {domain} is not collaboration"):
        CollaborationForm.model_validate(_form(domain))


@pytest.mark.parametrize("domain", ["B", "C", "D", "side"])
def test_a_form_in_b_c_d_or_side_support_is_accepted(domain: str) -> None:
    assert CollaborationForm.model_validate(_form(domain)).domain == domain


@pytest.mark.parametrize("domain", ["A", "E"])
def test_a_pack_with_a_non_collaboration_form_is_rejected(domain: str) -> None:
    document = pack_document("nerima")
    index = item_index(document["forms"], "subsidy")
    with pytest.raises(ValidationError, match="is not collaboration"):
        validate(with_value(document, ("forms", index, "domain"), domain))


def test_unknown_form_is_a_clear_error() -> None:
    with pytest.raises(UnknownPolicyCodeError, match="no collaboration form 'lobbying'"):
        form_domain(load_builtin_pack("ota"), "lobbying")
