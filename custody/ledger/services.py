"""The ledger's services: the only code that appends, and everything derived from the log.

Append protocol (record_event, record_events_bulk), all in ONE database transaction:
  1. lock the LedgerHead row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE);
  2. drop specs whose idempotency id is already in the log (a retry returns the first result);
  3. check the rules against the projection, build each event's canonical JSON, hash it into the
     frontier (engine), collect the tree nodes it completes;
  4. insert events and nodes, upsert the projection and the registry Person's custody fields,
     sign a checkpoint when N events or M minutes have passed, move the head.
A process killed anywhere in between leaves nothing: the transaction never commits, so no event
can exist without its place in the tree (tests/ledger/test_faults.py kills a real process to show it).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.actions import action, current_action
from custody.core.actions import note as audit_note
from custody.core.errors import BadInput, NotFound, RuleError
from custody.engines.ledger import (
    Frontier,
    build_bundle,
    canonical_json,
    event_document,
    inclusion_proof,
    leaf_hash,
    nodes_for_inclusion,
    verify_log,
)
from custody.engines.ledger.events import format_time
from custody.engines.ledger.merkle import consistency_proof, nodes_for_consistency, root

from . import authority
from .files import check_files
from .models import (
    CustodyState,
    Discrepancy,
    DiscrepancyKind,
    EventAttachment,
    LedgerEvent,
    LedgerHead,
    RollCall,
    SignedCheckpoint,
    TreeNode,
)
from .projection import State, Step, check_rules, transition
from .projection import save as save_projection
from .rows import db_time as _db_time
from .rows import insert_rows as _insert_rows
from .signing import (  # noqa: F401  (_key_for: tests clear the signer cache through this module)
    ORIGIN,
    _key_for,
    checkpoint_of,
    checkpoint_row,
    public_key_id,
    sign_if_due,
    sign_now,
    signing_key,
    store_checkpoints,
)
from .specs import EVENT_KINDS, EventSpec

BATCH = 1000


# ---------------------------------------------------------------- helpers


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


def _lock_head() -> LedgerHead:
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        try:
            with transaction.atomic():
                LedgerHead.objects.create(pk=1)
        except IntegrityError:
            pass  # created by a concurrent first append
        head = LedgerHead.objects.select_for_update().get(pk=1)
    return head


def _state_of(row: CustodyState | None) -> State:
    if row is None:
        return State()
    return State(row.status, row.facility_id, row.custodian_id, row.block, row.manifest, row.manifest_from_id,
                 row.manifest_to_id, row.expected_arrival, row.departed, row.last_seq, row.last_event_at)


@dataclass
class Recorded:
    event: LedgerEvent
    created: bool


@dataclass(slots=True)
class _NewEvent:
    """An event about to be inserted: the row's values, without the cost of a model instance."""

    seq: int
    kind: str
    person_id: int
    occurred_at: datetime
    recorded_at: datetime
    facility_id: int | None
    custodian_id: int | None
    recorded_by_id: int | None
    idempotency_id: str
    manifest: str
    reason: str
    data: dict[str, Any]
    body: str


@dataclass
class _Batch:
    events: list[_NewEvent] = field(default_factory=list)
    nodes: list[tuple[int, int, bytes]] = field(default_factory=list)
    checkpoints: list[SignedCheckpoint] = field(default_factory=list)
    results: list[Recorded] = field(default_factory=list)
    attachments: list[tuple[int, str]] = field(default_factory=list)  # (seq, file hash)


def _step_for(spec: EventSpec, lk: _Lookups, state: State, seq: int) -> tuple[Step, dict[str, Any]]:
    """The state-machine step and the event's `data` object for a spec."""
    facility_id = _pk(spec.facility)
    custodian_id = _pk(spec.custodian)
    if spec.kind in authority.OPERATOR_KINDS and custodian_id is None and facility_id is not None:
        lk.fcode(facility_id)
        custodian_id = lk.facility[facility_id].custodian_id
    to_facility_id = _pk(spec.to_facility)
    data: dict[str, Any] = {k: v for k, v in spec.data.items()}
    if spec.manifest:
        data["manifest"] = spec.manifest
    if to_facility_id is not None:
        data["to_facility"] = lk.fcode(to_facility_id)
    if spec.expected_arrival is not None:
        data["expected_arrival"] = format_time(spec.expected_arrival)
    if spec.country:
        data["country"] = spec.country.upper()
    if spec.kind == "handed_over":
        sender, receiver = lk.user(spec.sending_officer), lk.user(spec.receiving_officer)
        data["sending_officer"] = sender.username if sender else None
        data["receiving_officer"] = receiver.username if receiver else None
        data["identity_check"] = spec.identity_check
        data["from_custodian"] = lk.acode(state.custodian_id)
        if spec.wristband:
            data["wristband"] = spec.wristband
    if spec.corrects is not None:
        data["corrects"] = spec.corrects
    correction = None
    if spec.kind == "correction":
        correction = {}
        if "facility" in spec.data:
            fac = lk.facility_by_code(spec.data["facility"]) if spec.data["facility"] else None
            correction["facility_id"] = fac.pk if fac else None
        if "custodian" in spec.data:
            correction["custodian_id"] = lk.agency_by_code.get(spec.data["custodian"]) if spec.data["custodian"] else None
        if "status" in spec.data:
            correction["status"] = spec.data["status"]
    step = Step(spec.kind, seq, spec.occurred_at, facility_id, custodian_id, spec.manifest, to_facility_id,
                spec.expected_arrival, str(spec.data.get("block", "")), correction)
    return step, data


def _check_spec(spec: EventSpec, state: State, step: Step, lk: _Lookups, person_ref: str) -> None:
    if spec.kind not in EVENT_KINDS:
        raise RuleError(_("Unknown event kind '%(kind)s'.") % {"kind": spec.kind}, rule="kind")
    if spec.occurred_at is None or timezone.is_naive(spec.occurred_at):
        raise RuleError(_("The time of the event is required, with its time zone."), rule="time")
    if spec.kind == "handed_over":
        _check_handover(spec, state, step, lk, person_ref)
    if spec.kind == "repatriated" and len(spec.country) != 2:
        raise RuleError(_("A repatriation names the country (ISO code of two letters)."), rule="country")
    if spec.kind == "correction":
        if spec.corrects is None or not spec.reason:
            raise RuleError(_("A correction names the event it corrects and gives a reason."), rule="correction")
        if not LedgerEvent.objects.filter(seq=spec.corrects).exists():
            raise RuleError(_("Event #%(seq)s does not exist.") % {"seq": spec.corrects}, rule="correction")
    names = {"facility": lk.fcode(step.facility_id) or "—", "current_facility": lk.fcode(state.facility_id) or ""}
    check_rules(state, step, person=person_ref, names=names)


def _check_handover(spec: EventSpec, state: State, step: Step, lk: _Lookups, person_ref: str) -> None:
    sender, receiver = lk.user(spec.sending_officer), lk.user(spec.receiving_officer)
    if step.custodian_id is None:
        raise RuleError(_("A handover names the receiving authority."), rule="handover")
    if sender is None or receiver is None:
        raise RuleError(
            _("Rule 'a handover completes only when both sides confirm': %(person)s lacks the %(side)s side's "
              "confirmation.") % {"person": person_ref, "side": _("sending") if sender is None else _("receiving")},
            rule="handover")
    if sender.pk == receiver.pk:
        raise RuleError(_("Rule 'both sides confirm': the same officer cannot confirm for both sides."), rule="handover")
    if receiver.agency_id != step.custodian_id:
        raise RuleError(
            _("Rule 'the receiving side confirms': %(user)s is not of the receiving authority %(agency)s.")
            % {"user": receiver.username, "agency": lk.acode(step.custodian_id)}, rule="handover")
    if state.custodian_id is not None and sender.agency_id != state.custodian_id:
        raise RuleError(
            _("Rule 'the sending side confirms': %(user)s is not of the current custodian %(agency)s.")
            % {"user": sender.username, "agency": lk.acode(state.custodian_id)}, rule="handover")
    if spec.identity_check not in {"match", "not_checked"}:
        raise RuleError(
            _("Rule 'the receiving side verifies identity': the identity check result for %(person)s is "
              "'%(result)s'; a handover is only completed after a match or a recorded 'not checked'.")
            % {"person": person_ref, "result": spec.identity_check or _("missing")}, rule="identity")
    if step.custodian_id == state.custodian_id:
        raise RuleError(_("A handover changes the custodian; %(person)s is already held by %(agency)s.")
                        % {"person": person_ref, "agency": lk.acode(step.custodian_id)}, rule="handover")


def _is_duplicate(spec: EventSpec, last: LedgerEvent | None, step: Step) -> bool:
    """Two clerks recording the same departure (or arrival, manifest) at once: the second is the first."""
    if last is None or last.kind != spec.kind or spec.kind not in {"departed", "arrived", "manifested"}:
        return False
    return last.manifest == spec.manifest and last.facility_id == step.facility_id


def _authorise(check: authority.Authority | None, spec: EventSpec, step: Step, state: State, pid: int, ref: str,
               lk: _Lookups) -> None:
    """The custodian rule for one spec, against the projection as this batch has left it."""
    if check is None or check.unrestricted:
        return
    holder = state.custodian_id
    if holder is None and spec.kind not in {"registered", "intake", "recaptured", "arrived"}:
        holder = authority.last_holder(pid)
    facility_id = step.facility_id
    code = lk.fcode(facility_id) or ""
    operator = lk.facility[facility_id].custodian_id if facility_id is not None else None
    check.event(kind=spec.kind, person=ref, holder_id=holder, facility_id=facility_id,
                event_custodian_id=_pk(spec.custodian), operator_id=operator, facility_code=code,
                held_at_id=state.facility_id if state.status != "in_transit" else None,
                receiving_id=step.custodian_id if spec.kind == "handed_over" else None)


def _append(specs: Sequence[EventSpec], user: Any, lk: _Lookups, check: authority.Authority | None = None) -> _Batch:
    """Append within the caller's transaction (which holds the head lock). Raises the first refusal:
    NotAllowed from the custodian rule (`check`; None only for the rebuild-free internal callers that
    checked already), RuleError from the custody rules."""
    from custody.registry.models import Person

    head = _lock_head()
    frontier = Frontier(head.size, [bytes.fromhex(h) for h in head.frontier])
    batch = _Batch()
    ids = [s.idempotency_id for s in specs if s.idempotency_id]
    existing = {e.idempotency_id: e for e in LedgerEvent.objects.filter(idempotency_id__in=ids)} if ids else {}
    person_ids = {_pk(s.person) for s in specs}
    refs = dict(Person.objects.filter(pk__in=person_ids).values_list("pk", "ref"))
    rows = {r.person_id: r for r in CustodyState.objects.filter(person_id__in=person_ids)}
    states = {pid: _state_of(rows.get(pid)) for pid in person_ids}
    last_events: dict[int, LedgerEvent | None] = {}
    now = timezone.now()
    username = getattr(user, "username", None) or "system"
    touched: set[int] = set()
    custodians_ever: set[tuple[int, int]] = set()
    n_every = settings.LEDGER_CHECKPOINT_EVENTS
    key = signing_key()

    for spec in specs:
        pid = _pk(spec.person)
        if pid not in refs:
            raise RuleError(_("Person %(id)s does not exist.") % {"id": pid}, rule="person")
        if spec.idempotency_id and spec.idempotency_id in existing:
            batch.results.append(Recorded(existing[spec.idempotency_id], False))
            continue
        state = states[pid]
        step, data = _step_for(spec, lk, state, frontier.size)
        _authorise(check, spec, step, state, pid, refs[pid], lk)
        try:
            _check_spec(spec, state, step, lk, refs[pid])
        except RuleError:
            # A second clerk recording the same departure is refused by the rules (the person has
            # already left); if the ledger's last event for the person is that same record, the
            # answer is the first one, not an error.
            if spec.kind in {"departed", "arrived", "manifested"}:
                if pid not in last_events:
                    last_events[pid] = LedgerEvent.objects.filter(person_id=pid).order_by("-seq").first()
                if _is_duplicate(spec, last_events[pid], step):
                    batch.results.append(Recorded(last_events[pid], False))  # type: ignore[arg-type]
                    continue
            raise
        if step.kind == "handed_over" and step.facility_id is None:
            step = Step(**{**step.__dict__, "facility_id": state.facility_id})
        idem = spec.idempotency_id or str(uuid.uuid4())
        seq = frontier.size
        custodian_id = step.custodian_id if step.custodian_id is not None else state.custodian_id
        if spec.kind in {"released", "repatriated", "died", "escaped", "registered"} and spec.custodian is None:
            custodian_id = state.custodian_id
        facility_id = step.facility_id
        doc = event_document(
            seq=seq, kind=spec.kind, person=refs[pid], occurred_at=spec.occurred_at, recorded_at=now,
            facility=lk.fcode(facility_id), custodian=lk.acode(custodian_id), recorded_by=username,
            idempotency_id=idem, reason=spec.reason, attachments=spec.attachments, data=data,
        )
        body = canonical_json(doc)
        batch.attachments.extend((seq, h) for h in doc["attachments"])
        batch.nodes.extend(frontier.append(leaf_hash(body)))
        event = _NewEvent(seq, spec.kind, pid, spec.occurred_at, now, facility_id, custodian_id,
                          getattr(user, "pk", None), idem, spec.manifest, spec.reason, data, body.decode("utf-8"))
        batch.events.append(event)
        batch.results.append(Recorded(event, True))
        existing[idem] = event
        last_events[pid] = event
        new_state = transition(state, step)
        states[pid] = new_state
        touched.add(pid)
        if new_state.custodian_id is not None:
            custodians_ever.add((pid, new_state.custodian_id))
        if frontier.size - head.last_checkpoint_size >= n_every:
            batch.checkpoints.append(checkpoint_row(key, frontier.size, frontier.root(), now))
            head.last_checkpoint_size, head.last_checkpoint_at = frontier.size, now

    if not batch.events:
        return batch
    _insert_events(batch.events)
    _insert_attachments(batch.attachments)
    if settings.LEDGER_FAULT_PAUSE_SECONDS:
        time.sleep(settings.LEDGER_FAULT_PAUSE_SECONDS)
    _insert_nodes(batch.nodes)
    save_projection(touched, states, custodians_ever)
    # Every append transaction ends signed (issue 14): no event stands unsigned, so a dropped latest
    # checkpoint or a rewritten unsigned tail shows in `verify` even without a witness.
    if frontier.size > head.last_checkpoint_size:
        batch.checkpoints.append(checkpoint_row(key, frontier.size, frontier.root(), now))
        head.last_checkpoint_size, head.last_checkpoint_at = frontier.size, now
    store_checkpoints(batch.checkpoints)
    head.size = frontier.size
    head.frontier = [h.hex() for h in frontier.nodes]
    head.save()
    return batch


_EVENT_COLUMNS = ["seq", "kind", "person_id", "occurred_at", "recorded_at", "facility_id", "custodian_id",
                  "recorded_by_id", "idempotency_id", "manifest", "reason", "data", "body"]


def _insert_events(events: list[_NewEvent]) -> None:
    """One executemany: the ORM's bulk_create spends more time compiling values than the database inserting them."""
    meta = LedgerEvent._meta
    data = meta.get_field("data")
    cols = ", ".join(f'"{c}"' for c in _EVENT_COLUMNS)
    recorded = {id(e.recorded_at): _db_time(e.recorded_at) for e in events}
    rows = [
        (e.seq, e.kind, e.person_id, _db_time(e.occurred_at), recorded[id(e.recorded_at)], e.facility_id,
         e.custodian_id, e.recorded_by_id, e.idempotency_id, e.manifest, e.reason,
         data.get_db_prep_save(e.data, connection), e.body)
        for e in events
    ]
    _insert_rows(f'INSERT INTO "{meta.db_table}" ({cols})', len(_EVENT_COLUMNS), rows)


def _insert_attachments(pairs: list[tuple[int, str]]) -> None:
    if not pairs:
        return
    ids = dict(LedgerEvent.objects.filter(seq__in={seq for seq, _h in pairs}).values_list("seq", "id"))
    _insert_rows(f'INSERT INTO "{EventAttachment._meta.db_table}" ("event_id", "sha256")', 2,
                 [(ids[seq], h) for seq, h in pairs])


def _insert_nodes(nodes: list[tuple[int, int, bytes]]) -> None:
    _insert_rows(f'INSERT INTO "{TreeNode._meta.db_table}" ("level", "index", "hash")', 3, nodes)


# ---------------------------------------------------------------- public append API


def _record_one(spec: EventSpec, user: Any, check: authority.Authority | None) -> Recorded:
    """Append one event in the caller's transaction (an action's). A retried idempotency id returns the
    first event."""
    lk = _Lookups()
    try:
        with transaction.atomic():
            batch = _append([spec], user, lk, check)
            result = batch.results[0]
            if result.created:
                # Inserted with raw SQL for speed: fetch the row so callers get its primary key.
                result = Recorded(LedgerEvent.objects.get(seq=result.event.seq), True)
    except RuleError as exc:
        if spec.kind == "arrived":
            # Kept after the action's rollback, like its audit row (do_record_event): the arrival nobody
            # departed is itself a fact to reconcile.
            exc.arrival = spec  # type: ignore[attr-defined]
        raise
    except IntegrityError:
        # A concurrent request with the same idempotency id committed first (PostgreSQL only reaches
        # here if the head lock was bypassed); its event is the answer.
        if spec.idempotency_id:
            ev = LedgerEvent.objects.filter(idempotency_id=spec.idempotency_id).first()
            if ev is not None:
                return Recorded(ev, False)
        raise
    return result


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


def _resolved(actor: Any, spec: EventSpec) -> EventSpec:
    """The spec with every row it names looked up through the actor's restriction (refs and codes as
    typed at a door, or instances and ids from code)."""
    from dataclasses import replace

    if _unrestricted(actor) and not any(isinstance(v, str) for v in (spec.person, spec.facility, spec.to_facility,
                                                                      spec.custodian)):
        return spec  # loading code passes ids or rows; the append names a missing one

    def fac(value: Any, name: str) -> Any:
        return None if value is None or value == "" else _visible_facility(actor, value, name).pk

    return replace(spec, person=_visible_person(actor, spec.person).pk, facility=fac(spec.facility, "facility"),
                   to_facility=fac(spec.to_facility, "to_facility"),
                   custodian=None if spec.custodian is None or spec.custodian == "" else _agency(spec.custodian, "custodian").pk)


@action("ledger.record_event", capability="change")
def _record_event_action(actor: Any, spec: EventSpec) -> Recorded:
    check = authority.Authority(actor)
    if spec.kind == "handed_over" and not check.unrestricted:
        raise RuleError(_("Record handovers on the handover screen or through /api/ledger/handovers/: both sides "
                          "confirm, person by person."), rule="handover")
    spec = _resolved(actor, spec)
    audit_note(object_type="registry.person", object_id=str(spec.person), kind=spec.kind)
    recorded = _record_one(spec, actor, check)
    audit_note(seq=recorded.event.seq, created=recorded.created, loading=authority.loading_reason() or None)
    return recorded


def do_record_event(actor: Any, spec: EventSpec) -> Recorded:
    """Record one custody event as `actor` (the action `ledger.record_event`): the person and facilities
    restricted to the actor, the custodian rule (custody.ledger.authority), the custody rules, the
    append, one audit row. An arrival refused because nobody departed raises that discrepancy after
    the rollback, as the refusal's audit row is written."""
    try:
        return _record_event_action(actor, spec)
    except RuleError as exc:
        raise_refused_arrival(exc)
        raise


def raise_refused_arrival(exc: RuleError) -> None:
    """After an action refused an arrival nobody departed (and rolled back): raise that discrepancy, as
    the refusal's audit row is written after the rollback. Inside a larger action, its rollback would
    undo the discrepancy, so only the outermost door does it."""
    arrival = getattr(exc, "arrival", None)
    if arrival is not None and current_action() is None:
        _raise_arrival_without_departure(arrival, _Lookups())


@action("ledger.record_events_bulk", capability="change")
def do_record_events_bulk(actor: Any, specs: Iterable[EventSpec], progress: Callable[[int, int], None] | None = None,
                          batch_size: int = BATCH) -> int:
    """Append many events as `actor`, `batch_size` to an append, all in the action's one transaction
    (a refused spec refuses the whole load: a roster's intake is taken in whole or not at all), then sign
    a checkpoint over them. Returns the number of new events. Each spec is checked against the
    custodian rule as the batch has left the projection (an intake then a move of the same person in
    one load is the intake's agency's move)."""
    from custody.core.access import restrict
    from custody.registry.models import Facility, Person

    specs = list(specs)
    check = authority.Authority(actor)
    if not check.unrestricted:
        people = {_pk(s.person) for s in specs}
        facilities = {_pk(x) for s in specs for x in (s.facility, s.to_facility) if x is not None}
        seen = set(restrict(Person.objects.filter(pk__in=people), actor, "change").values_list("pk", flat=True))
        if people - seen:
            raise NotFound(_("%(n)s people of this load are not people you may change (first: id %(id)s).")
                           % {"n": len(people - seen), "id": min(people - seen)}, field="person")
        seen = set(restrict(Facility.objects.filter(pk__in=facilities), actor, "view").values_list("pk", flat=True))
        if facilities - seen:
            raise NotFound(_("Facility %(id)s is not one you may see.") % {"id": min(facilities - seen)}, field="facility")
    lk = _Lookups()
    lk.load_facilities({_pk(x) for s in specs for x in (s.facility, s.to_facility)})
    created = 0
    for start in range(0, len(specs), batch_size):
        batch = _append(specs[start : start + batch_size], actor, lk, check)
        created += len(batch.events)
        if progress is not None:
            progress(min(start + batch_size, len(specs)), len(specs))
    if created:
        # A bulk load (an import's intake, the demo's histories) ends signed: none of it waits for
        # the next append or the housekeeping task to be covered by a checkpoint.
        sign_now()
    audit_note(object_type="ledger.ledgerevent", object_id=f"{created} events", created=created, specs=len(specs),
               loading=authority.loading_reason() or None)
    return created


def record_event(spec: EventSpec, *, user: Any = None) -> Recorded:
    """The code API of existing callers: `do_record_event` as `user`. Without a user (the demo loader,
    the bench, test fixtures: code, never a door) it acts as the system actor loading (see
    custody.ledger.authority), named in the event and in the audit row."""
    if user is None:
        with authority.loading("code recording without a user"):
            return do_record_event(authority.system_actor(), spec)
    return do_record_event(user, spec)


def record_events_bulk(specs: Iterable[EventSpec], user: Any = None,
                       progress: Callable[[int, int], None] | None = None, batch_size: int = BATCH) -> int:
    """The code API of existing callers (the demo generator, a roster's intake): `do_record_events_bulk`
    as `user`, or, without one, as the system actor loading (see `record_event`)."""
    if user is None:
        with authority.loading("code loading histories without a user"):
            return do_record_events_bulk(authority.system_actor(), specs, progress, batch_size)
    return do_record_events_bulk(user, specs, progress, batch_size)


# ---------------------------------------------------------------- proofs and bundles


class DbNodes:
    """NodeSource over TreeNode, fetching exactly the nodes a proof needs in one query per level."""

    def __init__(self, keys: Iterable[tuple[int, int]]) -> None:
        by_level: dict[int, set[int]] = {}
        for level, index in keys:
            by_level.setdefault(level, set()).add(index)
        self.nodes: dict[tuple[int, int], bytes] = {}
        for level, indexes in by_level.items():
            for index, h in TreeNode.objects.filter(level=level, index__in=indexes).values_list("index", "hash"):
                self.nodes[(level, index)] = bytes(h)

    def node(self, level: int, index: int) -> bytes:
        try:
            return self.nodes[(level, index)]
        except KeyError:
            raise LookupError(f"tree node ({level}, {index}) is missing from the database") from None


def latest_checkpoint() -> SignedCheckpoint | None:
    return SignedCheckpoint.objects.order_by("-tree_size", "-id").first()


def inclusion_for(seq: int, tree_size: int) -> list[bytes]:
    return inclusion_proof(DbNodes(nodes_for_inclusion(seq, tree_size)), seq, tree_size)


def consistency_for(old_size: int, new_size: int) -> list[bytes]:
    return consistency_proof(DbNodes(nodes_for_consistency(old_size, new_size)), old_size, new_size)


def root_at(size: int) -> bytes:
    from custody.engines.ledger import frontier_keys

    return root(DbNodes(frontier_keys(size)), size)


def export_bundle(seqs: Sequence[int], subject: dict[str, Any]) -> bytes:
    """A handover bundle for events `seqs`, proven against a checkpoint that covers them all."""
    events = list(LedgerEvent.objects.filter(seq__in=seqs).order_by("seq").values_list("seq", "body"))
    if len(events) != len(set(seqs)):
        missing = sorted(set(seqs) - {s for s, _ in events})
        raise RuleError(_("Events %(seqs)s are not in the ledger.") % {"seqs": missing}, rule="bundle")
    cp_row = latest_checkpoint()
    if cp_row is None or cp_row.tree_size <= max(seqs):
        cp_row = sign_now()
    assert cp_row is not None
    cp = checkpoint_of(cp_row)
    keys = [k for s, _ in events for k in nodes_for_inclusion(s, cp.tree_size)]
    return build_bundle(events=[(s, json.loads(b)) for s, b in events], tree=DbNodes(keys), checkpoint=cp,
                        private_key=signing_key(), subject=subject)


# ---------------------------------------------------------------- verification


@dataclass
class LedgerProblem:
    kind: str
    seq: int | None
    message: str


@dataclass
class LedgerVerification:
    size: int
    checkpoints: int
    problems: list[LedgerProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _name_event(seq: int | None, refs: dict[int, str]) -> str:
    return "" if seq is None or seq not in refs else f" [{refs[seq]}]"


def latest_visible_events(user: Any, n: int = 25) -> list[LedgerEvent]:
    """The user's n latest visible events, newest first: what restrict(LedgerEvent...).order_by("-seq")[:n]
    returns. That query makes SQLite read every visible person's events and sort them (0.5 s at the demo's
    95,000 events), so this reads the newest events by seq in widening windows and applies the same
    rule, that the user may see the person (LedgerEvent.access_q), through restrict() on the people."""
    from custody.core.access import restrict
    from custody.registry.models import Person

    window = n * 20
    while True:
        candidates = list(LedgerEvent.objects.order_by("-seq").values_list("pk", "person_id")[:window])
        people = set(restrict(Person.objects.filter(pk__in={pid for _pk, pid in candidates}), user)
                     .values_list("pk", flat=True))
        ids = [pk for pk, pid in candidates if pid in people][:n]
        if len(ids) == n or len(candidates) < window:
            break
        window *= 20
    return list(LedgerEvent.objects.filter(pk__in=ids).select_related("person", "facility", "custodian").order_by("-seq"))


def verify_ledger(progress: Callable[[str], None] | None = None, threads: int = 1) -> LedgerVerification:
    """Recompute everything from the database: each event's columns against its signed body, every
    leaf and node, every checkpoint signature and root. Problems are ordered, first event first."""
    say = progress or (lambda msg: None)
    say(_("reading events"))
    rows = list(
        LedgerEvent.objects.order_by("seq").values_list(
            "seq", "body", "kind", "person__ref", "facility__code", "custodian__code", "occurred_at", "recorded_at",
            "idempotency_id", "manifest", "recorded_by__username", "reason", "data", "id")
    )
    problems: list[LedgerProblem] = []
    bodies: list[bytes] = []
    seqs: list[int] = []
    first_listing: dict[str, int] = {}
    listed: set[tuple[int, str]] = set()
    say(_("checking %(n)s events against their signed bodies") % {"n": len(rows)})
    for seq, body, kind, pref, fcode, acode, occ, rec, idem, manifest, uname, reason, data, _pk in rows:
        bodies.append(body.encode("utf-8"))
        seqs.append(seq)
        try:
            doc = json.loads(body)
        except ValueError:
            problems.append(LedgerProblem("field", seq, f"event #{seq}: its signed body is not JSON"))
            continue
        for h in doc.get("attachments") or ():
            first_listing.setdefault(h, seq)
            listed.add((seq, h))
        columns = {
            "seq": seq, "kind": kind, "person": pref, "facility": fcode, "custodian": acode,
            "occurred_at": format_time(occ), "recorded_at": format_time(rec), "idempotency_id": idem,
            "reason": reason, "data": data, "recorded_by": uname or "system",
        }
        for name, value in columns.items():
            if doc.get(name) != value:
                problems.append(LedgerProblem(
                    "field", seq, f"event #{seq}: column '{name}' says {value!r} but the signed event says "
                                  f"{doc.get(name)!r}: the row was changed after it was appended"))
                break
        else:
            if (doc.get("data") or {}).get("manifest", "") != manifest:
                problems.append(LedgerProblem("field", seq, f"event #{seq}: column 'manifest' differs from the signed event"))
    say(_("rehashing attached files"))
    problems.extend(LedgerProblem("file", p.seq, p.message) for p in check_files(first_listing, listed))
    say(_("reading the stored tree"))
    levels: list[list[bytes]] = []
    for level, index, h in TreeNode.objects.order_by("level", "index").values_list("level", "index", "hash").iterator(chunk_size=20000):
        while len(levels) <= level:
            levels.append([])
        if index != len(levels[level]):
            problems.append(LedgerProblem("node", index << level if index > len(levels[level]) else None,
                                          f"tree node ({level}, {len(levels[level])}) is missing"))
            levels[level].extend([b""] * (index - len(levels[level])))
        levels[level].append(bytes(h))
    cps = [checkpoint_of(r) for r in SignedCheckpoint.objects.order_by("tree_size", "id")]
    say(_("recomputing the tree and checking %(n)s signed checkpoints") % {"n": len(cps)})
    report = verify_log(bodies, seqs=seqs, stored_levels=levels or [[]], checkpoints=cps,
                        public_key=signing_key().public_key(), threads=threads)
    for p in report.problems:
        problems.append(LedgerProblem(p.kind, p.index, p.message))
    head = LedgerHead.objects.filter(pk=1).first()
    if head is not None and head.size != len(bodies):
        problems.append(LedgerProblem("size", min(head.size, len(bodies)),
                                      f"the ledger head says {head.size} events, the table holds {len(bodies)}"))
    exact = {"field", "file", "gap", "order", "leaf", "node"}
    problems.sort(key=lambda p: (p.kind not in exact, p.seq is None, p.seq or 0))
    # Named only for the events with problems: formatting a name for every event cost as much as
    # checking it.
    wanted = {p.seq for p in problems}
    refs = {row[0]: f"{row[3]} {row[2]} {row[6]:%Y-%m-%d %H:%M}, row id {row[13]}" for row in rows if row[0] in wanted}
    for p in problems:
        p.message += _name_event(p.seq, refs) if p.kind in exact else ""
    return LedgerVerification(len(bodies), len(cps), problems)


# ---------------------------------------------------------------- projection rebuild


def replay() -> dict[int, State]:
    """The projection recomputed from the log alone, rules off (the log is the truth)."""
    states: dict[int, State] = {}
    fac_by_code: dict[str, int] | None = None
    qs = LedgerEvent.objects.order_by("seq").values_list(
        "seq", "kind", "person_id", "occurred_at", "facility_id", "custodian_id", "manifest", "data")
    for seq, kind, pid, occ, fid, aid, manifest, data in qs.iterator(chunk_size=5000):
        state = states.get(pid, State())
        to_id = None
        if data.get("to_facility"):
            if fac_by_code is None:
                from custody.registry.models import Facility

                fac_by_code = dict(Facility.objects.values_list("code", "id"))
            to_id = fac_by_code.get(data["to_facility"])
        expected = datetime.fromisoformat(data["expected_arrival"].replace("Z", "+00:00")) if data.get("expected_arrival") else None
        correction = None
        if kind == "correction":
            from custody.accounts.models import Agency
            from custody.registry.models import Facility

            correction = {}
            if "facility" in data:
                correction["facility_id"] = Facility.objects.filter(code=data["facility"]).values_list("id", flat=True).first()
            if "custodian" in data:
                correction["custodian_id"] = Agency.objects.filter(code=data["custodian"]).values_list("id", flat=True).first()
            if "status" in data:
                correction["status"] = data["status"]
        step = Step(kind, seq, occ, fid, aid, manifest, to_id, expected, str(data.get("block", "")), correction)
        states[pid] = transition(state, step)
    return states


def rebuild_projection(check_only: bool) -> list[str]:
    """Compare (and unless check_only, replace) the stored projection with the replayed one.
    Returns the differences found, each naming the person and the field."""
    from custody.registry.models import Person

    rebuilt = replay()
    diffs: list[str] = []
    stored = {r.person_id: r for r in CustodyState.objects.all()}
    refs = dict(Person.objects.values_list("pk", "ref"))
    for pid in sorted(set(rebuilt) | set(stored)):
        want = rebuilt.get(pid)
        have = _state_of(stored.get(pid)) if pid in stored else None
        if want != have:
            fields = [f for f in State.__dataclass_fields__ if getattr(want, f, None) != getattr(have, f, None)]
            diffs.append(f"{refs.get(pid, pid)}: {', '.join(fields)} differ (stored {_brief(have)}; from the log {_brief(want)})")
    people = Person.objects.filter(pk__in=rebuilt.keys()).values_list("pk", "current_facility_id", "current_custodian_id", "custody_status")
    for pid, fid, aid, status in people:
        s = rebuilt[pid]
        if (fid, aid, status) != (s.facility_id, s.custodian_id, s.status):
            diffs.append(f"{refs[pid]}: the registry's current facility/custodian/status differ from the log")
    if not check_only and diffs:
        with transaction.atomic():
            _lock_head()
            CustodyState.objects.all().delete()
            save_projection(set(rebuilt), rebuilt,
                            {(p, s.custodian_id) for p, s in rebuilt.items() if s.custodian_id is not None})
    return diffs


def _brief(s: State | None) -> str:
    return "none" if s is None else f"{s.status or '-'} facility={s.facility_id} custodian={s.custodian_id}"


# ---------------------------------------------------------------- headcounts and reconciliation


def headcounts_for(states: Any) -> dict[str, list[dict[str, Any]]]:
    """Headcounts from the projection (`states`: a CustodyState queryset, already restricted to the viewer)."""
    held = states.filter(status__in=["in_custody", "hospital", "at_court"])
    return {
        "by_facility": list(held.values("facility__code", "facility__name").annotate(n=Count("person")).order_by("facility__code")),
        "by_custodian": list(states.exclude(custodian=None).exclude(status__in=["released", "repatriated", "deceased"])
                             .values("custodian__code").annotate(n=Count("person")).order_by("custodian__code")),
        "by_status": list(states.values("status").annotate(n=Count("person")).order_by("status")),
    }


def headcounts() -> dict[str, list[dict[str, Any]]]:
    return headcounts_for(CustodyState.objects.all())


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


def expected_count(facility: Any, block: str = "") -> int:
    qs = CustodyState.objects.filter(facility=facility, status="in_custody")
    if block:
        qs = qs.filter(block=block)
    return qs.count()


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


def database_vendor() -> str:
    return connection.vendor


# ---------------------------------------------------------------- handovers (both sides confirm, person by person)


@action("ledger.handover_start", capability="change")
def do_create_handover(actor: Any, *, facility: Any, from_custodian: Any, to_custodian: Any, people: Iterable[Any],
                       manifest: str = "", reference: str = "") -> Any:
    """Open a handover: the holding agency, as the handing-over side, of every person on it. Both sides
    then confirm person by person (do_confirm_handover)."""
    from custody.core.access import restrict
    from custody.registry.models import Person

    from .models import Handover, HandoverItem

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

    from .models import Handover, HandoverItem, HandoverStatus

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


def handover_bundle(reference: str, user: Any = None) -> bytes:
    """The signed bundle of a handover's completed events. For a `user`, only the people that user may
    see: a bundle must not carry a person the page would not show (the CLI, run on the server, passes none)."""
    from custody.core.access import restrict

    from .models import Handover, HandoverItem

    h = Handover.objects.select_related("facility", "from_custodian", "to_custodian").get(reference=reference)
    items_qs = HandoverItem.objects.filter(handover=h)
    if user is not None:
        items_qs = restrict(items_qs, user)
    items = list(items_qs.select_related("person", "event"))
    seqs = [i.event.seq for i in items if i.event_id]
    if not seqs:
        raise RuleError(_("Handover %(ref)s has no completed confirmations yet.") % {"ref": reference}, rule="bundle")
    subject = {"kind": "handover", "reference": h.reference, "facility": h.facility.code, "from": h.from_custodian.code,
               "to": h.to_custodian.code, "manifest": h.manifest,
               "people": sorted(i.person.ref for i in items if i.event_id)}
    return export_bundle(seqs, subject)


def leaf_hash_of(body: str) -> bytes:
    return leaf_hash(body.encode("utf-8"))


# ---------------------------------------------------------------- delegations


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
    from .models import Delegation

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

    from .models import Delegation

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


# ---------------------------------------------------------------- verification requests


@action("ledger.verification_request", capability="approve")
def do_request_verification(actor: Any, trigger: str) -> tuple[Any, bool]:
    """Queue a verification of the whole log (or join the one waiting): (the run, whether it is new)."""
    from .integrity import request_verification

    run, created = request_verification(actor, trigger)
    audit_note(run, created=created, trigger=trigger)
    return run, created


@action("ledger.verify_now", capability="approve")
def do_verify_now(actor: Any, trigger: str) -> Any:
    """Verify the whole log in this process (the synchronous API, for small logs) and record the run."""
    from .integrity import verify_now

    run = verify_now(actor, trigger)
    audit_note(run, status=run.status, size=run.size)
    return run
