"""Verification of the whole log against its signed checkpoints, the projection replayed from the log,
and the actions that queue or run a recorded verification.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from custody.core.actions import action
from custody.core.actions import note as audit_note
from custody.engines.ledger import (
    verify_log,
)
from custody.engines.ledger.events import format_time

from ..files import check_files
from ..models import (
    CustodyState,
    LedgerEvent,
    LedgerHead,
    SignedCheckpoint,
    TreeNode,
)
from ..projection import State, Step, transition
from ..projection import save as save_projection
from ..signing import (
    checkpoint_of,
    signing_key,
)
from ._common import _lock_head, _state_of


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


@action("ledger.verification_request", capability="approve")
def do_request_verification(actor: Any, trigger: str) -> tuple[Any, bool]:
    """Queue a verification of the whole log (or join the one waiting): (the run, whether it is new)."""
    from ..integrity import request_verification

    run, created = request_verification(actor, trigger)
    audit_note(run, created=created, trigger=trigger)
    return run, created


@action("ledger.verify_now", capability="approve")
def do_verify_now(actor: Any, trigger: str) -> Any:
    """Verify the whole log in this process (the synchronous API, for small logs) and record the run."""
    from ..integrity import verify_now

    run = verify_now(actor, trigger)
    audit_note(run, status=run.status, size=run.size)
    return run
