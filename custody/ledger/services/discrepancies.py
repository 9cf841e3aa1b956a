"""Discrepancies: raised from the log (overdue manifests, arrivals nobody departed) and from roll calls;
resolved by the agency operating the facility (custody.ledger.authority).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.actions import action, current_action
from custody.core.actions import note as audit_note
from custody.core.errors import BadInput, NotFound, RuleError

from .. import authority
from ..models import (
    CustodyState,
    Discrepancy,
    DiscrepancyKind,
    LedgerEvent,
    RollCall,
)
from ..specs import EventSpec
from ._common import _Lookups, _pk, _visible_facility
from .reads import expected_count


def raise_refused_arrival(exc: RuleError) -> None:
    """After an action refused an arrival nobody departed (and rolled back): raise that discrepancy, as
    the refusal's audit row is written after the rollback. Inside a larger action, its rollback would
    undo the discrepancy, so only the outermost door does it."""
    arrival = getattr(exc, "arrival", None)
    if arrival is not None and current_action() is None:
        _raise_arrival_without_departure(arrival, _Lookups())


def _raise(kind: str, fact_key: str, **fields: Any) -> Discrepancy | None:
    if Discrepancy.objects.filter(fact_key=fact_key, resolved_at__isnull=True).exists():
        return None
    try:
        with transaction.atomic():
            return Discrepancy.objects.create(kind=kind, fact_key=fact_key, **fields)
    except IntegrityError:
        return None  # raised concurrently by another view


def _raise_arrival_without_departure(spec: EventSpec, lk: _Lookups) -> None:
    from custody.registry.models import Person

    pid = _pk(spec.person)
    ref = Person.objects.filter(pk=pid).values_list("ref", flat=True).first()
    if ref is None:
        return
    fac = lk.fcode(_pk(spec.facility))
    _raise(DiscrepancyKind.ARRIVAL_WITHOUT_DEPARTURE, f"arrival:{pid}:{spec.manifest}:{fac}", person_id=pid,
           facility_id=_pk(spec.facility), manifest=spec.manifest,
           details=_("%(person)s arrived at %(facility)s on manifest %(manifest)s, but nobody recorded a departure on it.")
           % {"person": ref, "facility": fac, "manifest": spec.manifest or "—"})


def reconcile(now: datetime | None = None) -> int:
    """Raise a discrepancy for every manifested person not arrived by the expected time; resolve the
    ones whose person has since arrived (the resolution names the arrival). Returns discrepancies raised.

    Runs on every view of the discrepancy board and every few minutes in the housekeeping task, so a
    pass with nothing new costs a fixed number of queries however many people are overdue."""
    now = now or timezone.now()
    raised = 0
    open_keys = set(Discrepancy.objects.filter(kind=DiscrepancyKind.NOT_ARRIVED, resolved_at__isnull=True)
                    .values_list("fact_key", flat=True))
    overdue = CustodyState.objects.exclude(manifest="").filter(expected_arrival__lt=now).select_related("person", "manifest_to")
    for st in overdue:
        key = f"not_arrived:{st.person_id}:{st.manifest}"
        if key in open_keys:
            continue
        where = st.manifest_to.code if st.manifest_to else "—"
        d = _raise(DiscrepancyKind.NOT_ARRIVED, key, person_id=st.person_id,
                   facility_id=st.manifest_to_id, manifest=st.manifest,
                   details=_("%(person)s on manifest %(manifest)s was expected at %(facility)s by %(time)s and has not arrived.")
                   % {"person": st.person.ref, "manifest": st.manifest, "facility": where,
                      "time": st.expected_arrival.strftime("%Y-%m-%d %H:%M UTC") if st.expected_arrival else "—"})
        raised += d is not None
    waiting = list(Discrepancy.objects.filter(kind=DiscrepancyKind.NOT_ARRIVED, resolved_at__isnull=True))
    if waiting:
        arrivals: dict[tuple[int, str], LedgerEvent] = {}
        for ev in (LedgerEvent.objects.filter(kind="arrived", person_id__in={d.person_id for d in waiting},
                                              manifest__in={d.manifest for d in waiting})
                   .select_related("facility").order_by("-seq")):
            arrivals[(ev.person_id, ev.manifest)] = ev  # descending: the first arrival wins
        for d in waiting:
            arrival = arrivals.get((d.person_id, d.manifest))
            if arrival is not None:
                d.resolved_at, d.resolution = now, _("Arrived at %(facility)s: ledger event #%(seq)s.") % {
                    "facility": arrival.facility.code if arrival.facility else "—", "seq": arrival.seq}
                d.save(update_fields=["resolved_at", "resolution"])
    return raised


def _holder(person_id: int | None) -> int | None:
    if person_id is None:
        return None
    held = CustodyState.objects.filter(person_id=person_id).values_list("custodian_id", flat=True).first()
    return held if held is not None else authority.last_holder(person_id)


@action("ledger.roll_call", capability="change")
def do_record_roll_call(actor: Any, *, facility: Any, counted: Any, block: str = "", remark: str = "",
                        taken_at: datetime | None = None) -> tuple[RollCall, Discrepancy | None]:
    """A physical count at a facility, by its operating agency; a count that differs from the ledger
    raises a discrepancy in the same transaction."""
    fac = _visible_facility(actor, facility)
    audit_note(fac, facility=fac.code)
    authority.Authority(actor).facility_operator(facility_id=fac.pk, what=_("roll calls"))
    try:
        counted = int(counted)
    except (TypeError, ValueError):
        raise BadInput(_("Enter the number counted."), field="counted") from None
    if counted < 0:
        raise BadInput(_("A count cannot be negative."), field="counted")
    block = (block or "").strip()
    expected = expected_count(fac, block)
    rc = RollCall.objects.create(facility=fac, block=block, counted=counted, expected=expected,
                                 taken_at=taken_at or timezone.now(), taken_by=actor, note=remark or "")
    disc = None
    if counted != expected:
        where = fac.code + (f" / {block}" if block else "")
        disc = _raise(DiscrepancyKind.ROLL_CALL, f"roll_call:{rc.pk}", facility=fac, expected=expected, counted=counted,
                      details=_("Roll call at %(where)s counted %(counted)s; the ledger says %(expected)s.")
                      % {"where": where, "counted": counted, "expected": expected})
    audit_note(rc, facility=fac.code, counted=counted, expected=expected, discrepancy=disc.pk if disc else None)
    return rc, disc


@action("ledger.discrepancy_resolve", capability="approve")
def do_resolve_discrepancy(actor: Any, discrepancy: Any, *, resolution: str) -> Discrepancy:
    """A supervisor of the agency operating the discrepancy's facility (or holding its person) records
    what was found and done."""
    from custody.core.access import restrict

    pk = _pk(discrepancy)
    d = restrict(Discrepancy.objects.select_related("person", "facility"), actor, "change").filter(pk=pk).first()
    if d is None:
        raise NotFound(_("No discrepancy #%(id)s that you may see.") % {"id": pk}, field="discrepancy")
    audit_note(d)
    authority.Authority(actor).resolve_discrepancy(facility_id=d.facility_id, holder_id=_holder(d.person_id),
                                                   person=d.person.ref if d.person else "—")
    if d.resolved_at is not None:
        raise RuleError(_("This discrepancy was already resolved."), rule="discrepancy")
    if not (resolution or "").strip():
        raise BadInput(_("A resolution must say what was found and done."), field="resolution")
    d.resolved_at, d.resolved_by, d.resolution = timezone.now(), actor, resolution.strip()
    d.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return d


@action("ledger.reconcile", capability="change")
def do_reconcile(actor: Any, now: datetime | None = None) -> int:
    """Raise the overdue-manifest discrepancies now (the housekeeping task does it every few minutes).
    Derived from the log alone, so any clerk may ask for it; the answer is the number raised."""
    raised = reconcile(now)
    audit_note(object_type="ledger.discrepancy", raised=raised)
    return raised
