"""Files attached to custody events, through the page, the API and the CLI: kept under their SHA-256,
listed in the event's signed body, shown on the timeline, served only to whoever may see the event,
and rehashed by `custody ledger verify`, which names a file changed or lost on disk."""

from __future__ import annotations

import hashlib
import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from custody.core.models import AuditEvent
from custody.ledger.models import EventAttachment, EventFile, LedgerEvent
from custody.ledger.services import verify_ledger

from .conftest import at

ORDER = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
ORDER_SHA = hashlib.sha256(ORDER).hexdigest()


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def _record_with_file(client: Any, person: Any, name: str = "court-order.pdf", data: bytes = ORDER,
                      **fields: str) -> Any:
    form = {"person": person.ref, "kind": "intake", "facility": "HSK", "occurred_at": "2026-01-05T06:00",
            "idempotency_id": fields.pop("idempotency_id", f"page-{person.ref}-{name}"), **fields}
    return client.post("/ledger/record/", {**form, "files": [SimpleUploadedFile(name, data)]})


def test_a_file_recorded_on_the_page_is_signed_shown_and_served(world: dict[str, Any], person_factory: Any,
                                                                 client_for: Any, make_user: Any) -> None:
    p = person_factory(held_by="SDF")
    clerk = client_for(world["sdf"])
    r = _record_with_file(clerk, p)
    assert r.status_code == 302 and r["Location"].endswith(f"/ledger/people/{p.ref}/")
    event = LedgerEvent.objects.get(person=p)
    assert json.loads(event.body)["attachments"] == [ORDER_SHA]
    assert list(EventAttachment.objects.values_list("event_id", "sha256")) == [(event.pk, ORDER_SHA)]

    page = clerk.get(f"/ledger/people/{p.ref}/")
    assert f"/ledger/files/{ORDER_SHA}/".encode() in page.content and b"court-order.pdf" in page.content

    reader = client_for(world["sup"])
    download = reader.get(f"/ledger/files/{ORDER_SHA}/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == ORDER
    assert download["X-Content-SHA256"] == ORDER_SHA
    read = AuditEvent.objects.get(action="ledger_file_read", user=world["sup"])
    assert read.detail["people"] == [p.ref]  # a read of the file is a read about this person

    # The file follows the person's access: a user who may not see the person may not have the file.
    p.classification = 3
    p.save(update_fields=["classification"])
    low = client_for(make_user("CIO", "clerk", clearance=1))
    assert low.get(f"/ledger/files/{ORDER_SHA}/").status_code == 404


def test_a_refused_event_keeps_no_file_and_a_false_file_is_named(world: dict[str, Any], person_factory: Any,
                                                                  client_for: Any) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    p = person_factory(held_by="SDF")
    record_event(EventSpec("intake", p, at(0), facility=world["hospital"]))  # SDF holds them, at HOSP
    clerk = client_for(world["sdf"])
    # Departing from a facility the person is not in is refused by the rules: the file goes with it.
    r = _record_with_file(clerk, p, kind="departed", manifest="M-1")
    assert r.status_code == 409 and "HSK" in r.content.decode() and p.ref in r.content.decode()
    assert LedgerEvent.objects.count() == 1 and not EventFile.objects.exists()
    # A file whose bytes are not what its name says is refused, by name, before anything is written.
    r = _record_with_file(clerk, p, name="wristband-photo.png", data=b"MZ\x90\x00 not an image")
    assert r.status_code == 400 and "wristband-photo.png" in r.content.decode()
    assert LedgerEvent.objects.count() == 1 and not EventFile.objects.exists()


def test_the_api_uploads_once_records_and_serves_to_whoever_may_see_the_event(
        world: dict[str, Any], person_factory: Any, api_for: Any, make_user: Any) -> None:
    p = person_factory(held_by="SDF")
    api = api_for(world["sdf"])
    first = api.post("/api/ledger/files/", {"file": SimpleUploadedFile("death-certificate.pdf", ORDER)}, format="multipart")
    assert first.status_code == 201 and first.json()["sha256"] == ORDER_SHA
    again = api.post("/api/ledger/files/", {"file": SimpleUploadedFile("copy.pdf", ORDER)}, format="multipart")
    assert again.status_code == 200 and again.json()["sha256"] == ORDER_SHA
    assert EventFile.objects.count() == 1

    other = api_for(world["sup"])
    # Before any event lists it, only its uploader sees the file.
    assert other.get(f"/api/ledger/files/{ORDER_SHA}/").status_code == 404

    body = {"kind": "intake", "person": p.ref, "occurred_at": "2026-01-05T06:00:00Z", "facility": "HSK",
            "idempotency_id": "api-file-1", "attachments": [ORDER_SHA]}
    rec = api.post("/api/ledger/events/", body, format="json")
    assert rec.status_code == 201 and rec.json()["attachments"] == [ORDER_SHA]

    assert other.get(f"/api/ledger/files/{ORDER_SHA}/").json()["original_name"] == "death-certificate.pdf"
    content = other.get(f"/api/ledger/files/{ORDER_SHA}/content/")
    assert content.status_code == 200 and b"".join(content.streaming_content) == ORDER

    missing = api.post("/api/ledger/files/", {}, format="multipart")
    assert missing.status_code == 400 and missing.json()["field"] == "file"
    viewer = api_for(make_user("SDF", "viewer"))
    assert viewer.post("/api/ledger/files/", {"file": SimpleUploadedFile("x.pdf", ORDER)}, format="multipart").status_code == 403


def test_an_event_may_list_a_file_held_elsewhere(world: dict[str, Any], person_factory: Any, api_for: Any,
                                                 client_for: Any) -> None:
    p = person_factory(held_by="SDF")
    partner_sha = hashlib.sha256(b"a partner's scan").hexdigest()
    r = api_for(world["sdf"]).post("/api/ledger/events/", {
        "kind": "intake", "person": p.ref, "occurred_at": "2026-01-05T06:00:00Z", "facility": "HSK",
        "attachments": [partner_sha]}, format="json")
    assert r.status_code == 201
    page = client_for(world["sdf"]).get(f"/ledger/people/{p.ref}/").content.decode()
    assert "file held elsewhere" in page and partner_sha[:12] in page
    assert verify_ledger().ok


def test_the_cli_attaches_files_and_names_one_it_cannot_read(world: dict[str, Any], person_factory: Any,
                                                             tmp_path: Path) -> None:
    p = person_factory(held_by="SDF")
    note = tmp_path / "medical-note.txt"
    note.write_text("Admitted with a fever; returned the same day.\n", encoding="utf-8")
    out = StringIO()
    call_command("ledger", "record", "intake", p.ref, "--facility", "HSK", "--attach", str(note),
                 "--user", world["sdf"].username, stdout=out)
    sha = hashlib.sha256(note.read_bytes()).hexdigest()
    assert f"attached medical-note.txt: sha256 {sha}" in out.getvalue()
    assert json.loads(LedgerEvent.objects.get(person=p).body)["attachments"] == [sha]
    with pytest.raises(CommandError, match="--attach .*nowhere.pdf: No such file"):
        call_command("ledger", "record", "moved", p.ref, "--facility", "HSK", "--attach", str(tmp_path / "nowhere.pdf"))
    assert LedgerEvent.objects.count() == 1


def test_verify_names_a_file_changed_or_lost_on_disk_and_a_forged_index_row(
        world: dict[str, Any], person_factory: Any, client_for: Any, api_for: Any, media: Path) -> None:
    p = person_factory(held_by="SDF")
    _record_with_file(client_for(world["sdf"]), p)
    seq = LedgerEvent.objects.get(person=p).seq
    assert verify_ledger().ok

    stored = media / EventFile.objects.get().file.name
    stored.write_bytes(ORDER.replace(b"1.4", b"1.5"))
    result = verify_ledger()
    assert not result.ok
    first = result.problems[0]
    assert first.kind == "file" and first.seq == seq
    assert "court-order.pdf" in first.message and "no longer matches its hash" in first.message

    stored.unlink()
    assert "is missing from storage" in verify_ledger().problems[0].message

    # Sending the original again restores the lost copy (the bytes hash to the file's name).
    r = api_for(world["sdf"]).post("/api/ledger/files/", {"file": SimpleUploadedFile("court-order.pdf", ORDER)},
                                   format="multipart")
    assert r.status_code == 200 and stored.read_bytes() == ORDER
    assert verify_ledger().ok
    # An index row the signed bodies do not back would open the file to another person's readers.
    q = person_factory(held_by="SDF")
    _record_with_file(client_for(world["sdf"]), q, name="other.txt", data=b"another file\n")
    EventAttachment.objects.create(event=LedgerEvent.objects.get(person=q), sha256=ORDER_SHA)
    problems = verify_ledger().problems
    assert [pr.kind for pr in problems] == ["file"]
    assert "the attachment index lists file" in problems[0].message


def test_the_record_command_in_arabic_shows_the_file_field(world: dict[str, Any], client_for: Any) -> None:
    page = client_for(world["sdf"]).get("/ar/ledger/record/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="files"' in page
    assert "Attached files" not in page  # translated


def test_a_file_over_the_limit_is_refused_by_name_before_it_is_read(world: dict[str, Any], person_factory: Any,
                                                                     api_for: Any, client_for: Any, monkeypatch: Any) -> None:
    import custody.ledger.files as files

    monkeypatch.setattr(files, "MAX_BYTES", len(ORDER) - 1)
    r = api_for(world["sdf"]).post("/api/ledger/files/", {"file": SimpleUploadedFile("scan.pdf", ORDER)}, format="multipart")
    assert r.status_code == 400 and "scan.pdf" in r.json()["detail"] and r.json()["field"] == "file"
    page = _record_with_file(client_for(world["sdf"]), person_factory(held_by="SDF"), name="big-scan.pdf")
    assert "big-scan.pdf" in page.content.decode()
    assert not EventFile.objects.exists() and not LedgerEvent.objects.exists()


def test_a_partner_checks_the_files_received_with_a_bundle(world: dict[str, Any], person_factory: Any,
                                                           client_for: Any, tmp_path: Path) -> None:
    import subprocess
    import sys

    p = person_factory(held_by="SDF")
    _record_with_file(client_for(world["sdf"]), p)
    seq = LedgerEvent.objects.get(person=p).seq
    bundle, folder = tmp_path / "events.json", tmp_path / "for-partner"
    out = StringIO()
    call_command("ledger", "export-bundle", "--seq", str(seq), "--out", str(bundle), "--attachments-dir", str(folder),
                 stdout=out)
    assert f"copied court-order.pdf ({ORDER_SHA})" in out.getvalue()
    received = folder / "court-order.pdf"
    assert received.read_bytes() == ORDER

    # The partner's side: no database, no Django settings.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    cmd = [sys.executable, "-m", "custody.engines.ledger", "verify-bundle", str(bundle), "--attachment", str(received)]
    ok = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert f"file {received}: SHA-256 {ORDER_SHA} is attached to #{seq}" in ok.stdout
    received.write_bytes(ORDER.replace(b"1.4", b"1.7"))
    ko = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    assert ko.returncode == 1 and "is not the file the log signed for" in ko.stdout
    with pytest.raises(CommandError, match="cannot read .*missing.pdf"):
        call_command("ledger", "verify-bundle", str(bundle), "--attachment", str(tmp_path / "missing.pdf"))
