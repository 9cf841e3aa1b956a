"""The custody event document: what one leaf of the log says.

Every event is one JSON object (schema version 1) whose canonical bytes are the leaf's data.
The object carries its own position (`seq`) so that moving an event to another place in the log
changes its bytes, and a swap of two events is caught at the first of the two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .canonical import canonical_json

SCHEMA_VERSION = 1
TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

# Kind -> what it means. The Django app translates these labels; the engine only needs the names.
EVENT_KINDS: dict[str, str] = {
    "registered": "the person is entered in the registry of persons in custody",
    "intake": "the person is received into a facility",
    "moved": "the person is moved within a facility or between facilities",
    "manifested": "the person is put on the manifest of a sortie or convoy",
    "departed": "the person leaves a facility on a manifest",
    "arrived": "the person arrives at a facility on a manifest",
    "handed_over": "the custodian authority changes; both sides confirmed",
    "hospitalised": "the person is taken to hospital",
    "returned": "the person returns from hospital or court",
    "transferred_to_court": "the person is transferred to a court",
    "released": "the person is released",
    "repatriated": "the person is repatriated to a country",
    "died": "the person died in custody",
    "escaped": "the person escaped",
    "recaptured": "the person is back in custody after an escape",
    "correction": "corrects an earlier event, which stays in the log unchanged",
}

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class EventError(ValueError):
    pass


def format_time(moment: datetime) -> str:
    """TIME_FORMAT, computed with isoformat: verification formats two times per event, and strftime
    costs eight times as much. The two agree for every year from 1000 on (strftime does not pad %Y)."""
    if moment.tzinfo is None:
        raise EventError("event times must be timezone-aware (UTC)")
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime(TIME_FORMAT)
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC)


def event_document(
    *,
    seq: int,
    kind: str,
    person: str,
    occurred_at: datetime | str,
    recorded_at: datetime | str,
    facility: str | None,
    custodian: str | None,
    recorded_by: str,
    idempotency_id: str,
    reason: str = "",
    attachments: Iterable[str] = (),
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The event object that is hashed. `data` holds what only some kinds carry (manifest,
    destination, country, the handover's two confirmations, the event a correction corrects...)."""
    if kind not in EVENT_KINDS:
        raise EventError(f"unknown event kind {kind!r}")
    if not isinstance(seq, int) or seq < 0:
        raise EventError("seq is the event's non-negative position in the log")
    if not person:
        raise EventError("an event names its person")
    if not idempotency_id:
        raise EventError("an event carries the client's idempotency id")
    hashes = sorted(attachments)
    for h in hashes:
        if not _SHA256_HEX.fullmatch(h):
            raise EventError(f"attachment hash {h!r} is not lowercase SHA-256 hex")
    return {
        "v": SCHEMA_VERSION,
        "seq": seq,
        "kind": kind,
        "person": person,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else format_time(occurred_at),
        "recorded_at": recorded_at if isinstance(recorded_at, str) else format_time(recorded_at),
        "facility": facility,
        "custodian": custodian,
        "recorded_by": recorded_by,
        "idempotency_id": idempotency_id,
        "reason": reason,
        "attachments": hashes,
        "data": dict(data or {}),
    }


def event_bytes(**fields: Any) -> bytes:
    return canonical_json(event_document(**fields))
