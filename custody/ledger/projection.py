"""The custody state machine: what each event does to a person's state, and which events the rules refuse.

Pure functions over a small dataclass, shared by the live append (rules on) and by
`custody ledger rebuild` (rules off: the log is the truth, it is replayed as written); and `save`, the
one writer of the stored state (the projection table and the registry Person's custody columns).
"""

from __future__ import annotations

from collections.abc import Callable
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


def check_handover(state: State, step: Step, *, sender: Any, receiver: Any, identity_check: str, person: str,
                   code: Callable[[int | None], str | None]) -> None:
    """The rules of the handed_over event itself (the workflow that gathers both confirmations, and who may
    confirm, are custody.ledger.services.handovers and custody.ledger.authority). `sender`/`receiver`: the
    confirming officers (users, or None); `code`: an agency's code for messages."""
    if step.custodian_id is None:
        raise RuleError(_("A handover names the receiving authority."), rule="handover")
    if sender is None or receiver is None:
        raise RuleError(
            _("Rule 'a handover completes only when both sides confirm': %(person)s lacks the %(side)s side's "
              "confirmation.") % {"person": person, "side": _("sending") if sender is None else _("receiving")},
            rule="handover")
    if sender.pk == receiver.pk:
        raise RuleError(_("Rule 'both sides confirm': the same officer cannot confirm for both sides."), rule="handover")
    if receiver.agency_id != step.custodian_id:
        raise RuleError(
            _("Rule 'the receiving side confirms': %(user)s is not of the receiving authority %(agency)s.")
            % {"user": receiver.username, "agency": code(step.custodian_id)}, rule="handover")
    if state.custodian_id is not None and sender.agency_id != state.custodian_id:
        raise RuleError(
            _("Rule 'the sending side confirms': %(user)s is not of the current custodian %(agency)s.")
            % {"user": sender.username, "agency": code(state.custodian_id)}, rule="handover")
    if identity_check not in {"match", "not_checked"}:
        raise RuleError(
            _("Rule 'the receiving side verifies identity': the identity check result for %(person)s is "
              "'%(result)s'; a handover is only completed after a match or a recorded 'not checked'.")
            % {"person": person, "result": identity_check or _("missing")}, rule="identity")
    if step.custodian_id == state.custodian_id:
        raise RuleError(_("A handover changes the custodian; %(person)s is already held by %(agency)s.")
                        % {"person": person, "agency": code(step.custodian_id)}, rule="handover")


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


# ---------------------------------------------------------------- the stored projection (one owner)


def save(touched: set[int], states: dict[int, State], custodians_ever: set[tuple[int, int]]) -> None:
    """Store the touched people's state, in the append's transaction: the ledger's projection rows and the
    registry Person's custody columns (current_facility, current_custodian, custody_status,
    custodians_ever). This is the only code that writes those columns; it writes them through the ORM.

    The projection is one upsert (its own table; the ORM has no upsert of many rows). The Person columns
    are one UPDATE per distinct (facility, custodian, status) among the touched people, a handful per
    batch, skipping people already right, so the change history (a trigger on Person) records only
    real changes."""
    from collections import defaultdict

    from custody.registry.models import Person

    from .models import CustodyState
    from .rows import db_time, insert_rows

    if not touched:
        return
    cols = ["person_id", "status", "facility_id", "custodian_id", "block", "manifest", "manifest_from_id",
            "manifest_to_id", "expected_arrival", "departed", "last_seq", "last_event_at"]
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols[1:])
    rows = []
    groups: dict[tuple[int | None, int | None, str], list[int]] = defaultdict(list)
    for pid in touched:
        s = states[pid]
        rows.append((pid, s.status, s.facility_id, s.custodian_id, s.block, s.manifest, s.manifest_from_id,
                     s.manifest_to_id, db_time(s.expected_arrival) if s.expected_arrival else None, s.departed,
                     s.last_seq, db_time(s.last_event_at) if s.last_event_at else None))
        groups[(s.facility_id, s.custodian_id, s.status)].append(pid)
    insert_rows(f'INSERT INTO "{CustodyState._meta.db_table}" ({", ".join(cols)})', len(cols), rows,
                f' ON CONFLICT ("person_id") DO UPDATE SET {updates}')
    for (facility_id, custodian_id, status), ids in groups.items():
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            (Person.objects.filter(pk__in=ids[start : start + 900])
             .exclude(current_facility_id=facility_id, current_custodian_id=custodian_id, custody_status=status)
             .update(current_facility_id=facility_id, current_custodian_id=custodian_id, custody_status=status))
    if custodians_ever:
        through = Person.custodians_ever.through
        through.objects.bulk_create([through(person_id=p, agency_id=a) for p, a in custodians_ever],
                                    ignore_conflicts=True, batch_size=1000)
