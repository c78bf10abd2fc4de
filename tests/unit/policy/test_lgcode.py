"""全国地方公共団体コード check digits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.policy import is_valid_lg_code, lg_check_digit
from tests.unit.policy._support import pack_document, validate, with_value

KNOWN = {
    "131202": "練馬区",
    "131113": "大田区",
    "131016": "千代田区",
    "131130": "渋谷区",  # weighted sum leaves remainder 1: check digit 0
    "131211": "足立区",  # remainder 0: check digit 1
    "130001": "東京都",
    "011002": "札幌市",
}


@pytest.mark.parametrize("code", sorted(KNOWN))
def test_known_codes_are_valid(code: str) -> None:
    assert is_valid_lg_code(code)
    assert lg_check_digit(code[:5]) == int(code[5])


@pytest.mark.parametrize(
    "code", ["131203", "131200", "131110", "13120", "1312022", "13120a", "１３１２０２", ""]
)
def test_wrong_or_malformed_codes_are_invalid(code: str) -> None:
    assert not is_valid_lg_code(code)


@pytest.mark.parametrize("prefix", ["1312", "131202", "abcde", "13 20"])
def test_check_digit_needs_five_digits(prefix: str) -> None:
    with pytest.raises(ValueError, match="five ASCII digits"):
        lg_check_digit(prefix)


@given(st.from_regex(r"[0-9]{5}", fullmatch=True))
def test_exactly_one_check_digit_fits_each_prefix(prefix: str) -> None:
    valid = [digit for digit in "0123456789" if is_valid_lg_code(prefix + digit)]
    assert valid == [str(lg_check_digit(prefix))]


@pytest.mark.parametrize("code", ["131203", "13120", 131202])
def test_pack_with_a_bad_code_is_rejected(code: object) -> None:
    with pytest.raises(ValidationError, match="lg_code"):
        validate(with_value(pack_document("nerima"), ("lg_code",), code))
