"""Compact JSON text, written by orjson where it provably writes what ``json.dumps`` writes.

For values made only of exact ``dict`` (string keys), ``list``, ``str``, ``bool`` and ``None``
values and integers within ±(2**53 - 1), orjson writes the bytes of ``json.dumps`` with compact
separators and ``ensure_ascii=False``: both escape ``"``, ``\\``, and every control character the
same way, and both sort keys by code point. Floats (formatted differently), big integers, and
other types go to the standard encoder. ``is_plain`` also holds keys to the Basic Multilingual
Plane, where code-point order is the UTF-16 order that RFC 8785 uses (``shared.audit.canonical``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import orjson

SAFE_INTEGER_MAX = 2**53 - 1
_LAST_BMP_CHARACTER = "\uffff"


def json_text(value: Any, *, sort_keys: bool = False) -> str:
    """``json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)``."""
    fast = _orjson_bytes(value, sort_keys)
    return fast.decode() if fast is not None else _standard(value, sort_keys)


def json_bytes(value: Any, *, sort_keys: bool = False) -> bytes:
    """The UTF-8 bytes of :func:`json_text` (a lone surrogate cannot be encoded: an error)."""
    fast = _orjson_bytes(value, sort_keys)
    return fast if fast is not None else _standard(value, sort_keys).encode()


def _orjson_bytes(value: Any, sort_keys: bool) -> bytes | None:
    if not is_plain(value):
        return None
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:
        return None  # a lone surrogate or deep nesting: the standard encoder decides


def read_json_text(stored: Any, fallback: Callable[[Any], Any]) -> Any:
    """A stored JSON text read by orjson where it reads it as the standard decoder does;
    ``fallback(stored)`` otherwise (NaN, lone surrogates, deep nesting, long integers, and
    anything that is not a text, such as a number SQLite keeps as a number)."""
    if type(stored) is str and _LONG_NUMBER.search(stored) is None:
        try:
            return orjson.loads(stored)
        except orjson.JSONDecodeError:
            pass
    return fallback(stored)


_LONG_NUMBER = re.compile(r"\d{19}")  # orjson reads integers beyond 64 bits as floats


def _standard(value: Any, sort_keys: bool) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)


def is_plain(value: Any) -> bool:
    """True when ``value`` holds only the kinds of values both encoders write alike."""
    pending = [value]
    while pending:
        item = pending.pop()
        kind = type(item)
        if kind is dict:
            try:
                keys = "".join(item)
            except TypeError:
                return False  # a key that is not a string
            if not keys.isascii() and max(keys) > _LAST_BMP_CHARACTER:
                return False
            members: Iterable[Any] = item.values()
        elif kind is list:
            members = item
        else:
            return _is_plain_scalar(item)
        for member in members:
            kind = type(member)
            if kind is str or member is None or kind is bool:
                continue
            if kind is int:
                if -SAFE_INTEGER_MAX <= member <= SAFE_INTEGER_MAX:
                    continue
                return False
            if kind is dict or kind is list:
                pending.append(member)
                continue
            return False  # a float or a type that is not JSON
    return True


def _is_plain_scalar(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return bool(-SAFE_INTEGER_MAX <= value <= SAFE_INTEGER_MAX)
    return kind is str or kind is bool or value is None
