"""Delegations: a custodian agency lets another record for its people (custody.ledger.authority reads
them); granted and revoked through the one door.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.actions import action
from custody.core.actions import note as audit_note
from custody.core.errors import BadInput, NotFound, RuleError

from .. import authority
from ._common import _agency, _pk, _visible_facility


def _date(value: Any, field: str) -> Any:
    from datetime import date

    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadInput(_("%(field)s: write the date as YYYY-MM-DD.") % {"field": field}, field=field) from None


@action("ledger.delegate", capability="approve")
def do_delegate(actor: Any, *, to_agency: Any, facility: Any = None, valid_from: Any = None, valid_until: Any = None,
                reason: str) -> Any:
    """A supervisor of a custodian agency lets `to_agency` record custody events for the people the
    agency holds (only those at `facility`, if given) from `valid_from` (default today) until
    `valid_until` (inclusive; none: until revoked), for a stated reason."""
    from ..models import Delegation

    check = authority.Authority(actor)
    check.delegate()
    to = _agency(to_agency, "to_agency")
    audit_note(object_type="ledger.delegation", to_agency=to.code)
    if to.pk == actor.agency_id:
        raise BadInput(_("An agency does not delegate to itself."), field="to_agency")
    fac = None if facility in (None, "") else _visible_facility(actor, facility)
    start = _date(valid_from, "valid_from") or timezone.localdate()
    until = _date(valid_until, "valid_until")
    if until is not None and until < start:
        raise BadInput(_("valid_until: the delegation ends before it starts."), field="valid_until")
    if not (reason or "").strip():
        raise BadInput(_("Give the reason for the delegation."), field="reason")
    d = Delegation.objects.create(from_agency_id=actor.agency_id, to_agency=to, facility=fac, valid_from=start,
                                  valid_until=until, reason=reason.strip(), created_by=actor)
    audit_note(d, to_agency=to.code, facility=fac.code if fac else None, valid_from=start.isoformat(),
               valid_until=until.isoformat() if until else None)
    return d


@action("ledger.delegation_revoke", capability="approve")
def do_revoke_delegation(actor: Any, delegation: Any, *, reason: str) -> Any:
    """A supervisor of the delegating agency ends a delegation now; the row stays, with who and why."""
    from custody.core.access import restrict

    from ..models import Delegation

    pk = _pk(delegation)
    d = restrict(Delegation.objects.all(), actor, "change").filter(pk=pk).first()
    if d is None:
        raise NotFound(_("No delegation #%(id)s.") % {"id": pk}, field="delegation")
    audit_note(d)
    authority.Authority(actor).revoke(from_id=d.from_agency_id)
    if d.revoked_at is not None:
        raise RuleError(_("This delegation was already revoked."), rule="delegation")
    if not (reason or "").strip():
        raise BadInput(_("Give the reason for revoking."), field="reason")
    d.revoked_at, d.revoked_by, d.revoke_reason = timezone.now(), actor, reason.strip()
    d.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
    return d
