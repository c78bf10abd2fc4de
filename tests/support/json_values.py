"""Hypothesis strategies for JSON values, with every kind of character and integer that matters
to an encoder."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.jsontext import SAFE_INTEGER_MAX

# Text with every kind of character that matters: controls, quotes, backslashes, Japanese,
# characters near the top of the BMP, non-BMP characters and lone surrogates.
characters = st.one_of(
    st.characters(codec=None),
    st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028", "\uff61", "\U0001f600", "区"]),
)
texts = st.text(characters, max_size=8)
integers = st.one_of(
    st.integers(-(2**60), 2**60),
    st.sampled_from(
        [SAFE_INTEGER_MAX, SAFE_INTEGER_MAX + 1, -SAFE_INTEGER_MAX, -SAFE_INTEGER_MAX - 1]
    ),
)
scalars = st.one_of(st.none(), st.booleans(), integers, st.floats(), texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=20,
)
