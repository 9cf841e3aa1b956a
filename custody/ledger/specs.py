"""EventSpec: what a caller asks the ledger to record. Plain data, no database access.

Used by `custody.ledger.services.record_event(spec, user=...)` and
`record_events_bulk(specs, user=None, progress=None)`. Model fields accept an instance or a primary key
(the demo generator passes ids to avoid loading objects).

Meaning of `facility` and `custodian` per kind (both optional where not said):
- registered: neither; the person enters the system (status "registered").
- intake: facility = where the person is received (required); custodian defaults to the facility's.
- moved: facility = destination (required); `data["block"]` for a move within a facility.
- manifested: `manifest` required; `expected_arrival` = when the sortie/convoy is due (drives the
  "not arrived" discrepancy); `to_facility` = destination.
- departed: facility = where the person leaves from (must be where the ledger says they are);
  `manifest` required; custodian = who holds them in transit (e.g. the military command).
- arrived: facility = arrival facility (required); `manifest` must match an open departure.
- handed_over: custodian = the receiving authority (required); `sending_officer`, `receiving_officer`
  (users), `identity_check` ("match" | "no_match" | "not_checked") and `wristband`; normally written by
  the handover workflow once both sides have confirmed.
- hospitalised / transferred_to_court: facility = the hospital or court.
- returned: facility = where the person is back.
- released / died / escaped: neither. repatriated: `country` (ISO alpha-2) required.
- recaptured: facility required.
- correction: `corrects` = seq of the corrected event (required), `reason` required; `data` may set
  "facility" (code), "custodian" (agency code) and/or "status" to put the projection right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .models import EventKind

# The one list of event kinds: the stored events' choices (custody.ledger.models.EventKind), in that order.
EVENT_KINDS: tuple[str, ...] = tuple(EventKind.values)


@dataclass
class EventSpec:
    kind: str
    person: Any  # registry.Person or its pk
    occurred_at: datetime
    facility: Any = None  # registry.Facility, its pk, or None
    custodian: Any = None  # accounts.Agency, its pk, or None (= unchanged / facility's)
    reason: str = ""
    manifest: str = ""
    to_facility: Any = None
    expected_arrival: datetime | None = None
    country: str = ""
    identity_check: str = ""
    wristband: str = ""
    sending_officer: Any = None
    receiving_officer: Any = None
    corrects: int | None = None
    idempotency_id: str = ""  # empty: one is generated (a retried client request must send its own)
    attachments: tuple[str, ...] = ()  # SHA-256 hex of attached files
    data: dict[str, Any] = field(default_factory=dict)
