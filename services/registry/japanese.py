"""Japanese text for search: NFKC, hiragana for katakana, case-folded, spaces collapsed.

The same function normalises what is stored and what is asked, so 「ネリマ」, 「ねりま」 and
half-width 「ﾈﾘﾏ」 all meet.
"""

from __future__ import annotations

import re
import unicodedata

_KATAKANA_START = 0x30A1  # ァ
_KATAKANA_END = 0x30F6  # ヶ
_KANA_SHIFT = 0x60  # distance from a katakana letter to its hiragana twin
_KATAKANA_TO_HIRAGANA = {
    code: code - _KANA_SHIFT for code in range(_KATAKANA_START, _KATAKANA_END + 1)
}
_SPACES = re.compile(r"\s+")
_KANA_READING = re.compile(r"[\u3041-\u3096\u30A1-\u30FA\u30FC\u30FB\u309D\u309E\u30FD\u30FE 0-9]+")


def katakana_to_hiragana(text: str) -> str:
    return text.translate(_KATAKANA_TO_HIRAGANA)


def normalise_for_search(text: str) -> str:
    folded = katakana_to_hiragana(unicodedata.normalize("NFKC", text)).casefold()
    return _SPACES.sub(" ", folded).strip()


def search_terms(query: str) -> list[str]:
    """The normalised words of a query; every one must match."""
    return [term for term in normalise_for_search(query).split(" ") if term]


def is_kana_reading(text: str) -> bool:
    """True for a reading (フリガナ) written in kana, with spaces, digits, ー and ・."""
    return bool(_KANA_READING.fullmatch(unicodedata.normalize("NFKC", text)))
