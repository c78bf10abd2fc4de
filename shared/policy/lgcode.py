"""全国地方公共団体コード: five digits and a check digit (modulus 11, weights 6..2)."""

from __future__ import annotations

import re

_WEIGHTS = (6, 5, 4, 3, 2)
_FIVE_DIGITS = re.compile(r"[0-9]{5}")
_SIX_DIGITS = re.compile(r"[0-9]{6}")


def lg_check_digit(first_five: str) -> int:
    """The check digit for the first five digits of a local-government code."""
    if not _FIVE_DIGITS.fullmatch(first_five):
        raise ValueError(f"expected five ASCII digits, got {first_five!r}")
    total = sum(int(d) * w for d, w in zip(first_five, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def is_valid_lg_code(code: str) -> bool:
    """True when ``code`` is six ASCII digits whose last digit checks the first five."""
    return bool(_SIX_DIGITS.fullmatch(code)) and lg_check_digit(code[:5]) == int(code[5])
