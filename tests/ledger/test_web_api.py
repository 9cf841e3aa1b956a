"""Pages and API, through HTTP, and the offline bundle command with no database."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from custody.engines.ledger import Checkpoint, leaf_hash, verify_bundle, verify_inclusion
from custody.ledger.models import Discrepancy, LedgerEvent
from custody.registry.models import Identifier

from .conftest import at

ROOT = Path(__file__).resolve().parents[2]


def test_pages_render_for_a_clerk(world: dict[str, Any], person_factory: Any, transfer: Any, client_for: Any) -> None:
    p = person_factory()
    transfer(p)
    c = client_for(world["irq"])
    for url in ["/ledger/", f"/ledger/people/{p.ref}/", "/ledger/facilities/BIAP/", "/ledger/discrepancies/",
                "/ledger/handovers/", "/ledger/record/", "/ledger/status/"]:
        r = c.get(url)
        assert r.status_code == 200, url
    r = c.get(f"/ledger/people/{p.ref}/")
    assert b"Handed over" in r.content and b"BIAP" in r.content
    ar = c.get(f"/ar/ledger/people/{p.ref}/")
    assert ar.status_code == 200 and b'dir="rtl"' in ar.content


def test_a_viewer_cannot_record(world: dict[str, Any], make_user: Any, client_for: Any, person_factory: Any) -> None:
    p = person_factory()
    viewer = make_user("IRQ", "viewer")
    r = client_for(viewer).post("/ledger/record/", {"person": p.ref, "kind": "intake", "facility": "BIAP"})
    assert r.status_code == 403
    assert not LedgerEvent.objects.exists()


def test_handover_screen_both_sides_then_bundle_verifies_offline(world: dict[str, Any], person_factory: Any,
                                                                  client_for: Any, tmp_path: Path) -> None:
    from custody.ledger.services import public_key_id, record_event
    from custody.ledger.specs import EventSpec

    people = [person_factory() for _ in range(2)]
    for i, p in enumerate(people):
        Identifier.objects.create(person=p, kind="wristband", value=f"WB-{i}")
        record_event(EventSpec("intake", p, at(i), facility=world["prison"]))
    sdf, mil = client_for(world["sdf"]), client_for(world["mil"])
    r = sdf.post("/ledger/handovers/", {"facility": "HSK", "from_custodian": "SDF", "to_custodian": "MIL",
                                        "people": " ".join(p.ref for p in people), "manifest": "M-7"})
    assert r.status_code == 302
    url = r["Location"]
    ref = url.rstrip("/").rsplit("/", 1)[-1]
    page = sdf.get(url)
    assert page.status_code == 200 and b"Wristband" in page.content
    from custody.ledger.models import Handover

    items = list(Handover.objects.get(reference=ref).items.order_by("id"))
    # Wrong wristband: refused, with the rule named.
    r = sdf.post(f"/ledger/handovers/{ref}/confirm/{items[0].pk}/", {"side": "send", "wristband": "WB-9"}, follow=True)
    assert "wristband checked" in r.content.decode()
    for i, item in enumerate(items):
        sdf.post(f"/ledger/handovers/{ref}/confirm/{item.pk}/", {"side": "send", "wristband": f"wb {i}"})
        assert not LedgerEvent.objects.filter(kind="handed_over").exists() or i == 1
        mil.post(f"/ledger/handovers/{ref}/confirm/{item.pk}/", {"side": "receive", "wristband": f"WB-{i}",
                                                                  "identity_check": "match"})
    assert LedgerEvent.objects.filter(kind="handed_over").count() == 2
    assert Handover.objects.get(reference=ref).status == "completed"
    r = sdf.get(f"/ledger/handovers/{ref}/bundle/")
    assert r.status_code == 200
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(r.content)
    report = verify_bundle(r.content, trusted_key_ids=[public_key_id()])
    assert report.ok and sorted(report.subject["people"]) == sorted(p.ref for p in people)

    # The partner's command, with no database at all: DATABASE_URL names a file that does not exist.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'nowhere' / 'none.sqlite3'}",
           "CUSTODY_VAR_DIR": str(tmp_path / "var")}
    cmd = [sys.executable, "-m", "custody", "ledger", "verify-bundle", str(bundle), "--key-id", public_key_id()]
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    assert "VERIFIED" in ok.stdout and "handed_over" in ok.stdout
    assert not (tmp_path / "nowhere").exists()
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    bundle.write_bytes(bytes(data))
    ko = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert ko.returncode == 1 and "REJECTED" in ko.stdout


def test_api_record_retry_rule_and_proof(world: dict[str, Any], person_factory: Any, api_for: Any) -> None:
    p = person_factory()
    api = api_for(world["irq"])
    body = {"kind": "intake", "person": p.ref, "occurred_at": "2026-01-05T06:00:00Z", "facility": "BIAP",
            "idempotency_id": "tablet-7-000123"}
    first = api.post("/api/ledger/events/", body, format="json")
    assert first.status_code == 201, first.content
    again = api.post("/api/ledger/events/", body, format="json")
    assert again.status_code == 200 and again.json()["seq"] == first.json()["seq"]
    bad = api.post("/api/ledger/events/", {"kind": "departed", "person": p.ref, "occurred_at": "2026-01-05T07:00:00Z",
                                           "facility": "HSK", "manifest": "M-1"}, format="json")
    assert bad.status_code == 409 and "no departure from a facility" in bad.json()["detail"]
    seq = first.json()["seq"]
    proof = api.get(f"/api/ledger/events/{seq}/proof/").json()
    cp = Checkpoint.from_json(proof["checkpoint"])
    leaf = leaf_hash(LedgerEvent.objects.get(seq=seq).body.encode())
    assert verify_inclusion(leaf, seq, cp.tree_size, [base64.b64decode(h) for h in proof["inclusion_proof"]], cp.root_hash)
    counts = api.get("/api/ledger/headcounts/").json()
    assert counts["by_facility"][0]["n"] == 1


def test_reconciliation_raises_and_resolution_is_recorded(world: dict[str, Any], person_factory: Any,
                                                           api_for: Any, client_for: Any, make_user: Any) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    p = person_factory()
    record_event(EventSpec("intake", p, at(0), facility=world["prison"]))
    record_event(EventSpec("manifested", p, at(1), manifest="M-5", to_facility=world["biap"], expected_arrival=at(60)))
    c = client_for(world["sup"])
    r = c.get("/ledger/discrepancies/")
    assert "has not arrived" in r.content.decode()
    d = Discrepancy.objects.get(kind="not_arrived")
    # Resolved by a supervisor of the agency operating the facility expected to receive the person (IRQ, BIAP).
    assert c.post(f"/ledger/discrepancies/{d.pk}/resolve/", {"resolution": "weather"}).status_code == 403
    irq_sup = make_user("IRQ", "supervisor")
    client_for(irq_sup).post(f"/ledger/discrepancies/{d.pk}/resolve/", {"resolution": "Sortie cancelled for weather; rescheduled."})
    d.refresh_from_db()
    assert d.resolved_by == irq_sup and "weather" in d.resolution
    # A roll call that differs from the ledger raises one too.
    r = api_for(world["sdf"]).post("/api/ledger/roll-calls/", {"facility": "HSK", "counted": 3}, format="json")
    assert r.status_code == 201 and r.json()["expected"] == 1 and r.json()["discrepancy"]
    # An arrival nobody departed is refused and raised.
    q = person_factory()
    record_event(EventSpec("intake", q, at(0), facility=world["prison"]))
    bad = api_for(world["irq"]).post("/api/ledger/events/", {"kind": "arrived", "person": q.ref, "facility": "BIAP",
                                                             "manifest": "M-99", "occurred_at": "2026-01-05T09:00:00Z"},
                                     format="json")
    assert bad.status_code == 409
    assert Discrepancy.objects.filter(kind="arrival_without_departure", person=q, resolved_at=None).exists()


def test_latest_visible_events_equal_the_restricted_query_for_every_kind_of_user(
        world: dict[str, Any], person_factory: Any, transfer: Any, make_user: Any) -> None:
    from custody.core.access import restrict
    from custody.ledger.services import latest_visible_events

    # The last 24 events are about secret people: a low-clearance user's newest visible event lies
    # beyond the first window, so the windows must widen.
    for i in range(10):
        transfer(person_factory(classification=3 if i % 3 == 0 or i >= 6 else 1), manifest=f"M-{i}", start=i * 200)
    users = [world["sup"], world["sdf"], world["irq"], make_user("HUM", "viewer"), make_user("CIO", "viewer", clearance=1)]
    for user in users:
        for n in (1, 5, 25, 100):
            want = list(restrict(LedgerEvent.objects.all(), user).order_by("-seq")[:n])
            assert latest_visible_events(user, n) == want, (user.username, n)
