"""The custody state machine: what each event does to a person's state, and which events the rules refuse.

Pure functions over a small dataclass, shared by the live append (rules on) and by
`custody ledger rebuild` (rules off: the log is the truth, it is replayed as written).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from custody.core.errors import RuleError

TERMINAL = {"released", "repatriated", "deceased"}
MOVABLE = {"in_custody"}


@dataclass(frozen=True)
class State:
    status: str = ""
    facility_id: int | None = None
    custodian_id: int | None = None
    block: str = ""
    manifest: str = ""
    manifest_from_id: int | None = None
    manifest_to_id: int | None = None
    expected_arrival: datetime | None = None
    departed: bool = False
    last_seq: int = 0
    last_event_at: datetime | None = None


@dataclass(frozen=True)
class Step:
    """What the state machine needs of one event (from a spec being appended, or a stored event)."""

    kind: str
    seq: int
    occurred_at: datetime
    facility_id: int | None
    custodian_id: int | None
    manifest: str = ""
    to_facility_id: int | None = None
    expected_arrival: datetime | None = None
    block: str = ""
    correction: dict[str, Any] | None = None  # {"facility_id", "custodian_id", "status"} set by a correction


def check_rules(state: State, step: Step, *, person: str, names: dict[str, Any]) -> None:
    """Refuse an event that contradicts the ledger. `names` gives display codes for messages."""
    kind = step.kind
    fac = names.get("facility", "")
    here = names.get("current_facility", "") or _("nowhere")
    status = state.status or _("not yet registered in the ledger")

    if kind in {"registered", "correction"}:
        return
    if state.status in TERMINAL or state.status == "escaped":
        if not (kind == "recaptured" and state.status == "escaped"):
            raise RuleError(
                _("Rule 'nobody escaped, deceased, released or repatriated is moved': %(person)s is %(status)s, "
                  "so a '%(kind)s' event cannot be recorded.") % {"person": person, "status": status, "kind": kind},
                rule="terminal",
            )
    if kind == "intake":
        if state.status in {"in_custody", "in_transit", "hospital", "at_court"}:
            raise RuleError(
                _("Rule 'intake only for a person not already held': %(person)s is %(status)s at %(here)s; "
                  "record a move or an arrival instead.") % {"person": person, "status": status, "here": here},
                rule="intake",
            )
        _need_facility(step, person)
        return
    if kind == "recaptured":
        if state.status != "escaped":
            raise RuleError(
                _("Rule 'only an escaped person is recaptured': %(person)s is %(status)s.")
                % {"person": person, "status": status}, rule="recaptured")
        _need_facility(step, person)
        return
    if kind == "returned":
        if state.status not in {"hospital", "at_court"}:
            raise RuleError(
                _("Rule 'a return follows a hospital or court stay': %(person)s is %(status)s.")
                % {"person": person, "status": status}, rule="returned")
        _need_facility(step, person)
        return
    if kind == "arrived":
        if not state.departed or not state.manifest or state.manifest != step.manifest:
            open_m = state.manifest if state.departed else ""
            raise RuleError(
                _("Rule 'an arrival closes an open departure on the same manifest': %(person)s has no open "
                  "departure on manifest %(manifest)s (open departure: %(open)s).")
                % {"person": person, "manifest": step.manifest or "—", "open": open_m or _("none")},
                rule="arrival",
            )
        _need_facility(step, person)
        return
    if kind == "departed":
        if state.status != "in_custody" or state.facility_id != step.facility_id:
            raise RuleError(
                _("Rule 'no departure from a facility the person is not in': %(person)s is %(status)s at "
                  "%(here)s, not at %(facility)s.") % {"person": person, "status": status, "here": here, "facility": fac},
                rule="departure",
            )
        if not step.manifest:
            raise RuleError(_("Rule 'a departure is on a manifest': give the manifest of the sortie or convoy."),
                            rule="departure")
        if state.manifest and state.manifest != step.manifest:
            raise RuleError(
                _("Rule 'a person departs on the manifest they are on': %(person)s is on manifest %(open)s, "
                  "not %(manifest)s.") % {"person": person, "open": state.manifest, "manifest": step.manifest},
                rule="departure",
            )
        return
    if kind in {"moved", "manifested", "hospitalised", "transferred_to_court", "handed_over"}:
        if state.status not in MOVABLE and not (kind == "handed_over" and state.status == "in_transit"):
            raise RuleError(
                _("Rule 'only a person in custody at a facility is moved': %(person)s is %(status)s.")
                % {"person": person, "status": status}, rule="movable")
        if kind == "manifested" and not step.manifest:
            raise RuleError(_("Rule 'a manifest has a reference': give the sortie or convoy manifest."), rule="manifest")
        if kind == "manifested" and state.manifest == step.manifest:
            raise RuleError(_("Rule 'one place on a manifest': %(person)s is already on manifest %(manifest)s.")
                            % {"person": person, "manifest": step.manifest}, rule="manifest")
        if kind in {"moved", "hospitalised", "transferred_to_court"}:
            _need_facility(step, person)
        return
    # released, repatriated, died, escaped: allowed from any non-terminal state.


def _need_facility(step: Step, person: str) -> None:
    if step.facility_id is None:
        raise RuleError(_("A '%(kind)s' event for %(person)s names the facility.") % {"kind": step.kind, "person": person},
                        rule="facility")


def transition(state: State, step: Step) -> State:
    """The state after `step`. Custodian changes only by intake, handover or correction."""
    # One replace() per event: replaying a whole log (rebuild, the situation report) calls this for
    # every event, and each replace of a frozen dataclass costs several microseconds.
    kind = step.kind
    seen = {"last_seq": step.seq, "last_event_at": step.occurred_at}
    closed = dict(manifest="", manifest_from_id=None, manifest_to_id=None, expected_arrival=None, departed=False)
    if kind == "registered":
        return replace(state, **seen) if state.status else replace(state, status="registered", **seen)
    if kind in {"intake", "recaptured"}:
        return replace(state, status="in_custody", facility_id=step.facility_id,
                       custodian_id=step.custodian_id or state.custodian_id, block=step.block, **closed, **seen)
    if kind == "moved":
        return replace(state, facility_id=step.facility_id, block=step.block, **seen)
    if kind == "manifested":
        return replace(state, manifest=step.manifest, manifest_from_id=state.facility_id, manifest_to_id=step.to_facility_id,
                       expected_arrival=step.expected_arrival, departed=False, **seen)
    if kind == "departed":
        return replace(state, status="in_transit", manifest=step.manifest,
                       manifest_from_id=state.manifest_from_id or state.facility_id,
                       manifest_to_id=step.to_facility_id or state.manifest_to_id,
                       expected_arrival=step.expected_arrival or state.expected_arrival, departed=True, block="", **seen)
    if kind == "arrived":
        return replace(state, status="in_custody", facility_id=step.facility_id, block=step.block, **closed, **seen)
    if kind == "handed_over":
        return replace(state, custodian_id=step.custodian_id, facility_id=step.facility_id or state.facility_id, **seen)
    if kind == "hospitalised":
        return replace(state, status="hospital", facility_id=step.facility_id, block="", **seen)
    if kind == "transferred_to_court":
        return replace(state, status="at_court", facility_id=step.facility_id, block="", **seen)
    if kind == "returned":
        return replace(state, status="in_custody", facility_id=step.facility_id, block=step.block, **seen)
    if kind in {"released", "repatriated", "died"}:
        status = {"released": "released", "repatriated": "repatriated", "died": "deceased"}[kind]
        return replace(state, status=status, facility_id=None, custodian_id=None, block="", **closed, **seen)
    if kind == "escaped":
        return replace(state, status="escaped", facility_id=None, block="", **closed, **seen)
    if kind == "correction" and step.correction:
        c = step.correction
        return replace(
            state,
            status=c.get("status", state.status),
            facility_id=c["facility_id"] if "facility_id" in c else state.facility_id,
            custodian_id=c["custodian_id"] if "custodian_id" in c else state.custodian_id,
            **seen,
        )
    return replace(state, **seen)
