"""Canonical JSON: the one byte string an event hashes to.

The form is RFC 8785 (JCS) restricted to the values an event needs: objects, arrays, strings,
integers, booleans and null. Floats are refused rather than canonicalised, because two
implementations that format a float differently would disagree about a leaf hash, and a partner
verifying a bundle in another language must reproduce our bytes exactly. Integers are limited to
the range a JavaScript or JSON number holds exactly (|n| <= 2**53 - 1) for the same reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1

_encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))


class CanonicalJSONError(ValueError):
    """A value that has no canonical form here (float, bytes, huge integer, lone surrogate...)."""


def _check(value: Any, path: str) -> bool:
    """Validate `value`; return True when some object key is outside the BMP.

    Python sorts keys by code point and JCS by UTF-16 code unit; the two orders differ only when a
    key holds a character above U+FFFF, so only then do we pay for an explicit re-sort. Strings are
    not inspected here: a lone surrogate fails the final UTF-8 encoding instead. The walk is
    iterative and type-exact because it runs for every appended event.
    """
    astral = False
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        v, where = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
                continue
            raise CanonicalJSONError(f"{where}: integer {v} is outside the exactly representable range")
        if t is dict or (t is not list and isinstance(v, Mapping)):
            for key, item in v.items():
                if type(key) is not str:
                    raise CanonicalJSONError(f"{where}: object key {key!r} is not a string")
                if not key.isascii() and any(ord(c) > 0xFFFF for c in key):
                    astral = True
                stack.append((item, where + "." + key))
            continue
        if t is list or t is tuple:
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(v))
            continue
        if isinstance(v, float):
            raise CanonicalJSONError(f"{where}: floats have no canonical form here; use an integer or a string")
        if isinstance(v, str | int):  # subclasses (enums...): encode as their plain value
            continue
        raise CanonicalJSONError(f"{where}: {t.__name__} is not a JSON value")
    return astral


def _utf16_sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return {k: _utf16_sorted(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [_utf16_sorted(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 bytes of `value` (sorted keys, no whitespace, no escapes beyond JSON's)."""
    try:
        if _check(value, "$"):
            # Keys are already in UTF-16 order; sort_keys would re-sort them by code point.
            text = json.dumps(_utf16_sorted(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        else:
            text = _encoder.encode(value)
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError("a string is not valid Unicode (lone surrogate)") from exc


def is_canonical(data: bytes) -> bool:
    """True when `data` is exactly the canonical form of the JSON it holds."""
    try:
        return canonical_json(json.loads(data)) == data
    except (ValueError, CanonicalJSONError):
        return False
