from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from custody.engines.ledger import (
    CanonicalJSONError,
    canonical_json,
    event_bytes,
    event_document,
    is_canonical,
)
from custody.engines.ledger.events import TIME_FORMAT, EventError, format_time, parse_time


def test_keys_sorted_no_whitespace_unicode_kept() -> None:
    value = {"b": [1, True, None], "a": "محمد بن عبد الله", "c": {"z": "", "y": -3}}
    out = canonical_json(value)
    assert out == '{"a":"محمد بن عبد الله","b":[1,true,null],"c":{"y":-3,"z":""}}'.encode()
    assert json.loads(out) == value
    assert is_canonical(out)


def test_control_characters_escaped_as_jcs_does() -> None:
    assert canonical_json("a\nb\t\"\\\u0001\u007f\u2028") == b'"a\\nb\\t\\"\\\\\\u0001\x7f\xe2\x80\xa8"'


def test_keys_sort_by_utf16_code_units_rfc8785_example() -> None:
    # RFC 8785 section 3.2.3: the astral key sorts before U+FB33 in UTF-16, after it by code point.
    value = {"\u20ac": "Euro", "\r": "CR", "\ufb33": "Hebrew", "1": "One", "\U0001f600": "Emoji",
             "\u0080": "Control", "\u00f6": "Latin"}
    keys = list(json.loads(canonical_json(value)))
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


@pytest.mark.parametrize("bad", [1.5, float("nan"), 2**53, b"x", {1: "a"}, "\ud800", {"a": object()}])
def test_values_without_a_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalJSONError):
        canonical_json(bad)


def test_is_canonical_rejects_any_other_spelling() -> None:
    assert not is_canonical(b'{"a": 1}')
    assert not is_canonical(b'{"b":1,"a":2}')
    assert not is_canonical(b'{"a":1,"a":1}')
    assert not is_canonical(b'{"a":1}\n')
    assert not is_canonical(b'"\\u0041"')
    assert is_canonical(b'{"a":1}')


def test_event_document_carries_its_position_and_normalises_attachments() -> None:
    from datetime import UTC, datetime

    doc = event_document(
        seq=7, kind="departed", person="P-000001", occurred_at=datetime(2026, 1, 5, 10, tzinfo=UTC),
        recorded_at="2026-01-05T10:00:01.000000Z", facility="HSK", custodian="SDF", recorded_by="sdf.clerk",
        idempotency_id="abc", attachments=["f" * 64, "0" * 64], data={"manifest": "M-1"},
    )
    assert doc["seq"] == 7 and doc["occurred_at"] == "2026-01-05T10:00:00.000000Z"
    assert doc["attachments"] == ["0" * 64, "f" * 64]
    assert event_bytes(**{k: v for k, v in doc.items() if k not in {"v"}}) == canonical_json(doc)
    with pytest.raises(EventError):
        event_document(seq=1, kind="teleported", person="P", occurred_at="x", recorded_at="x", facility=None,
                       custodian=None, recorded_by="u", idempotency_id="i")
    with pytest.raises(EventError):
        event_document(seq=1, kind="died", person="P", occurred_at=datetime(2026, 1, 1), recorded_at="x",
                       facility=None, custodian=None, recorded_by="u", idempotency_id="i")


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                    timezones=st.sampled_from([UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-11))])))
def test_event_times_format_exactly_as_the_signed_format(moment: datetime) -> None:
    # format_time takes a quicker path than strftime; every signed body ever written used strftime.
    assert format_time(moment) == moment.astimezone(UTC).strftime(TIME_FORMAT)
    if moment.astimezone(UTC).year >= 1000:  # strftime does not pad earlier years, so they do not parse back
        assert parse_time(format_time(moment)) == moment
