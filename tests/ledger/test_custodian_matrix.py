"""The custodian rule as a full matrix: every ledger write route (page, API, CLI) x every demo role of
every agency, on a person held by SDF, one held by IRQ and one in transit held by MIL.

The expected answers are the table below, written by hand from the rule as docs/security.md states it
("The custodian rule"), not derived from the code. For each cell the test checks what the issue asks:
an allowed write produces exactly one audit row naming the acting user; a refused one changes nothing
and is audited, once, as denied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import transaction

AGENCIES = ["CIO", "MIL", "MFA", "FBI", "IRQ", "SDF", "HUM"]
ROLES = ["viewer", "clerk", "analyst", "supervisor", "administrator"]

# Who may write what. Each cell is the lowest role of that agency allowed ("-": no role of the agency).
# P-SDF is held by SDF at HSK (an SDF prison); P-IRQ by IRQ at BIAP (an IRQ receiving facility); P-MIL has
# left HSK on manifest M-1 for BIAP and is held in transit by MIL. Handovers: P-SDF from SDF to MIL,
# P-IRQ from IRQ to MIL, P-MIL from MIL to IRQ. The delegation revoked is SDF's to HUM.
TABLE = """
write             target   CIO         MIL         MFA         FBI         IRQ         SDF         HUM
record            P-SDF    -           -           -           -           -           clerk       -
record            P-IRQ    -           -           -           -           clerk       -           -
record            P-MIL    -           clerk       -           -           -           -           -
arrival           P-MIL    -           -           -           -           clerk       -           -
handover-start    P-SDF    -           -           -           -           -           clerk       -
handover-start    P-IRQ    -           -           -           -           clerk       -           -
handover-start    P-MIL    -           clerk       -           -           -           -           -
handover-send     P-SDF    -           -           -           -           -           clerk       -
handover-send     P-IRQ    -           -           -           -           clerk       -           -
handover-send     P-MIL    -           clerk       -           -           -           -           -
handover-receive  P-SDF    -           clerk       -           -           -           -           -
handover-receive  P-IRQ    -           clerk       -           -           -           -           -
handover-receive  P-MIL    -           -           -           -           clerk       -           -
roll-call         HSK      -           -           -           -           -           clerk       -
roll-call         BIAP     -           -           -           -           clerk       -           -
resolve           HSK      -           -           -           -           -           supervisor  -
resolve           BIAP     -           -           -           -           supervisor  -           -
reconcile         -        clerk       clerk       clerk       clerk       clerk       clerk       clerk
verify            -        supervisor  supervisor  supervisor  supervisor  supervisor  supervisor  supervisor
delegate          -        -           supervisor  -           -           supervisor  supervisor  -
revoke            SDF>HUM  -           -           -           -           -           supervisor  -
upload            -        clerk       clerk       clerk       clerk       clerk       clerk       clerk
"""


def _table() -> dict[tuple[str, str], dict[str, str]]:
    lines = [line.split() for line in TABLE.strip().splitlines()]
    header = lines[0][2:]
    assert header == AGENCIES
    return {(row[0], row[1]): dict(zip(AGENCIES, row[2:], strict=True)) for row in lines[1:]}


EXPECTED = _table()


def allowed(write: str, target: str, agency: str, role: str) -> bool:
    lowest = EXPECTED[(write, target)][agency]
    return lowest != "-" and ROLES.index(role) >= ROLES.index(lowest)


# The kind each person's holder records on the record routes (the examples: a death, a release,
# an escape recorded by someone else).
RECORD_KIND = {"P-SDF": "died", "P-IRQ": "released", "P-MIL": "escaped"}
HANDOVER = {"P-SDF": ("HSK", "SDF", "MIL"), "P-IRQ": ("BIAP", "IRQ", "MIL"), "P-MIL": ("BIAP", "MIL", "IRQ")}
ORDER = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
WHEN = "2026-01-06T08:00:00+00:00"

ROUTES: list[tuple[str, str, str]] = (
    [("record", t, door) for t in ("P-SDF", "P-IRQ", "P-MIL") for door in ("page", "api", "cli", "page+file", "cli+file")]
    + [("arrival", "P-MIL", door) for door in ("page", "api", "cli")]
    + [(w, t, door) for w in ("handover-start", "handover-send", "handover-receive")
       for t in ("P-SDF", "P-IRQ", "P-MIL") for door in ("page", "api", "cli")]
    + [(w, t, door) for w in ("roll-call", "resolve") for t in ("HSK", "BIAP") for door in ("page", "api", "cli")]
    + [("reconcile", "-", door) for door in ("api", "cli")]
    + [("verify", "-", door) for door in ("page", "api", "api-now")]
    + [("delegate", "-", door) for door in ("page", "api", "cli")]
    + [("revoke", "SDF>HUM", door) for door in ("page", "api", "cli")]
    + [("upload", "-", "api")]
)


@dataclass
class World:
    users: dict[tuple[str, str], Any]
    people: dict[str, Any]
    handovers: dict[str, Any]
    discrepancies: dict[str, Any]
    delegation: Any


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _build(write: str, make_user: Any, facility_factory: Any, person_factory: Any) -> World:
    from custody.ledger import services
    from custody.ledger.specs import EventSpec
    from custody.registry.models import Identifier

    users = {(a, r): make_user(a, r) for a in AGENCIES for r in ROLES}
    hsk = facility_factory("HSK", custodian="SDF", kind="prison")
    biap = facility_factory("BIAP", custodian="IRQ", kind="receiving", country="IQ")
    t0 = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
    people = {}
    for ref in ("P-SDF", "P-IRQ", "P-MIL"):
        p = person_factory(ref=ref)
        Identifier.objects.create(person=p, kind="wristband", value=f"WB-{ref}")
        people[ref] = p
    # The histories are loaded as the demo loader loads them (code, no user: the system actor).
    services.record_event(EventSpec("intake", people["P-SDF"], t0, facility=hsk))
    services.record_event(EventSpec("intake", people["P-IRQ"], t0, facility=biap))
    m = people["P-MIL"]
    services.record_event(EventSpec("intake", m, t0, facility=hsk))
    services.record_event(EventSpec("manifested", m, t0 + timedelta(minutes=10), manifest="M-1", to_facility=biap,
                                    expected_arrival=t0 + timedelta(days=3)))
    services.record_event(EventSpec("handed_over", m, t0 + timedelta(minutes=20), custodian=users[("MIL", "clerk")].agency,
                                    sending_officer=users[("SDF", "clerk")], receiving_officer=users[("MIL", "clerk")],
                                    identity_check="match"))
    services.record_event(EventSpec("departed", m, t0 + timedelta(minutes=30), facility=hsk, manifest="M-1"))
    handovers, discrepancies, delegation = {}, {}, None
    if write in ("handover-send", "handover-receive"):
        for ref, (fac, frm, to) in HANDOVER.items():
            handovers[ref] = services.do_create_handover(users[(frm, "clerk")], facility=fac, from_custodian=frm,
                                                         to_custodian=to, people=[ref], manifest="")
    if write == "resolve":
        for code, agency in (("HSK", "SDF"), ("BIAP", "IRQ")):
            _rc, disc = services.do_record_roll_call(users[(agency, "clerk")], facility=code, counted=99)
            discrepancies[code] = disc
    if write == "revoke":
        delegation = services.do_delegate(users[("SDF", "supervisor")], to_agency="HUM", facility=None,
                                          valid_from=date(2026, 1, 1), valid_until=None, reason="observers count at HSK")
    return World(users, people, handovers, discrepancies, delegation)


def _fingerprint() -> tuple[Any, ...]:
    """Everything a ledger write could change: a refused write must leave every part of it as it was."""
    from django_tasks_db.models import DBTaskResult

    from custody.core.models import HistoryChange
    from custody.ledger.models import CustodyState, Delegation, EventFile, LedgerEvent, VerificationRun
    from custody.registry.models import Person

    return (
        HistoryChange.objects.count(), LedgerEvent.objects.count(), EventFile.objects.count(),
        VerificationRun.objects.count(), DBTaskResult.objects.count(), Delegation.objects.count(),
        sorted(CustodyState.objects.values_list("person_id", "status", "facility_id", "custodian_id", "manifest")),
        sorted(Person.objects.values_list("pk", "current_facility_id", "current_custodian_id", "custody_status")),
    )


def _cli(*args: str) -> None:
    call_command("ledger", *args, stdout=StringIO(), stderr=StringIO())


def _attempt(write: str, target: str, door: str, user: Any, w: World, page: Any, api: Any) -> bool:
    """Make the write as `user` through `door` (`page`/`api`: the user's signed-in clients); True when the
    door answered success, False when it refused."""
    name = user.username

    def page_ok(response: Any) -> bool:
        assert response.status_code in (302, 403, 404), (response.status_code, response.content[:300])
        return response.status_code == 302

    def api_ok(response: Any) -> bool:
        assert response.status_code in (200, 201, 202, 403, 404), (response.status_code, response.content[:300])
        return response.status_code < 300

    def cli_ok(*args: str) -> bool:
        try:
            _cli(*args, "--as", name)
        except CommandError as exc:
            assert exc.returncode in (3, 4), (exc.returncode, str(exc))
            return False
        return True

    if write in ("record", "arrival"):
        kind = RECORD_KIND[target] if write == "record" else "arrived"
        extra = {"facility": "BIAP", "manifest": "M-1"} if write == "arrival" else {}
        idem = f"matrix-{name}-{door}"
        if door.startswith("page"):
            form = {"person": target, "kind": kind, "occurred_at": WHEN[:16], "idempotency_id": idem, **extra}
            if door == "page+file":
                form["files"] = [SimpleUploadedFile("order.pdf", ORDER)]
            return page_ok(page.post("/ledger/record/", form))
        if door == "api":
            return api_ok(api.post("/api/ledger/events/", {"kind": kind, "person": target, "occurred_at": WHEN,
                                                            "idempotency_id": idem, **extra}, format="json"))
        args = ["record", kind, target, "--at", WHEN, "--idempotency-id", idem]
        for key, value in extra.items():
            args += [f"--{key}", value]
        if door == "cli+file":
            from django.conf import settings

            attach = Path(settings.MEDIA_ROOT).parent / f"{target}.pdf"  # the test's tmp_path
            attach.write_bytes(ORDER)
            args += ["--attach", str(attach)]
        return cli_ok(*args)
    if write == "handover-start":
        fac, frm, to = HANDOVER[target]
        if door == "page":
            return page_ok(page.post("/ledger/handovers/", {"facility": fac, "from_custodian": frm, "to_custodian": to,
                                                            "people": target, "manifest": ""}))
        if door == "api":
            return api_ok(api.post("/api/ledger/handovers/", {"facility": fac, "from": frm, "to": to, "people": [target]},
                                   format="json"))
        return cli_ok("handover-start", fac, "--from", frm, "--to", to, "--people", target)
    if write in ("handover-send", "handover-receive"):
        h = w.handovers[target]
        side = "send" if write == "handover-send" else "receive"
        fields = {"side": side, "wristband": f"WB-{target}", "identity_check": "match" if side == "receive" else ""}
        if door == "page":
            item = h.items.get()
            return page_ok(page.post(f"/ledger/handovers/{h.reference}/confirm/{item.pk}/", fields))
        if door == "api":
            return api_ok(api.post(f"/api/ledger/handovers/{h.reference}/confirm/", {"person": target, **fields},
                                   format="json"))
        args = ["handover-confirm", h.reference, target, "--side", side, "--wristband", f"WB-{target}"]
        if side == "receive":
            args += ["--identity-check", "match"]
        return cli_ok(*args)
    if write == "roll-call":
        if door == "page":
            return page_ok(page.post(f"/ledger/facilities/{target}/roll-call/", {"counted": "1", "block": ""}))
        if door == "api":
            return api_ok(api.post("/api/ledger/roll-calls/", {"facility": target, "counted": 1}, format="json"))
        return cli_ok("roll-call", target, "1")
    if write == "resolve":
        d = w.discrepancies[target]
        text = "Recounted with the guard commander; the first count missed a cell."
        if door == "page":
            return page_ok(page.post(f"/ledger/discrepancies/{d.pk}/resolve/", {"resolution": text}))
        if door == "api":
            return api_ok(api.post(f"/api/ledger/discrepancies/{d.pk}/resolve/", {"resolution": text}, format="json"))
        return cli_ok("resolve", str(d.pk), "--resolution", text)
    if write == "reconcile":
        if door == "api":
            return api_ok(api.post("/api/ledger/discrepancies/reconcile/", {}, format="json"))
        return cli_ok("reconcile")
    if write == "verify":
        if door == "page":
            return page_ok(page.post("/ledger/verify/"))
        if door == "api":
            return api_ok(api.post("/api/ledger/verifications/", {}, format="json"))
        return api_ok(api.post("/api/ledger/verify/", {}, format="json"))
    if write == "delegate":
        fields = {"to_agency": "HUM", "facility": "HSK", "valid_from": "2026-01-01", "valid_until": "2026-12-31",
                  "reason": "The observers record the count while our clerks are away."}
        if door == "page":
            return page_ok(page.post("/ledger/delegations/", fields))
        if door == "api":
            return api_ok(api.post("/api/ledger/delegations/", fields, format="json"))
        return cli_ok("delegate", "HUM", "--facility", "HSK", "--from-date", "2026-01-01", "--until", "2026-12-31",
                      "--reason", fields["reason"])
    if write == "revoke":
        pk = w.delegation.pk
        reason = "Our clerks are back."
        if door == "page":
            return page_ok(page.post(f"/ledger/delegations/{pk}/revoke/", {"reason": reason}))
        if door == "api":
            return api_ok(api.post(f"/api/ledger/delegations/{pk}/revoke/", {"reason": reason}, format="json"))
        return cli_ok("revoke-delegation", str(pk), "--reason", reason)
    if write == "upload":
        data = ORDER + name.encode()  # new bytes for each user: a first upload, not a retry
        return api_ok(api.post("/api/ledger/files/", {"file": SimpleUploadedFile("order.pdf", data)}, format="multipart"))
    raise AssertionError(f"no route {write} {door}")


@pytest.mark.parametrize(("write", "target", "door"), ROUTES, ids=["-".join(r) for r in ROUTES])
def test_the_custodian_rule(write: str, target: str, door: str, make_user: Any, facility_factory: Any,
                            person_factory: Any, client_for: Any, api_for: Any) -> None:
    from custody.core.models import AuditEvent

    w = _build(write, make_user, facility_factory, person_factory)
    wrong: list[str] = []
    for agency in AGENCIES:
        for role in ROLES:
            user = w.users[(agency, role)]
            expect = allowed(write, target, agency, role)
            savepoint = transaction.savepoint()
            try:
                # Signing in writes the user's last login (a tracked change): before the fingerprint.
                page = client_for(user) if door.startswith("page") else None
                api = api_for(user) if door.startswith("api") else None
                last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
                before = _fingerprint()
                ok = _attempt(write, target, door, user, w, page, api)
                rows = list(AuditEvent.objects.filter(id__gt=last).values_list("action", "outcome", "user_id"))
                cell = f"{agency}.{role}: expected {'allow' if expect else 'refuse'}"
                if ok != expect:
                    wrong.append(f"{cell}, the door answered {'success' if ok else 'refusal'}; audit {rows}")
                elif expect and (len(rows) != 1 or rows[0][1] != "ok" or rows[0][2] != user.pk
                                 or not rows[0][0].startswith("ledger.")):
                    wrong.append(f"{cell}, allowed, but the audit rows are {rows} (want one ok row of the user)")
                elif not expect and (len(rows) != 1 or rows[0][1] != "denied" or rows[0][2] != user.pk):
                    wrong.append(f"{cell}, refused, but the audit rows are {rows} (want one denied row of the user)")
                elif not expect and _fingerprint() != before:
                    wrong.append(f"{cell}, refused, but something changed")
                elif expect and _fingerprint() == before:
                    wrong.append(f"{cell}, allowed, but nothing changed")
            finally:
                transaction.savepoint_rollback(savepoint)
    assert not wrong, f"{write} {target} via {door}:\n" + "\n".join(wrong)


def test_the_table_says_who_holds_whom(make_user: Any, facility_factory: Any, person_factory: Any) -> None:
    """The world the table describes is the world built: each person held by the agency the table says."""
    from custody.ledger.models import CustodyState

    w = _build("record", make_user, facility_factory, person_factory)
    held = {s.person.ref: (s.custodian.code, s.status) for s in CustodyState.objects.select_related("person", "custodian")}
    assert held == {"P-SDF": ("SDF", "in_custody"), "P-IRQ": ("IRQ", "in_custody"), "P-MIL": ("MIL", "in_transit")}
    assert len(w.users) == len(AGENCIES) * len(ROLES)
