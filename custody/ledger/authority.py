"""The custodian rule: who may write a person's custody record. One module, called by the ledger's
actions (custody.ledger.services) inside their transaction, never by an edge: the page, the API, the
CLI and the task queue reach it only through an action, so there is one check.

The rule (docs/security.md, "The custodian rule", has it as a table):

- An event about a person is recorded by the agency that holds the person per the projection
  (CustodyState.custodian), or by an agency that holder has delegated to (a Delegation in force today,
  for the person's facility if the delegation names one).
- `registered`: the holder; for a person nobody holds, any custodian agency (Agency.is_custodian).
- `intake` and `recaptured`: the agency operating the facility (Facility.custodian), which must also be
  the event's custodian: an agency takes people into its own facilities only.
- `arrived` (the arrival side of a movement): the agency operating the arrival facility.
- `handed_over`: appended by the handover workflow once both sides confirmed; the actor is one of the
  two sides, and the handover rules check each officer's agency.
- Opening a handover: the holding agency, as the handing-over side, of every person on it.
  Confirming one: the 'send' side by the from-custodian, the 'receive' side by the to-custodian.
- Roll calls: the facility's operating agency. Resolving a discrepancy: the operating agency of its
  facility (or, for one without a facility, the person's holder), supervisor and above.
- Delegations: granted by a supervisor of a custodian agency for its own people, revoked by a
  supervisor of that agency.

A person nobody holds any more (released, deceased, repatriated) keeps the agency that held them last
as "holder", so that agency alone may record a correction.

The system actor. Code that loads custody histories without a user (the demo generator, the ledger
bench, test fixtures building a world) acts as the named user `system`: it has no agency, no password
and no token, so through any door it is refused like any account without an agency. Only inside
`loading(reason)`, a context that only code can enter, does the rule let it record for every
authority; each event it records says `recorded_by: system`, and the action's audit row names it and
the reason. A roster import's intake is NOT such a load: it is recorded by the clerk who asks for it,
under the rule.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.errors import NotAllowed

SYSTEM_USERNAME = "system"
RULE = "custodian"

# Kinds whose writer is decided by the facility, not by who holds the person.
OPERATOR_KINDS = {"intake", "recaptured"}
ARRIVAL_KINDS = {"arrived"}

_loading: contextvars.ContextVar[str] = contextvars.ContextVar("custody_ledger_loading", default="")


@contextmanager
def loading(reason: str) -> Iterator[None]:
    """Code that loads histories for every authority at once (see the module docstring)."""
    token = _loading.set(reason or "loading")
    try:
        yield
    finally:
        _loading.reset(token)


def loading_reason() -> str:
    return _loading.get()


def system_actor() -> Any:
    """The named account that loading code acts as: no agency, no usable password, no token."""
    from custody.accounts.models import Classification, User

    # Only what the door and the audit row read: this runs once per event recorded by loading code.
    user = User.objects.only("id", "username", "agency_id", "is_active", "role", "clearance").filter(
        username=SYSTEM_USERNAME).first()
    if user is None:
        user = User(username=SYSTEM_USERNAME, role="clerk", agency=None, clearance=max(Classification.values),
                    first_name="Custody", last_name="loading code")
        user.set_unusable_password()
        user.save()
    return user


def is_loading_system(actor: Any) -> bool:
    """True only for the system actor inside `loading()`: the one case the rule does not apply."""
    return bool(_loading.get()) and getattr(actor, "username", None) == SYSTEM_USERNAME and actor.agency_id is None


def _agency_code(agency_id: int | None) -> str:
    from custody.accounts.models import Agency

    if agency_id is None:
        return _("no agency")
    return Agency.objects.filter(pk=agency_id).values_list("code", flat=True).first() or str(agency_id)


def _facility_row(facility_id: int | None) -> Any:
    from custody.registry.models import Facility

    if facility_id is None:
        return None
    return Facility.objects.filter(pk=facility_id).only("id", "code", "custodian_id").first()


def _refuse(message: str) -> NotAllowed:
    return NotAllowed(message, rule=RULE)


@dataclass(frozen=True)
class Grant:
    from_agency_id: int
    facility_id: int | None


class Authority:
    """The rule for one actor, for the length of one action: the delegations to the actor's agency are
    read once, so a bulk append checks every spec without a query per spec."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.agency_id: int | None = getattr(actor, "agency_id", None)
        self.unrestricted = is_loading_system(actor)
        self._grants: set[Grant] | None = None
        self._codes: dict[int, str] = {}

    # ------------------------------------------------------------ names for messages

    def code(self, agency_id: int | None) -> str:
        if agency_id is None:
            return _("no agency")
        if agency_id not in self._codes:
            self._codes[agency_id] = _agency_code(agency_id)
        return self._codes[agency_id]

    @property
    def me(self) -> str:
        return self.code(self.agency_id)

    # ------------------------------------------------------------ delegation

    def grants(self) -> set[Grant]:
        if self._grants is None:
            from .models import Delegation

            today = timezone.localdate()
            rows = Delegation.objects.filter(to_agency_id=self.agency_id, revoked_at__isnull=True, valid_from__lte=today)
            self._grants = {Grant(d.from_agency_id, d.facility_id) for d in rows
                            if d.valid_until is None or today <= d.valid_until} if self.agency_id else set()
        return self._grants

    def delegated(self, holder_id: int | None, facility_id: int | None) -> bool:
        if holder_id is None:
            return False
        grants = self.grants()
        return Grant(holder_id, None) in grants or (facility_id is not None and Grant(holder_id, facility_id) in grants)

    def _need_agency(self) -> None:
        if self.agency_id is None:
            raise _refuse(_("Rule 'only the custodian writes its record': your account belongs to no agency, so it "
                            "writes no custody record."))

    # ------------------------------------------------------------ events

    def event(self, *, kind: str, person: str, holder_id: int | None, facility_id: int | None,
              event_custodian_id: int | None, operator_id: int | None, facility_code: str,
              held_at_id: int | None, receiving_id: int | None = None) -> None:
        """May the actor record `kind` about `person`? `holder_id`: who holds the person (projection);
        `facility_id`/`operator_id`/`facility_code`: the facility the event names and who operates it;
        `event_custodian_id`: the custodian the event would give the person; `held_at_id`: where the
        person is (for a delegation limited to a facility); `receiving_id`: a handover's receiving agency."""
        if self.unrestricted:
            return
        self._need_agency()
        me = self.agency_id
        if kind in OPERATOR_KINDS:
            if operator_id != me:
                raise _refuse(_("Rule 'an agency takes people into its own facilities': %(facility)s is operated by "
                                "%(operator)s, so %(agency)s may not record '%(kind)s' there for %(person)s.")
                              % {"facility": facility_code or "—", "operator": self.code(operator_id), "agency": self.me,
                                 "kind": kind, "person": person})
            if event_custodian_id is not None and event_custodian_id != me:
                raise _refuse(_("Rule 'an agency takes people into its own facilities': the event names %(custodian)s "
                                "as custodian, but %(agency)s records it.")
                              % {"custodian": self.code(event_custodian_id), "agency": self.me})
            return
        if kind in ARRIVAL_KINDS:
            if operator_id != me:
                raise _refuse(_("Rule 'the receiving facility records the arrival': %(facility)s is operated by "
                                "%(operator)s, so %(agency)s may not record %(person)s's arrival there.")
                              % {"facility": facility_code or "—", "operator": self.code(operator_id), "agency": self.me,
                                 "person": person})
            return
        if kind == "registered" and holder_id is None:
            from custody.accounts.models import Agency

            if not Agency.objects.filter(pk=me, is_custodian=True).exists():
                raise _refuse(_("Rule 'only a custodian agency registers a person for custody': %(agency)s holds "
                                "nobody in custody.") % {"agency": self.me})
            return
        if kind == "handed_over" and me in {holder_id, receiving_id}:
            return
        if holder_id == me or self.delegated(holder_id, held_at_id):
            return
        if holder_id is None:
            raise _refuse(_("Rule 'only the custodian writes its record': nobody holds %(person)s, so %(agency)s may "
                            "not record '%(kind)s' for them.") % {"person": person, "agency": self.me, "kind": kind})
        raise _refuse(_("Rule 'only the custodian writes its record': %(person)s is held by %(holder)s; %(agency)s may "
                        "not record '%(kind)s' for them (unless %(holder)s delegates recording to it).")
                      % {"person": person, "holder": self.code(holder_id), "agency": self.me, "kind": kind})

    # ------------------------------------------------------------ the workflows around the log

    def open_handover(self, *, from_id: int, people: list[tuple[str, int | None]]) -> None:
        """Opening a handover: the actor's agency is the handing-over side and holds every person on it."""
        if self.unrestricted:
            return
        self._need_agency()
        if from_id != self.agency_id:
            raise _refuse(_("Rule 'the holding agency opens a handover': %(agency)s may open a handover only as the "
                            "handing-over side, not for %(from)s.") % {"agency": self.me, "from": self.code(from_id)})
        for ref, holder_id in people:
            if holder_id != self.agency_id:
                raise _refuse(_("Rule 'the holding agency opens a handover': %(person)s is held by %(holder)s, not by "
                                "%(agency)s.") % {"person": ref, "holder": self.code(holder_id), "agency": self.me})

    def confirm_handover(self, *, side: str, from_id: int, to_id: int) -> None:
        if self.unrestricted:
            return
        self._need_agency()
        agency_id = from_id if side == "send" else to_id
        if agency_id != self.agency_id:
            raise _refuse(_("Rule 'each side confirms for itself': %(user)s is not of %(agency)s, the %(side)s side.")
                          % {"user": self.actor.username, "agency": self.code(agency_id),
                             "side": _("sending") if side == "send" else _("receiving")})

    def facility_operator(self, *, facility_id: int, what: str) -> None:
        """Roll calls and facility events: the facility's operating agency only."""
        if self.unrestricted:
            return
        self._need_agency()
        facility = _facility_row(facility_id)
        operator_id = facility.custodian_id if facility else None
        if operator_id != self.agency_id:
            raise _refuse(_("Rule 'a facility's operator records its %(what)s': %(facility)s is operated by "
                            "%(operator)s, not by %(agency)s.")
                          % {"what": what, "facility": facility.code if facility else "—",
                             "operator": self.code(operator_id), "agency": self.me})

    def resolve_discrepancy(self, *, facility_id: int | None, holder_id: int | None, person: str) -> None:
        if self.unrestricted:
            return
        self._need_agency()
        if facility_id is not None:
            self.facility_operator(facility_id=facility_id, what=_("discrepancies"))
            return
        if holder_id != self.agency_id:
            raise _refuse(_("Rule 'the custodian resolves its discrepancies': %(person)s is held by %(holder)s, not "
                            "by %(agency)s.") % {"person": person, "holder": self.code(holder_id), "agency": self.me})

    def delegate(self) -> None:
        """Granting or revoking a delegation: for the actor's own agency, which must be a custodian."""
        from custody.accounts.models import Agency

        self._need_agency()
        if not Agency.objects.filter(pk=self.agency_id, is_custodian=True).exists():
            raise _refuse(_("Rule 'only a custodian agency delegates': %(agency)s holds nobody in custody, so it has "
                            "no records to delegate.") % {"agency": self.me})

    def revoke(self, *, from_id: int) -> None:
        self._need_agency()
        if from_id != self.agency_id:
            raise _refuse(_("Rule 'only the delegating agency revokes': this delegation is %(from)s's, not %(agency)s's.")
                          % {"from": self.code(from_id), "agency": self.me})


def last_holder(person_id: int) -> int | None:
    """Who held a person nobody holds now (released, deceased, repatriated): the custodian named by the
    person's latest event that names one."""
    from .models import LedgerEvent

    return (LedgerEvent.objects.filter(person_id=person_id, custodian_id__isnull=False).order_by("-seq")
            .values_list("custodian_id", flat=True).first())
