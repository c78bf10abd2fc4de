"""json_text writes exactly what the standard encoder writes, whatever the value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.jsontext import SAFE_INTEGER_MAX, is_plain, json_text
from tests.support.json_values import json_values


def standard(value: Any, *, sort_keys: bool) -> str | None:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    except (TypeError, ValueError):
        return None


@settings(max_examples=400)
@given(json_values, st.booleans())
def test_json_text_is_the_standard_encoders_text(value: Any, sort_keys: bool) -> None:
    expected = standard(value, sort_keys=sort_keys)
    if expected is None:
        return
    assert json_text(value, sort_keys=sort_keys) == expected


def test_values_the_fast_encoder_would_write_otherwise_are_not_plain() -> None:
    assert is_plain({"寄附": [1, "a", None, True, {"n": SAFE_INTEGER_MAX}]})
    for value in (1.5, {"k": 1e16}, SAFE_INTEGER_MAX + 1, {1: "a"}, ("a",), {"\U0001f600": 1}):
        assert not is_plain(value)
