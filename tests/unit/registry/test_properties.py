"""Properties of the 法人番号 check digit and of the kana-insensitive search normalisation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.registry import corporate_number
from services.registry.japanese import katakana_to_hiragana, normalise_for_search, search_terms

bases = st.text(alphabet="0123456789", min_size=12, max_size=12)
hiragana = st.text(alphabet=[chr(c) for c in range(0x3041, 0x3097)], min_size=1, max_size=30)


def to_katakana(text: str) -> str:
    return "".join(chr(ord(c) + 0x60) if 0x3041 <= ord(c) <= 0x3096 else c for c in text)


def reference_check_digit(base: str) -> int:
    """The rule as written: P1..P12 from the right, Q = 1 at odd n, 2 at even n."""
    digits = [int(d) for d in base]
    total = 0
    for n in range(1, 13):
        p = digits[12 - n]
        q = 1 if n % 2 == 1 else 2
        total += p * q
    return 9 - (total % 9)


def test_the_national_tax_agency_number_is_valid() -> None:
    assert corporate_number.is_valid("7000012050002")  # 国税庁
    assert not corporate_number.is_valid("8000012050002")


@given(bases)
def test_the_check_digit_follows_the_rule(base: str) -> None:
    digit = corporate_number.check_digit(base)
    assert digit == reference_check_digit(base)
    assert 1 <= digit <= 9
    assert corporate_number.is_valid(corporate_number.with_check_digit(base))


@given(bases, st.integers(0, 11), st.integers(0, 9))
def test_a_changed_digit_is_caught_unless_it_swaps_zero_and_nine(
    base: str, index: int, digit: int
) -> None:
    number = corporate_number.with_check_digit(base)
    old = base[index]
    changed = number[: index + 1] + str(digit) + number[index + 2 :]
    blind_spot = {old, str(digit)} == {"0", "9"}  # weights 1 and 2 cannot see a change of 9
    assert corporate_number.is_valid(changed) == (old == str(digit) or blind_spot)


@given(bases, st.integers(1, 9))
def test_a_wrong_check_digit_is_caught(base: str, check: int) -> None:
    number = f"{check}{base}"
    assert corporate_number.is_valid(number) == (check == corporate_number.check_digit(base))


@given(st.text(max_size=14))
def test_anything_but_thirteen_digits_is_invalid(text: str) -> None:
    if not (len(text) == 13 and text.isascii() and text.isdigit()):
        assert not corporate_number.is_valid(text)


@given(hiragana)
def test_hiragana_and_katakana_normalise_alike(text: str) -> None:
    assert normalise_for_search(text) == normalise_for_search(to_katakana(text))


@given(st.text(max_size=50))
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalise_for_search(text)
    assert normalise_for_search(once) == once
    assert katakana_to_hiragana(once) == once


@given(hiragana, st.data())
def test_a_katakana_query_finds_hiragana_text(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    query = to_katakana(text[start:end])
    assert all(term in normalise_for_search(text) for term in search_terms(query))


def test_half_width_and_full_width_meet() -> None:
    assert normalise_for_search("ﾈﾘﾏ ﾎﾞﾗﾝﾃｨｱ") == normalise_for_search("ねりま　ボランティア")
    assert normalise_for_search("ＮＰＯ法人") == normalise_for_search("npo法人")
    assert search_terms("  ｺﾄﾞﾓ　食堂 ") == ["こども", "食堂"]


@given(
    st.text(alphabet=st.characters(min_codepoint=0x3000, max_codepoint=0x3100) | st.characters())
)
def test_katakana_letters_become_their_hiragana_twins_and_nothing_else_changes(text: str) -> None:
    expected = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in text)
    assert katakana_to_hiragana(text) == expected
