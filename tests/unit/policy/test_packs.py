"""The built-in packs load, validate and say what the seed documents say."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from shared.policy import (
    PolicyPack,
    UnknownPolicyCodeError,
    UnknownWardError,
    builtin_wards,
    get_activity_field,
    get_actor_kind,
    get_principle,
    get_programme,
    is_default,
    is_valid_lg_code,
    load_builtin_pack,
)
from shared.policy.model import Funding, Partnership
from tests.unit.policy._support import WARDS, pack_document, raw_pack_text


def test_builtin_wards_lists_the_shipped_packs() -> None:
    assert builtin_wards() == ["nerima", "ota"]


@pytest.mark.parametrize("ward", WARDS)
def test_pack_loads_and_names_its_ward(ward: str) -> None:
    pack = load_builtin_pack(ward)
    assert isinstance(pack, PolicyPack)
    assert pack.ward == ward
    assert pack.schema_version == 1
    assert pack.version >= 1
    assert is_valid_lg_code(pack.lg_code)


@pytest.mark.parametrize("ward", WARDS)
def test_pack_file_spells_out_every_field(ward: str) -> None:
    # The file is its own canonical document: anyone can hash it without this code.
    assert json.loads(raw_pack_text(ward)) == pack_document(ward)


def test_unknown_ward_is_a_clear_error() -> None:
    with pytest.raises(UnknownWardError, match=r"'setagaya'.*nerima, ota"):
        load_builtin_pack("setagaya")


@pytest.mark.parametrize("ward", ["../nerima", "NERIMA", "nerima.json", ""])
def test_ward_names_outside_the_list_are_refused(ward: str) -> None:
    with pytest.raises(UnknownWardError):
        load_builtin_pack(ward)


def test_packs_are_frozen() -> None:
    pack = load_builtin_pack("nerima")
    with pytest.raises(ValueError, match="frozen"):
        pack.version = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        pack.fund.min_donation_yen = 1  # type: ignore[misc]


def test_local_government_codes() -> None:
    assert load_builtin_pack("nerima").lg_code == "131202"
    assert load_builtin_pack("ota").lg_code == "131113"


def _reject_float(text: str) -> Any:
    raise AssertionError(f"float literal {text} in a pack file")


def _assert_no_float(node: Any, path: str) -> None:
    assert not isinstance(node, float | Decimal), f"{path} is {node!r}"
    if isinstance(node, dict):
        for key, value in node.items():
            _assert_no_float(value, f"{path}.{key}")
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            _assert_no_float(value, f"{path}[{index}]")


@pytest.mark.parametrize("ward", WARDS)
def test_no_float_anywhere_in_a_pack(ward: str) -> None:
    raw = json.loads(raw_pack_text(ward), parse_float=_reject_float, parse_constant=_reject_float)
    _assert_no_float(raw, ward)
    _assert_no_float(load_builtin_pack(ward).model_dump(), ward)


@pytest.mark.parametrize("ward", WARDS)
def test_rubric_weights_and_scores_are_positive_integers(ward: str) -> None:
    screening = load_builtin_pack(ward).screening
    for item in screening.rubric:
        for value in (item.weight, item.max_score):
            assert type(value) is int, item.code
            assert value > 0, item.code
    assert screening.max_weighted_score == sum(i.weight * i.max_score for i in screening.rubric)
    assert screening.min_counted_reviews >= 1


@pytest.mark.parametrize("ward", WARDS)
def test_money_is_integer_yen(ward: str) -> None:
    pack = load_builtin_pack(ward)
    amounts = [pack.fund.min_donation_yen, pack.fund.max_donation_yen]
    amounts += [programme.max_amount_yen for programme in pack.programmes]
    assert all(type(amount) is int and amount > 0 for amount in amounts)
    assert pack.fund.fiscal_year_start_month == 4


def test_nerima_principles_are_the_seven_of_the_guidelines() -> None:
    pack = load_builtin_pack("nerima")
    labels = [p.ja.removesuffix("の原則") for p in pack.principles]
    assert labels == ["対等", "相互理解", "自主性の尊重", "情報公開", "自立化", "目的共有", "評価"]
    assert pack.viewpoints == ()


def test_ota_principles_and_viewpoints() -> None:
    pack = load_builtin_pack("ota")
    assert [p.ja for p in pack.principles] == ["自立", "理解", "公開"]
    assert [v.ja for v in pack.viewpoints] == [
        "公共的課題や資源の適切な配分",
        "大田区らしい連携・協働",
    ]
    assert get_principle(pack, "ota_style").ja == "大田区らしい連携・協働"


@pytest.mark.parametrize("ward", WARDS)
def test_every_principle_and_viewpoint_is_an_evaluation_item(ward: str) -> None:
    pack = load_builtin_pack(ward)
    bases = {item.basis for item in pack.evaluation.items}
    assert {p.code for p in pack.all_principles} <= bases
    evaluation = pack.evaluation
    assert (evaluation.scale_min, evaluation.scale_max) == (1, 5)
    assert 0 < evaluation.divergence_threshold <= evaluation.scale_max - evaluation.scale_min
    assert [t.value for t in evaluation.schedule] == ["fiscal_year_end", "project_end"]


def test_nerima_actor_kinds_follow_the_guidelines() -> None:
    pack = load_builtin_pack("nerima")
    assert [k.ja.split("（")[0] for k in pack.actor_kinds] == [
        "区内に住み、働き、学び、または活動する人",
        "町会・自治会",
        "NPO法人",
        "任意団体",
        "教育・研究機関",
        "事業者・事業者団体",
        "公益法人・公益団体",
        "その他の団体",
        "区",
    ]
    assert get_actor_kind(pack, "npo_corporation").corporate_number_required
    assert not get_actor_kind(pack, "neighbourhood_association").corporate_number_required
    assert [k.code for k in pack.actor_kinds if k.is_ward] == ["ward"]


def test_ota_actor_kinds_follow_the_basic_policy() -> None:
    pack = load_builtin_pack("ota")
    assert [k.ja.split("（")[0] for k in pack.actor_kinds] == ["区民", "区民活動団体", "企業", "区"]


def test_nerima_domain_baseline_is_in_basis_points() -> None:
    baseline = load_builtin_pack("nerima").domain_baseline
    assert baseline is not None
    assert baseline.survey_fiscal_year == 2008
    assert {s.domain.value: s.share_bp for s in baseline.shares} == {
        "B": 2540,
        "C": 1770,
        "D": 5690,
    }
    assert baseline.goal_domain.value == "B"
    assert load_builtin_pack("ota").domain_baseline is None


def test_nerima_programmes() -> None:
    pack = load_builtin_pack("nerima")
    mirai = get_programme(pack, "mirai_sozo_challenge")
    assert (mirai.ja, mirai.max_years, mirai.max_amount_yen) == ("未来創造チャレンジ", 3, 3_000_000)
    assert mirai.partnership is Partnership.ACTOR_AND_WARD
    assert mirai.ward_officer_per_project
    collabo = get_programme(pack, "collabo_challenge")
    assert (collabo.ja, collabo.max_years, collabo.max_amount_yen) == (
        "コラボチャレンジ",
        1,
        300_000,
    )
    assert collabo.expected_projects == 5
    assert [r.actor_kind for r in collabo.reserved_places] == ["neighbourhood_association"]


def test_ota_programmes_are_fund_grants_screened_by_the_council() -> None:
    pack = load_builtin_pack("ota")
    assert [p.ja for p in pack.programmes] == [
        "スタートアップ助成",
        "ステップアップ助成",
        "チャレンジ助成",
    ]
    assert all(p.funding is Funding.FUND for p in pack.programmes)
    assert pack.fund.name.ja == "大田区地域力応援基金"
    assert pack.screening.reviewer_body is not None
    assert pack.screening.reviewer_body.ja == "大田区区民協働推進会議"
    assert [r.ja for r in pack.screening.rubric] == ["活動基盤", "計画実行", "地域貢献", "協働理解"]


@pytest.mark.parametrize("ward", WARDS)
def test_fund_rules(ward: str) -> None:
    fund = load_builtin_pack(ward).fund
    assert [k.code.value for k in fund.designation_kinds] == [
        "general",
        "field",
        "actor",
        "project",
    ]
    assert fund.allocation_rule.value == "most_specific_first_then_oldest"
    assert [d.value for d in fund.specificity_order] == ["project", "actor", "field", "general"]
    assert 0 < fund.min_donation_yen <= fund.max_donation_yen


@pytest.mark.parametrize("ward", WARDS)
def test_exclusions_cover_the_usual_grounds(ward: str) -> None:
    codes = {e.code for e in load_builtin_pack(ward).exclusions}
    assert {
        "profit_seeking",
        "political",
        "religious",
        "particular_benefit",
        "facility_construction",
        "already_subsidised",
    } <= codes


@pytest.mark.parametrize("ward", WARDS)
def test_programmes_fit_the_limits(ward: str) -> None:
    pack = load_builtin_pack(ward)
    for programme in pack.programmes:
        assert programme.max_years <= pack.limits.max_years_per_term


def test_lookups_raise_a_clear_error() -> None:
    pack = load_builtin_pack("nerima")
    assert get_activity_field(pack, "childcare").ja == "子育て"
    with pytest.raises(UnknownPolicyCodeError, match=r"'nerima' has no activity field 'x'.*"):
        get_activity_field(pack, "x")
    with pytest.raises(UnknownPolicyCodeError, match="known: resident, ") as caught:
        get_actor_kind(pack, "civic_group")
    assert caught.value.code == "civic_group"
    assert isinstance(caught.value, LookupError)
    with pytest.raises(UnknownPolicyCodeError):
        get_programme(load_builtin_pack("ota"), "mirai_sozo_challenge")


@pytest.mark.parametrize("code", ["", "child", "childcarex", "Childcare", " childcare"])
def test_lookups_match_whole_codes_only(code: str) -> None:
    with pytest.raises(UnknownPolicyCodeError):
        get_activity_field(load_builtin_pack("nerima"), code)


@pytest.mark.parametrize(
    ("ward", "path"),
    [
        ("nerima", "principles.equality"),
        ("nerima", "forms.subsidy.domain"),
        ("nerima", "domain_baseline.shares"),
        ("nerima", "programmes.mirai_sozo_challenge.max_amount_yen"),
        ("nerima", "limits.max_years_per_term"),
        ("ota", "principles.disclosure"),
        ("ota", "screening.rubric.activity_base"),
        ("ota", "fund.name"),
    ],
)
def test_facts_from_sources_are_not_marked_default(ward: str, path: str) -> None:
    assert not is_default(load_builtin_pack(ward), path)


@pytest.mark.parametrize(
    ("ward", "path"),
    [
        ("nerima", "fund.min_donation_yen"),
        ("nerima", "screening.rubric.feasibility.weight"),
        ("nerima", "evaluation.divergence_threshold"),
        ("nerima", "limits.max_consecutive_years"),
        ("nerima", "actor_kinds.npo_corporation.corporate_number_required"),
        ("ota", "forms.subsidy.domain"),
        ("ota", "screening.rubric.activity_base.weight"),
        ("ota", "programmes.startup.max_amount_yen"),
        ("ota", "evaluation.items.outcome"),
        ("ota", "limits"),
    ],
)
def test_chosen_values_are_marked_default(ward: str, path: str) -> None:
    assert is_default(load_builtin_pack(ward), path)
