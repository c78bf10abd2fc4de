"""RFC 8785 (JSON Canonicalization Scheme) encoding, fast for the values events hold.

``orjson`` with sorted keys writes exactly the RFC 8785 bytes when the value holds only exact
``dict``, ``list``, ``str``, ``bool`` and ``None`` values and integers within ±(2**53 - 1), and
only object keys without characters beyond U+FFFF: it sorts keys by code point and RFC 8785 by
UTF-16 code unit, and the two orders agree on the Basic Multilingual Plane. Both write compact
separators and raw UTF-8, and escape the same characters (``"``, ``\\``, and every control
character, ``\\b \\t \\n \\f \\r`` by name, the others as lowercase ``\\u00xx``). ``is_plain``
checks those conditions first, because orjson would also format floats (differently), UUIDs,
datetimes and subclasses. Any other value goes to the ``rfc8785`` package, which is the
reference here (see the property test that compares the two).
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from shared.audit.errors import LeafEncodingError
from shared.jsontext import is_plain

_SORTED = orjson.OPT_SORT_KEYS


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 UTF-8 bytes of a JSON value; LeafEncodingError if it has none."""
    if is_plain(value):
        try:
            return orjson.dumps(value, option=_SORTED)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate or deep nesting: the reference encoder decides
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as error:
        raise LeafEncodingError(f"not canonical JSON: {error}") from error
