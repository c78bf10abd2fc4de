"""The fast canonical encoder writes exactly what the reference RFC 8785 encoder writes."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit.canonical import canonical_json
from shared.audit.errors import LeafEncodingError
from shared.jsontext import SAFE_INTEGER_MAX, is_plain
from tests.support.json_values import json_values, texts

from .conftest import make_envelope


def reference(value: Any) -> bytes | None:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError):
        return None


def ours(value: Any) -> bytes | None:
    try:
        return canonical_json(value)
    except LeafEncodingError:
        return None


@settings(max_examples=1500)
@given(json_values)
def test_equals_the_reference_encoder(value: Any) -> None:
    assert ours(value) == reference(value)


@settings(max_examples=300)
@given(st.dictionaries(texts, st.integers(0, 9), min_size=2, max_size=6))
def test_key_order_equals_the_reference_encoder(value: dict[str, int]) -> None:
    assert ours(value) == reference(value)


def test_keys_beyond_the_bmp_sort_by_utf16_code_units() -> None:
    # Code point order puts U+FF61 first; UTF-16 puts the surrogate pair (D83D ...) first.
    value = {"\uff61": 1, "\U0001f600": 2}
    assert not is_plain(value)
    assert canonical_json(value) == '{"\U0001f600":2,"\uff61":1}'.encode()


def test_an_event_envelope_takes_the_fast_path() -> None:
    envelope = make_envelope(7)
    assert is_plain(envelope)
    assert canonical_json(envelope) == rfc8785.dumps(envelope)


@pytest.mark.parametrize(
    "value",
    [1.5, SAFE_INTEGER_MAX + 1, {"a": [1, 2.0]}, {1: "a"}, ("a",), {"k": {"n": -(2**53)}}],
)
def test_values_outside_the_fast_path_are_left_to_the_reference(value: Any) -> None:
    assert not is_plain(value)
    assert ours(value) == reference(value)


def test_lone_surrogates_are_refused() -> None:
    with pytest.raises(LeafEncodingError, match="not canonical JSON"):
        canonical_json({"text": "\ud800"})
