"""Append: the only code that adds custody events to the log, through the one door (do_record_event,
do_record_events_bulk; record_event/record_events_bulk for code callers).

Append protocol, all in ONE database transaction (the action's):
  1. lock the LedgerHead row (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE);
  2. drop specs whose idempotency id is already in the log (a retry returns the first result);
  3. check the custodian rule (custody.ledger.authority) and the custody rules (custody.ledger.projection)
     against the projection, build each event's canonical JSON, hash it into the frontier (engine),
     collect the tree nodes it completes;
  4. insert events and nodes, store the projection and the registry Person's custody fields
     (custody.ledger.projection.save, their one writer),
     sign a checkpoint when N events or M minutes have passed, move the head.
A process killed anywhere in between leaves nothing: the transaction never commits, so no event
can exist without its place in the tree (tests/ledger/test_faults.py kills a real process to show it).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.actions import action
from custody.core.actions import note as audit_note
from custody.core.errors import NotFound, RuleError
from custody.engines.ledger import (
    Frontier,
    canonical_json,
    event_document,
    leaf_hash,
)
from custody.engines.ledger.events import format_time

from .. import authority
from ..models import (
    CustodyState,
    EventAttachment,
    LedgerEvent,
    SignedCheckpoint,
    TreeNode,
)
from ..projection import State, Step, check_handover, check_rules, transition
from ..projection import save as save_projection
from ..rows import db_time as _db_time
from ..rows import insert_rows as _insert_rows
from ..signing import (
    checkpoint_row,
    sign_now,
    signing_key,
    store_checkpoints,
)
from ..specs import EVENT_KINDS, EventSpec
from ._common import (
    BATCH,
    Recorded,
    _agency,
    _lock_head,
    _Lookups,
    _pk,
    _state_of,
    _unrestricted,
    _visible_facility,
    _visible_person,
)
from .discrepancies import raise_refused_arrival


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
        check_handover(state, step, sender=lk.user(spec.sending_officer), receiver=lk.user(spec.receiving_officer),
                       identity_check=spec.identity_check, person=person_ref, code=lk.acode)
    if spec.kind == "repatriated" and len(spec.country) != 2:
        raise RuleError(_("A repatriation names the country (ISO code of two letters)."), rule="country")
    if spec.kind == "correction":
        if spec.corrects is None or not spec.reason:
            raise RuleError(_("A correction names the event it corrects and gives a reason."), rule="correction")
        if not LedgerEvent.objects.filter(seq=spec.corrects).exists():
            raise RuleError(_("Event #%(seq)s does not exist.") % {"seq": spec.corrects}, rule="correction")
    names = {"facility": lk.fcode(step.facility_id) or "—", "current_facility": lk.fcode(state.facility_id) or ""}
    check_rules(state, step, person=person_ref, names=names)


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
