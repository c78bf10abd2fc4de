"""A row's digest bytes are the standard encoder's canonical form, whatever encodes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shared.audit.digest import row_bytes

STANDARD = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=6)
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


@given(row=st.dictionaries(texts, values, max_size=6))
def test_row_bytes_are_the_standard_encoders_bytes(row: dict[str, object]) -> None:
    assert row_bytes(row) == STANDARD.encode(row).encode() + b"\n"


def test_moments_are_written_in_utc() -> None:
    moment = datetime(2026, 4, 1, 9, 0, 0, 5, tzinfo=UTC)
    assert row_bytes({"at": moment, "𠮷": "\x1f\n"}) == (
        b'{"at":"2026-04-01T09:00:00.000005+00:00","\xf0\xa0\xae\xb7":"\\u001f\\n"}\n'
    )
