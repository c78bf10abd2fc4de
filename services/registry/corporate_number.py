"""法人番号 (corporate number): a check digit followed by a 12-digit base number."""

from __future__ import annotations

import re
import unicodedata

_THIRTEEN_DIGITS = re.compile(r"[0-9]{13}")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def check_digit(base: str) -> int:
    """The leading check digit for a 12-digit base number.

    Digits P1..P12 are counted from the rightmost; weights Q are 1 at odd n and 2 at even n;
    check = 9 - (Σ Pn × Qn mod 9).
    """
    if not _TWELVE_DIGITS.fullmatch(base):
        raise ValueError(f"expected 12 ASCII digits, got {base!r}")
    total = sum(int(digit) * (1 if n % 2 else 2) for n, digit in enumerate(reversed(base), start=1))
    return 9 - total % 9


def with_check_digit(base: str) -> str:
    return f"{check_digit(base)}{base}"


def normalise(value: str) -> str:
    """Full-width digits become ASCII; nothing else is changed."""
    return unicodedata.normalize("NFKC", value).strip()


def is_valid(value: str) -> bool:
    """True for 13 ASCII digits whose first digit checks the other twelve."""
    return bool(_THIRTEEN_DIGITS.fullmatch(value)) and check_digit(value[1:]) == int(value[0])
