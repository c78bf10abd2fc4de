"""json_text writes exactly what the standard encoder writes, whatever the value."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.jsontext import SAFE_INTEGER_MAX, is_plain, json_text

characters = st.one_of(
    st.characters(codec=None),
    st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "\uff61", "\U0001f600", "寄"]),
)
texts = st.text(characters, max_size=8)
integers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([SAFE_INTEGER_MAX, SAFE_INTEGER_MAX + 1, -SAFE_INTEGER_MAX - 1]),
)
scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=20,
)


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
