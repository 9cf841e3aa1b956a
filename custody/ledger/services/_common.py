"""What every ledger action shares: the append lock, the projection row as a State, and the lookups
of the rows an action touches through the actor's restriction (absent and forbidden answer alike).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from custody.core.errors import BadInput, NotFound, RuleError

from .. import authority
from ..models import (
    CustodyState,
    LedgerEvent,
)
from ..projection import State
from ..signing import lock_head

BATCH = 1000


def _pk(obj: Any) -> int | None:
    return None if obj is None else getattr(obj, "pk", obj)


class _Lookups:
    """Facilities, agencies and users by id for one append batch: fetched once, only those the batch names."""

    def __init__(self) -> None:
        from custody.accounts.models import Agency, User
        from custody.registry.models import Facility

        self._facility_model, self._user_model = Facility, User
        self.facility: dict[int, Any] = {}
        self.agency = dict(Agency.objects.values_list("id", "code"))  # a handful of rows
        self.agency_by_code = {code: pk for pk, code in self.agency.items()}
        self._users: dict[int, Any] = {}

    def load_facilities(self, ids: Iterable[int | None] = (), codes: Iterable[str] = ()) -> None:
        want = {i for i in ids if i is not None and i not in self.facility}
        want_codes = set(codes) - {f.code for f in self.facility.values()}
        if want:
            self.facility.update({f.pk: f for f in self._facility_model.objects.filter(pk__in=want).only("id", "code", "custodian_id")})
        if want_codes:
            self.facility.update({f.pk: f for f in self._facility_model.objects.filter(code__in=want_codes).only("id", "code", "custodian_id")})

    def facility_by_code(self, code: str) -> Any:
        self.load_facilities(codes=[code])
        return next((f for f in self.facility.values() if f.code == code), None)

    def user(self, obj: Any) -> Any:
        if obj is None:
            return None
        if not isinstance(obj, int):
            return obj
        if obj not in self._users:
            self._users[obj] = self._user_model.objects.select_related("agency").get(pk=obj)
        return self._users[obj]

    def fcode(self, pk: int | None) -> str | None:
        if pk is None:
            return None
        if pk not in self.facility:
            self.load_facilities([pk])
        if pk not in self.facility:
            raise RuleError(_("Facility %(id)s does not exist.") % {"id": pk}, rule="facility")
        return self.facility[pk].code

    def acode(self, pk: int | None) -> str | None:
        return self.agency.get(pk) if pk is not None else None


# The head row lives with the signing code that also reads it (no cycle between the two).
_lock_head = lock_head


def _state_of(row: CustodyState | None) -> State:
    if row is None:
        return State()
    return State(row.status, row.facility_id, row.custodian_id, row.block, row.manifest, row.manifest_from_id,
                 row.manifest_to_id, row.expected_arrival, row.departed, row.last_seq, row.last_event_at)


@dataclass
class Recorded:
    event: LedgerEvent
    created: bool


def _unrestricted(actor: Any) -> bool:
    return authority.is_loading_system(actor)


def _visible_person(actor: Any, person: Any, field: str = "person") -> Any:
    """The person an action touches, restricted to those the actor may change; absent and forbidden
    get the same answer, so nothing leaks."""
    from custody.core.access import restrict
    from custody.registry.models import Person

    lookup = {"ref": person.strip()} if isinstance(person, str) else {"pk": _pk(person)}
    qs = Person.objects.only("id", "ref")
    row = (qs if _unrestricted(actor) else restrict(qs, actor, "change")).filter(**lookup).first()
    if row is None:
        raise NotFound(_("No person %(ref)s that you may change.") % {"ref": next(iter(lookup.values()))}, field=field)
    return row


def _visible_facility(actor: Any, facility: Any, field: str = "facility") -> Any:
    from custody.core.access import restrict
    from custody.registry.models import Facility

    lookup = {"code": facility.strip()} if isinstance(facility, str) else {"pk": _pk(facility)}
    qs = Facility.objects.only("id", "code", "custodian_id")
    row = (qs if _unrestricted(actor) else restrict(qs, actor, "view")).filter(**lookup).first()
    if row is None:
        raise NotFound(_("No facility %(code)s that you may see.") % {"code": next(iter(lookup.values()))}, field=field)
    return row


def _agency(agency: Any, field: str) -> Any:
    """Agencies are known to everyone: an unknown code is a typo, not a secret."""
    from custody.accounts.models import Agency

    if agency is None or agency == "":
        raise BadInput(_("Name the agency (%(field)s).") % {"field": field}, field=field)
    lookup = {"code": agency.strip().upper()} if isinstance(agency, str) else {"pk": _pk(agency)}
    row = Agency.objects.filter(**lookup).first()
    if row is None:
        raise BadInput(_("No agency %(code)s (%(field)s).") % {"code": next(iter(lookup.values())), "field": field},
                       field=field)
    return row
