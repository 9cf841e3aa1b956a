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
    key holds a character above U+FFFF, so only then do we pay for an explicit re-sort.
    """
    astral = False
    if value is None or isinstance(value, bool | str):
        if isinstance(value, str):
            _check_string(value, path)
        return False
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJSONError(f"{path}: integer {value} is outside the exactly representable range")
        return False
    if isinstance(value, float):
        raise CanonicalJSONError(f"{path}: floats have no canonical form here; use an integer or a string")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"{path}: object key {key!r} is not a string")
            _check_string(key, path)
            if any(ord(c) > 0xFFFF for c in key):
                astral = True
            astral |= _check(item, f"{path}.{key}")
        return astral
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            astral |= _check(item, f"{path}[{i}]")
        return astral
    raise CanonicalJSONError(f"{path}: {type(value).__name__} is not a JSON value")


def _check_string(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalJSONError(f"{path}: string is not valid Unicode (lone surrogate)") from exc


def _utf16_sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return {k: _utf16_sorted(value[k]) for k in keys}
    if isinstance(value, list | tuple):
        return [_utf16_sorted(v) for v in value]
    return value


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 bytes of `value` (sorted keys, no whitespace, no escapes beyond JSON's)."""
    if _check(value, "$"):
        # Keys are already in UTF-16 order; sort_keys would re-sort them by code point.
        return json.dumps(
            _utf16_sorted(value), ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode("utf-8")
    return _encoder.encode(value).encode("utf-8")


def is_canonical(data: bytes) -> bool:
    """True when `data` is exactly the canonical form of the JSON it holds."""
    try:
        return canonical_json(json.loads(data)) == data
    except (ValueError, CanonicalJSONError):
        return False
