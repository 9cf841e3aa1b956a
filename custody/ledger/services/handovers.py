"""Handovers between authorities, both sides confirming person by person; the rules of the handed_over
event itself are the projection's (custody.ledger.projection.check_handover).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.actions import action
from custody.core.actions import note as audit_note
from custody.core.errors import BadInput, NotFound, RuleError

from .. import authority
from ..models import (
    CustodyState,
)
from ..specs import EventSpec
from ._common import Recorded, _agency, _pk, _unrestricted, _visible_facility
from .append import _record_one


@action("ledger.handover_start", capability="change")
def do_create_handover(actor: Any, *, facility: Any, from_custodian: Any, to_custodian: Any, people: Iterable[Any],
                       manifest: str = "", reference: str = "") -> Any:
    """Open a handover: the holding agency, as the handing-over side, of every person on it. Both sides
    then confirm person by person (do_confirm_handover)."""
    from custody.core.access import restrict
    from custody.registry.models import Person

    from ..models import Handover, HandoverItem

    fac = _visible_facility(actor, facility)
    frm, to = _agency(from_custodian, "from_custodian"), _agency(to_custodian, "to_custodian")
    wanted = [p.strip() if isinstance(p, str) else p for p in people]
    wanted = [p for p in wanted if p not in ("", None)]
    if not wanted:
        raise BadInput(_("Name the people handed over."), field="people")
    refs = {p for p in wanted if isinstance(p, str)}
    ids = {_pk(p) for p in wanted if not isinstance(p, str)}
    qs = Person.objects.all() if _unrestricted(actor) else restrict(Person.objects.all(), actor, "change")
    found = list(qs.filter(Q(ref__in=refs) | Q(pk__in=ids)))
    missing = sorted((refs - {p.ref for p in found}) | {str(i) for i in ids - {p.pk for p in found}})
    if missing:
        raise NotFound(_("Unknown or hidden people: %(refs)s") % {"refs": ", ".join(missing)}, field="people")
    audit_note(object_type="ledger.handover", facility=fac.code, handing_over=frm.code, receiving=to.code,
               people=sorted(p.ref for p in found))
    held = dict(CustodyState.objects.filter(person__in=found).values_list("person_id", "custodian_id"))
    authority.Authority(actor).open_handover(from_id=frm.pk, people=[(p.ref, held.get(p.pk)) for p in found])
    if frm.pk == to.pk:
        raise RuleError(_("A handover is between two different authorities."), rule="handover")
    h = Handover.objects.create(
        reference=reference or f"H-{timezone.now():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}", facility=fac,
        from_custodian=frm, to_custodian=to, manifest=(manifest or "").strip(), created_by=actor)
    HandoverItem.objects.bulk_create([HandoverItem(handover=h, person=p) for p in found])
    audit_note(h)
    return h


def wristbands_of(person_id: int) -> set[str]:
    from custody.registry.models import Identifier

    return set(Identifier.objects.filter(person_id=person_id, kind="wristband").values_list("value_norm", flat=True))


@action("ledger.handover_confirm", capability="change")
def do_confirm_handover(actor: Any, *, reference: str, person: Any, side: str, wristband: str,
                        identity_check: str = "") -> Recorded | None:
    """One side confirms one person: 'send' by the handing-over agency, 'receive' by the receiving one.
    The confirmation that completes the pair appends the handed_over event in the same transaction; if
    the custody rules refuse that event, the confirmation is refused with them, nothing half-done.
    Returns the event, if any."""
    from custody.core.access import restrict
    from custody.registry.models import Identifier

    from ..models import Handover, HandoverItem, HandoverStatus

    h = restrict(Handover.objects.select_related("from_custodian", "to_custodian"), actor, "change").filter(
        reference=str(reference)).first()
    if h is None:
        raise NotFound(_("No handover %(ref)s that you may see.") % {"ref": reference}, field="reference")
    lookup = {"person__ref": person.strip()} if isinstance(person, str) else {"person_id": _pk(person)}
    item = restrict(HandoverItem.objects.filter(handover=h).select_related("person"), actor, "change").filter(
        **lookup).first()
    if item is None:
        raise NotFound(_("%(person)s is not on handover %(ref)s.") % {"person": next(iter(lookup.values())),
                                                                       "ref": h.reference}, field="person")
    audit_note(item.person, handover=h.reference, side=side)
    if side not in ("send", "receive"):
        raise BadInput(_("The side is 'send' or 'receive'."), field="side")
    authority.Authority(actor).confirm_handover(side=side, from_id=h.from_custodian_id, to_id=h.to_custodian_id)
    item = HandoverItem.objects.select_for_update().select_related("person").get(pk=item.pk)
    if h.status != HandoverStatus.OPEN or item.event_id:
        raise RuleError(_("This person's handover is already complete."), rule="handover")
    typed = Identifier.normalise(wristband or "")
    known = wristbands_of(item.person_id)
    if not typed or (known and typed not in known):
        raise RuleError(_("Rule 'wristband checked': the wristband %(typed)s does not belong to %(person)s.")
                        % {"typed": wristband or "—", "person": item.person.ref}, rule="wristband")
    now = timezone.now()
    if side == "send":
        item.sender_confirmed_by, item.sender_confirmed_at, item.sender_wristband = actor, now, typed
    else:
        if identity_check not in {"match", "no_match", "not_checked"}:
            raise BadInput(_("The receiving side records the identity check result."), field="identity_check")
        item.receiver_confirmed_by, item.receiver_confirmed_at = actor, now
        item.receiver_wristband, item.identity_check = typed, identity_check
    item.save()
    if not (item.sender_confirmed_by_id and item.receiver_confirmed_by_id):
        return None
    spec = EventSpec("handed_over", item.person_id, now, facility=h.facility_id, custodian=h.to_custodian_id,
                     sending_officer=item.sender_confirmed_by_id, receiving_officer=item.receiver_confirmed_by_id,
                     identity_check=item.identity_check, wristband=item.receiver_wristband, manifest=h.manifest,
                     reason=_("handover %(ref)s") % {"ref": h.reference},
                     idempotency_id=f"handover-{h.pk}-{item.person_id}")
    rec = _record_one(spec, actor, authority.Authority(actor))
    HandoverItem.objects.filter(pk=item.pk).update(event=rec.event)
    if not HandoverItem.objects.filter(handover=h, event__isnull=True).exists():
        Handover.objects.filter(pk=h.pk).update(status=HandoverStatus.COMPLETED)
    audit_note(seq=rec.event.seq)
    return rec
