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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.core.errors import RuleError
from custody.engines.ledger import (
    Checkpoint,
    Frontier,
    build_bundle,
    canonical_json,
    event_document,
    inclusion_proof,
    key_id,
    leaf_hash,
    nodes_for_inclusion,
    sign_checkpoint,
    verify_log,
)
from custody.engines.ledger.events import format_time
from custody.engines.ledger.merkle import consistency_proof, nodes_for_consistency, root

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
from .specs import EVENT_KINDS, EventSpec

ORIGIN = "custody/ledger"
BATCH = 1000


# ---------------------------------------------------------------- signing key


@lru_cache(maxsize=4)
def _key_for(path: str) -> Ed25519PrivateKey:
    from custody.engines.ledger import load_or_create_private_key

    return load_or_create_private_key(Path(path))


def signing_key() -> Ed25519PrivateKey:
    return _key_for(str(settings.LEDGER_KEY_FILE))


def public_key_id() -> str:
    return key_id(signing_key().public_key())


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
    if spec.kind == "intake" and custodian_id is None and facility_id is not None:
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


def _append(specs: Sequence[EventSpec], user: Any, lk: _Lookups) -> _Batch:
    """Append within the caller's transaction (which holds the head lock). Raises RuleError on the first refusal."""
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
            batch.checkpoints.append(_checkpoint_row(key, frontier.size, frontier.root(), now))
            head.last_checkpoint_size, head.last_checkpoint_at = frontier.size, now

    if not batch.events:
        return batch
    _insert_events(batch.events)
    _insert_attachments(batch.attachments)
    if settings.LEDGER_FAULT_PAUSE_SECONDS:
        time.sleep(settings.LEDGER_FAULT_PAUSE_SECONDS)
    _insert_nodes(batch.nodes)
    _save_projection(touched, states, rows, custodians_ever)
    minutes = settings.LEDGER_CHECKPOINT_MINUTES
    if frontier.size > head.last_checkpoint_size and (
        head.last_checkpoint_at is None or now - head.last_checkpoint_at >= timedelta(minutes=minutes)
    ):
        batch.checkpoints.append(_checkpoint_row(key, frontier.size, frontier.root(), now))
        head.last_checkpoint_size, head.last_checkpoint_at = frontier.size, now
    SignedCheckpoint.objects.bulk_create(batch.checkpoints)
    head.size = frontier.size
    head.frontier = [h.hex() for h in frontier.nodes]
    head.save()
    return batch


_EVENT_COLUMNS = ["seq", "kind", "person_id", "occurred_at", "recorded_at", "facility_id", "custodian_id",
                  "recorded_by_id", "idempotency_id", "manifest", "reason", "data", "body"]


def _db_time(value: datetime) -> Any:
    if connection.vendor == "sqlite":
        # What Django's SQLite backend stores for an aware datetime: naive UTC text.
        return str(value.astimezone(UTC).replace(tzinfo=None))
    return value


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


def _insert_rows(head: str, width: int, rows: Sequence[tuple[Any, ...]], tail: str = "") -> None:
    """Multi-row INSERTs: one statement per few hundred rows. executemany sends one statement per row,
    which PostgreSQL parses and plans each time (about 0.1 ms each, more than the insert itself)."""
    if not rows:
        return
    limit = 999 if connection.vendor == "sqlite" else 20000  # bound parameters per statement
    per = max(1, limit // width)
    one = "(" + ", ".join(["%s"] * width) + ")"
    with connection.cursor() as cur:
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            cur.execute(f"{head} VALUES {', '.join([one] * len(chunk))}{tail}", [v for row in chunk for v in row])


def _checkpoint_row(key: Ed25519PrivateKey, size: int, root_hash: bytes, now: datetime) -> SignedCheckpoint:
    cp = sign_checkpoint(key, ORIGIN, size, root_hash, now)
    return SignedCheckpoint(tree_size=cp.tree_size, root_hash=cp.root_hash, timestamp=cp.timestamp,
                            key_id=cp.key_id, signature=cp.signature, origin=cp.origin)


def _save_projection(touched: set[int], states: dict[int, State], rows: dict[int, CustodyState],
                     custodians_ever: set[tuple[int, int]]) -> None:
    """Write the touched people's projection rows and registry custody fields.

    One upsert for the projection and one executemany for the registry: Django's bulk_update
    builds a CASE per field and row, which costs more than the append itself at batch sizes.
    """
    from custody.registry.models import Person

    cols = ["person_id", "status", "facility_id", "custodian_id", "block", "manifest", "manifest_from_id",
            "manifest_to_id", "expected_arrival", "departed", "last_seq", "last_event_at"]
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in cols[1:])
    rows = []
    for pid in touched:
        s = states[pid]
        rows.append((pid, s.status, s.facility_id, s.custodian_id, s.block, s.manifest, s.manifest_from_id,
                     s.manifest_to_id, _db_time(s.expected_arrival) if s.expected_arrival else None, s.departed,
                     s.last_seq, _db_time(s.last_event_at) if s.last_event_at else None))
    _insert_rows(f'INSERT INTO "{CustodyState._meta.db_table}" ({", ".join(cols)})', len(cols), rows,
                 f' ON CONFLICT ("person_id") DO UPDATE SET {updates}')
    table = Person._meta.db_table
    with connection.cursor() as cur:
        cur.executemany(
            f'UPDATE "{table}" SET current_facility_id = %s, current_custodian_id = %s, custody_status = %s '
            "WHERE id = %s AND (current_facility_id IS DISTINCT FROM %s OR current_custodian_id IS DISTINCT FROM %s "
            "OR custody_status <> %s)".replace("IS DISTINCT FROM", _distinct()),
            [(s.facility_id, s.custodian_id, s.status, pid, s.facility_id, s.custodian_id, s.status)
             for pid in touched for s in [states[pid]]],
        )
    if custodians_ever:
        through = Person.custodians_ever.through
        through.objects.bulk_create([through(person_id=p, agency_id=a) for p, a in custodians_ever],
                                    ignore_conflicts=True, batch_size=1000)


def _distinct() -> str:
    # SQLite spells SQL's IS DISTINCT FROM as IS NOT.
    return "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"


# ---------------------------------------------------------------- public append API


def record_event(spec: EventSpec, *, user: Any = None) -> Recorded:
    """Append one event. A RuleError names the rule; a retried idempotency id returns the first event."""
    lk = _Lookups()
    try:
        with transaction.atomic():
            batch = _append([spec], user, lk)
            result = batch.results[0]
            if result.created:
                # Inserted with raw SQL for speed: fetch the row so callers get its primary key.
                result = Recorded(LedgerEvent.objects.get(seq=result.event.seq), True)
    except RuleError:
        if spec.kind == "arrived":
            _raise_arrival_without_departure(spec, lk)
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


def record_events_bulk(specs: Iterable[EventSpec], user: Any = None,
                       progress: Callable[[int, int], None] | None = None, batch_size: int = BATCH) -> int:
    """Append many events, `batch_size` to a transaction, then sign a checkpoint over them. Returns the
    number of new events. A refused spec raises RuleError (its batch is rolled back; earlier batches
    stay). Give it the whole load at once: each call ends with one signature."""
    specs = list(specs)
    lk = _Lookups()
    lk.load_facilities({_pk(x) for s in specs for x in (s.facility, s.to_facility)})
    created = 0
    for start in range(0, len(specs), batch_size):
        with transaction.atomic():
            batch = _append(specs[start : start + batch_size], user, lk)
        created += len(batch.events)
        if progress is not None:
            progress(min(start + batch_size, len(specs)), len(specs))
    if created:
        # A bulk load (an import's intake, the demo's histories) ends signed: none of it waits for
        # the next append or the housekeeping task to be covered by a checkpoint.
        sign_now()
    return created


def sign_now() -> SignedCheckpoint | None:
    """A checkpoint at the current size (for bundles and `custody ledger checkpoint`), unless one exists."""
    with transaction.atomic():
        head = _lock_head()
        last = SignedCheckpoint.objects.order_by("-tree_size", "-id").first()
        if head.size == 0:
            return None
        if last is not None and last.tree_size == head.size:
            return last
        frontier = Frontier(head.size, [bytes.fromhex(h) for h in head.frontier])
        now = timezone.now()
        row = _checkpoint_row(signing_key(), head.size, frontier.root(), now)
        row.save()
        head.last_checkpoint_size, head.last_checkpoint_at = head.size, now
        head.save()
        return row


def sign_if_due(now: datetime | None = None) -> SignedCheckpoint | None:
    """The time half of "a checkpoint every N events or M minutes": appends sign every N events and,
    when they come, after M minutes; this signs events that have waited M minutes with no append after
    them (a quiet night must not leave the evening's events unsigned). None when nothing is due."""
    now = now or timezone.now()
    head = LedgerHead.objects.filter(pk=1).first()
    if head is None or head.size <= head.last_checkpoint_size:
        return None
    since = head.last_checkpoint_at
    if since is not None and now - since < timedelta(minutes=settings.LEDGER_CHECKPOINT_MINUTES):
        return None
    return sign_now()


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


def checkpoint_of(row: SignedCheckpoint) -> Checkpoint:
    return Checkpoint(row.origin, row.tree_size, bytes(row.root_hash), row.timestamp, row.key_id, bytes(row.signature))


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
            _save_projection(set(rebuilt), rebuilt, {},
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


def record_roll_call(*, facility: Any, counted: int, user: Any, block: str = "", note: str = "",
                     taken_at: datetime | None = None) -> tuple[RollCall, Discrepancy | None]:
    if counted < 0:
        raise RuleError(_("A count cannot be negative."), rule="roll_call")
    expected = expected_count(facility, block)
    rc = RollCall.objects.create(facility=facility, block=block, counted=counted, expected=expected,
                                 taken_at=taken_at or timezone.now(), taken_by=user, note=note)
    disc = None
    if counted != expected:
        where = facility.code + (f" / {block}" if block else "")
        disc = _raise(DiscrepancyKind.ROLL_CALL, f"roll_call:{rc.pk}", facility=facility, expected=expected, counted=counted,
                      details=_("Roll call at %(where)s counted %(counted)s; the ledger says %(expected)s.")
                      % {"where": where, "counted": counted, "expected": expected})
    return rc, disc


def resolve_discrepancy(d: Discrepancy, *, user: Any, resolution: str) -> Discrepancy:
    if d.resolved_at is not None:
        raise RuleError(_("This discrepancy was already resolved."), rule="discrepancy")
    if not resolution.strip():
        raise RuleError(_("A resolution must say what was found and done."), rule="discrepancy")
    d.resolved_at, d.resolved_by, d.resolution = timezone.now(), user, resolution.strip()
    d.save(update_fields=["resolved_at", "resolved_by", "resolution"])
    return d


def database_vendor() -> str:
    return connection.vendor


# ---------------------------------------------------------------- handovers (both sides confirm, person by person)


def create_handover(*, facility: Any, from_custodian: Any, to_custodian: Any, people: Iterable[Any], user: Any,
                    manifest: str = "", reference: str = "") -> Any:
    from .models import Handover, HandoverItem

    if _pk(from_custodian) == _pk(to_custodian):
        raise RuleError(_("A handover is between two different authorities."), rule="handover")
    with transaction.atomic():
        h = Handover.objects.create(
            reference=reference or f"H-{timezone.now():%Y%m%d}-{uuid.uuid4().hex[:6].upper()}", facility=facility,
            from_custodian=from_custodian, to_custodian=to_custodian, manifest=manifest, created_by=user)
        HandoverItem.objects.bulk_create([HandoverItem(handover=h, person_id=_pk(p)) for p in people])
    return h


def wristbands_of(person_id: int) -> set[str]:
    from custody.registry.models import Identifier

    return set(Identifier.objects.filter(person_id=person_id, kind="wristband").values_list("value_norm", flat=True))


def confirm_handover_item(item: Any, *, user: Any, side: str, wristband: str, identity_check: str = "") -> Recorded | None:
    """One side confirms one person. When both sides have, the handed_over event is appended (and a
    refusal by the rules leaves the confirmations recorded and names the rule). Returns the event, if any."""
    from custody.registry.models import Identifier

    from .models import HandoverItem, HandoverStatus

    h = item.handover
    if h.status != HandoverStatus.OPEN or item.event_id:
        raise RuleError(_("This person's handover is already complete."), rule="handover")
    agency = h.from_custodian if side == "send" else h.to_custodian
    if user.agency_id != agency.pk:
        raise RuleError(_("Rule 'each side confirms for itself': %(user)s is not of %(agency)s, the %(side)s side.")
                        % {"user": user.username, "agency": agency.code,
                           "side": _("sending") if side == "send" else _("receiving")}, rule="handover")
    typed = Identifier.normalise(wristband)
    known = wristbands_of(item.person_id)
    if not typed or (known and typed not in known):
        raise RuleError(_("Rule 'wristband checked': the wristband %(typed)s does not belong to %(person)s.")
                        % {"typed": wristband or "—", "person": item.person.ref}, rule="wristband")
    now = timezone.now()
    with transaction.atomic():
        item = HandoverItem.objects.select_for_update().get(pk=item.pk)
        if side == "send":
            item.sender_confirmed_by, item.sender_confirmed_at, item.sender_wristband = user, now, typed
        else:
            if identity_check not in {"match", "no_match", "not_checked"}:
                raise RuleError(_("The receiving side records the identity check result."), rule="identity")
            item.receiver_confirmed_by, item.receiver_confirmed_at = user, now
            item.receiver_wristband, item.identity_check = typed, identity_check
        item.save()
    if not (item.sender_confirmed_by_id and item.receiver_confirmed_by_id):
        return None
    spec = EventSpec("handed_over", item.person_id, now, facility=h.facility_id, custodian=h.to_custodian_id,
                     sending_officer=item.sender_confirmed_by_id, receiving_officer=item.receiver_confirmed_by_id,
                     identity_check=item.identity_check, wristband=item.receiver_wristband, manifest=h.manifest,
                     reason=_("handover %(ref)s") % {"ref": h.reference},
                     idempotency_id=f"handover-{h.pk}-{item.person_id}")
    rec = record_event(spec, user=user)
    with transaction.atomic():
        HandoverItem.objects.filter(pk=item.pk).update(event=rec.event)
        if not HandoverItem.objects.filter(handover=h, event__isnull=True).exists():
            type(h).objects.filter(pk=h.pk).update(status=HandoverStatus.COMPLETED)
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
