"""Biometrics through HTTP, the API and the `bio` command, on a real database."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import nistitl
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from custody.biometrics.models import (
    Adjudication,
    BiometricTemplate,
    Capture,
    Enrolment,
    Identification,
    ThresholdSet,
    Verification,
)
from custody.core.models import AuditEvent
from custody.engines.biometrics.ansi_nist import import_transaction
from custody.engines.biometrics.synthetic import finger_seed, impression, master_print, png_bytes

DATA = Path("/work/shared/data/biometrics")
if not DATA.exists():
    DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "biometrics"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="public reference data absent")


def _face(name: str) -> bytes:
    msg = nistitl.Message()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        msg.parse((DATA / "ansi-nist" / f"{name}.an2").read_bytes())
    return bytes(next(r for r in msg if r.type == 10)[999].value)


def _reshoot(jpeg: bytes) -> bytes:
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
    img = img.resize((int(img.width * 1.2), int(img.height * 1.2))).rotate(3, fillcolor=(128, 128, 128))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def samples() -> dict[str, Any]:
    """Two synthetic fingers of one man, two impressions each; a third finger of someone else; faces."""
    m2, m7, other = (master_print(finger_seed(1, p, base=42)) for p in (2, 7, 3))
    return {
        "face": _face("valid1.3"), "face_again": _reshoot(_face("valid1.3")), "face_other": _face("valid1.9"),
        "f2": [png_bytes(impression(m2, k)) for k in (1, 2)],
        "f7": [png_bytes(impression(m7, k)) for k in (1, 2)],
        "stranger": png_bytes(impression(other, 5)),
    }


def _upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


@pytest.fixture
def world(make_user: Any, person_factory: Any, facility_factory: Any) -> dict[str, Any]:
    prison = facility_factory("HAS", kind="prison", custodian="SDF")
    return {
        "fbi_clerk": make_user("FBI", "clerk"), "fbi_analyst": make_user("FBI", "analyst"),
        "irq_super": make_user("IRQ", "supervisor"), "mil_clerk": make_user("MIL", "clerk"),
        "hum_viewer": make_user("HUM", "viewer"),
        "a": person_factory("Ahmad Khalil Al-Dulaimi", "أحمد خليل الدليمي", facility=prison),
        "b": person_factory("Abu Omar Al-Iraqi", "أبو عمر العراقي", facility=prison),
        "c": person_factory("Omar Hassan Al-Tikriti", "عمر حسن التكريتي", facility=prison),
    }


def _enrol_page(client: Any, person: Any, face: bytes | None, fingers: dict[int, bytes], **extra: Any) -> Any:
    data: dict[str, Any] = {"person": person.ref, "station": "BIAP-1", **extra}
    if face:
        data["face"] = _upload("face.jpg", face)
    for pos, img in fingers.items():
        data[f"finger_{pos}"] = _upload(f"f{pos}.png", img)
    return client.post("/biometrics/", data)


def test_enrol_at_station_stores_captures_templates_and_a_no_match_answer(world, samples, client_for) -> None:
    c = client_for(world["fbi_clerk"])
    assert c.get("/biometrics/").status_code == 200
    r = _enrol_page(c, world["a"], samples["face"], {2: samples["f2"][0], 7: samples["f7"][0]})
    assert r.status_code == 302, r.content[:500]
    ident = Identification.objects.get()
    assert r["Location"].endswith(f"/biometrics/identification/{ident.pk}/")
    assert ident.decision == "no_match" and ident.person == world["a"]
    assert ident.thresholds["finger_match"] > 0
    caps = Capture.objects.filter(person=world["a"])
    assert caps.count() == 3
    import hashlib

    face_cap = caps.get(modality="face")
    assert face_cap.sha256 == hashlib.sha256(samples["face"]).hexdigest()
    assert face_cap.operator == world["fbi_clerk"] and face_cap.station == "BIAP-1"
    finger = caps.get(position=2)
    assert bytes(finger.wsq)[:2] == b"\xff\xa0" and 0 < finger.quality <= 100
    assert finger.quality_detail["measure"] == "NFIQ 2"
    kinds = set(BiometricTemplate.objects.values_list("extractor", "version"))
    assert any("MINDTCT" in e for e, _v in kinds) and any("dlib" in e for e, _v in kinds)
    page = c.get(f"/biometrics/identification/{ident.pk}/")
    assert page.status_code == 200 and b"No match" in page.content
    assert AuditEvent.objects.filter(action="biometrics.enrol", outcome="ok", user=world["fbi_clerk"]).count() == 1


def test_second_enrolment_of_the_same_man_links_him(world, samples, client_for, api_for) -> None:
    _enrol_page(client_for(world["fbi_clerk"]), world["a"], samples["face"], {2: samples["f2"][0], 7: samples["f7"][0]})
    api = api_for(world["fbi_clerk"])
    r = api.post("/api/biometrics/enrol/", {
        "person": world["b"].ref, "station": "BIAP-2", "face": _upload("f.jpg", samples["face_again"]),
        "finger_2": _upload("2.png", samples["f2"][1]), "finger_7": _upload("7.png", samples["f7"][1]),
    }, format="multipart")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["decision"] == "match" and body["linked_person"] == world["a"].ref
    best = body["candidates"][0]
    assert best["person_ref"] == world["a"].ref and best["finger_level"] == "match" and best["face_level"] == "match"
    assert body["thresholds"] == Identification.objects.get(person=world["b"]).thresholds
    # The biometric record shows the link to everyone who sees the person, images or not.
    page = client_for(world["mil_clerk"]).get(f"/biometrics/person/{world['b'].ref}/")
    assert page.status_code == 200 and world["a"].ref.encode() in page.content
    from django.test import RequestFactory

    from custody.biometrics.sections import person_section

    req = RequestFactory().get("/")
    req.user = world["mil_clerk"]
    assert world["a"].ref in person_section(req, world["b"])
    assert world["b"].ref in person_section(req, world["a"])
    assert world["b"].ref.encode() in client_for(world["mil_clerk"]).get(f"/biometrics/person/{world['a'].ref}/").content


def test_bad_input_is_refused_with_a_clear_message_and_nothing_stored(world, samples, client_for, api_for) -> None:
    c = client_for(world["fbi_clerk"])
    before = (Capture.objects.count(), Enrolment.objects.count(), BiometricTemplate.objects.count())
    r = _enrol_page(c, world["a"], samples["face"][:4000], {2: samples["f2"][0]})
    assert r.status_code == 200 and b"corrupt or truncated" in r.content
    # A print captured at 100 ppi and labelled 500 ppi.
    pixels = np.asarray(Image.open(io.BytesIO(samples["f2"][0])))
    small = Image.fromarray(pixels).resize((pixels.shape[1] // 5 * 2, pixels.shape[0] // 5 * 2))
    buf = io.BytesIO()
    small.save(buf, "PNG", dpi=(500, 500))
    r2 = api_for(world["fbi_clerk"]).post("/api/biometrics/enrol/", {
        "person": world["a"].ref, "station": "S", "finger_2": _upload("2.png", buf.getvalue())}, format="multipart")
    assert r2.status_code == 400 and r2.json()["rule"] == "biometrics.wrong_resolution"
    assert "right index" in r2.json()["detail"]
    # No face in the "face photo"; and two faces.
    r3 = api_for(world["fbi_clerk"]).post("/api/biometrics/enrol/", {
        "person": world["a"].ref, "station": "S", "face": _upload("x.png", samples["f2"][0])}, format="multipart")
    assert r3.json()["rule"] == "biometrics.no_face"
    a, b = (Image.open(io.BytesIO(samples[k])).convert("RGB") for k in ("face", "face_other"))
    both = Image.new("RGB", (a.width * 2, a.height))
    both.paste(a, (0, 0))
    both.paste(b.resize(a.size), (a.width, 0))
    buf2 = io.BytesIO()
    both.save(buf2, "JPEG")
    r4 = api_for(world["fbi_clerk"]).post("/api/biometrics/enrol/", {
        "person": world["a"].ref, "station": "S", "face": _upload("two.jpg", buf2.getvalue())}, format="multipart")
    assert r4.json()["rule"] == "biometrics.multiple_faces" and "2 faces" in r4.json()["detail"]
    assert (Capture.objects.count(), Enrolment.objects.count(), BiometricTemplate.objects.count()) == before
    assert AuditEvent.objects.filter(action="biometrics.enrol", outcome="failed").count() == 4


def test_only_biometric_agencies_see_images_and_templates(world, samples, client_for, api_for) -> None:
    _enrol_page(client_for(world["fbi_clerk"]), world["a"], samples["face"], {2: samples["f2"][0]})
    cap = Capture.objects.filter(person=world["a"]).first()
    fbi = client_for(world["fbi_clerk"])
    img = fbi.get(f"/biometrics/capture/{cap.pk}/image.png?overlay=1")
    assert img.status_code == 200 and img["Content-Type"] == "image/png"
    assert AuditEvent.objects.filter(action="bio_image", object_id=str(cap.pk), outcome="ok").exists()
    for who in ("mil_clerk", "hum_viewer"):
        assert client_for(world[who]).get(f"/biometrics/capture/{cap.pk}/image.png").status_code == 403
        api = api_for(world[who])
        assert api.get("/api/biometrics/captures/").json()["count"] == 0 if "count" in api.get("/api/biometrics/captures/").json() \
            else api.get("/api/biometrics/captures/").json() == []
        tj = api.get("/api/biometrics/templates/").json()
        assert (tj.get("count") if isinstance(tj, dict) else len(tj)) == 0
    assert AuditEvent.objects.filter(action="bio_image", outcome="denied").count() == 2
    record = client_for(world["mil_clerk"]).get(f"/biometrics/person/{world['a'].ref}/")
    assert record.status_code == 200 and b"image.png" not in record.content
    assert b"shown only to enrolment and investigation agencies" in record.content
    tj = api_for(world["fbi_analyst"]).get("/api/biometrics/templates/").json()
    rows = tj["results"] if isinstance(tj, dict) else tj
    assert len(rows) == 2 and rows[0]["data"]
    assert client_for(world["mil_clerk"]).get("/biometrics/queue/").status_code == 403


def test_handover_verification_is_recorded_with_score_and_threshold(world, samples, client_for) -> None:
    _enrol_page(client_for(world["fbi_clerk"]), world["a"], None, {2: samples["f2"][0]})
    guard = client_for(world["mil_clerk"])
    ok = guard.post("/biometrics/verify/", {"person": world["a"].ref, "modality": "finger", "position": "2",
                                           "handover_ref": "HO-17", "image": _upload("2.png", samples["f2"][1])})
    assert ok.status_code == 200 and b"Verified" in ok.content
    bad = guard.post("/biometrics/verify/", {"person": world["a"].ref, "modality": "finger", "position": "2",
                                            "image": _upload("x.png", samples["stranger"])})
    assert b"Not verified" in bad.content
    v_ok, v_bad = Verification.objects.order_by("at", "id")
    assert v_ok.passed and v_ok.score >= v_ok.threshold and v_ok.handover_ref == "HO-17"
    assert not v_bad.passed and v_bad.operator == world["mil_clerk"] and v_bad.thresholds["finger_verify"] == v_bad.threshold
    nobody = guard.post("/biometrics/verify/", {"person": world["b"].ref, "modality": "face",
                                               "image": _upload("f.jpg", samples["face"])})
    assert b"has no enrolled face" in nobody.content


def test_face_only_resemblance_goes_to_the_adjudication_queue(world, samples, client_for) -> None:
    clerk = client_for(world["fbi_clerk"])
    _enrol_page(clerk, world["a"], samples["face"], {2: samples["f2"][0]})
    r = _enrol_page(clerk, world["c"], samples["face_again"], {})
    ident = Identification.objects.get(person=world["c"])
    assert ident.decision == "review" and ident.linked_person is None
    analyst = client_for(world["fbi_analyst"])
    q = analyst.get("/biometrics/queue/")
    assert q.status_code == 200 and world["c"].ref.encode() in q.content
    cmp_page = analyst.get(f"/biometrics/identification/{ident.pk}/compare/{world['a'].ref}/")
    assert cmp_page.status_code == 200 and cmp_page.content.count(b"image.png?overlay=1") >= 2
    # A clerk may not adjudicate; an analyst may.
    refused = clerk.post(f"/biometrics/identification/{ident.pk}/compare/{world['a'].ref}/", {"decision": "same"})
    assert Adjudication.objects.count() == 0 and refused.status_code in (200, 302)
    done = analyst.post(f"/biometrics/identification/{ident.pk}/compare/{world['a'].ref}/", {"decision": "same", "note": "ear shape"})
    assert done.status_code == 302
    adj = Adjudication.objects.get()
    assert adj.same_person and adj.by == world["fbi_analyst"] and adj.thresholds == ident.thresholds
    ident.refresh_from_db()
    assert ident.linked_person == world["a"]
    assert world["c"].ref.encode() not in analyst.get("/biometrics/queue/").content
    assert r.status_code == 302


def test_investigation_search_via_api_is_audited(world, samples, client_for, api_for) -> None:
    _enrol_page(client_for(world["fbi_clerk"]), world["a"], samples["face"], {7: samples["f7"][0]})
    r = api_for(world["fbi_analyst"]).post("/api/biometrics/identify/", {"finger_7": _upload("7.png", samples["f7"][1])},
                                          format="multipart")
    assert r.status_code == 201 and r.json()["decision"] == "match" and r.json()["strategy"] == "finger-only"
    assert r.json()["candidates"][0]["person_ref"] == world["a"].ref
    ev = AuditEvent.objects.get(action="biometrics.search", outcome="ok", user=world["fbi_analyst"])
    assert world["a"].ref in ev.detail["candidates"]
    assert api_for(world["mil_clerk"]).post("/api/biometrics/identify/", {"finger_7": _upload("7.png", samples["f7"][1])},
                                            format="multipart").status_code == 403


def test_api_import_enrols_and_export_round_trips_byte_for_byte(world, samples, api_for) -> None:
    api = api_for(world["fbi_analyst"])
    raw = (DATA / "ansi-nist" / "valid1.1.an2").read_bytes()
    check = api.post("/api/biometrics/import/", {"file": _upload("v.an2", raw)}, format="multipart")
    assert check.status_code == 200 and check.json()["fingerprints"][0]["position"] == 10
    bad = api.post("/api/biometrics/import/", {"file": _upload("v.an2", (DATA / "ansi-nist" / "valid1.9.an2").read_bytes())},
                   format="multipart")
    assert bad.status_code == 400 and "96 ppi" in bad.json()["detail"]
    face_tx = (DATA / "ansi-nist" / "valid1.3.an2").read_bytes()
    enrolled = api.post("/api/biometrics/import/", {"file": _upload("f.an2", face_tx), "person": world["a"].ref}, format="multipart")
    assert enrolled.status_code == 201, enrolled.json()
    api.post("/api/biometrics/enrol/", {"person": world["a"].ref, "station": "S", "finger_2": _upload("2.png", samples["f2"][0])},
             format="multipart")
    out = api.get(f"/api/biometrics/export/{world['a'].ref}/")
    assert out.status_code == 200
    tx = import_transaction(out.content)
    assert tx.faces[0].data == import_transaction(face_tx).faces[0].data
    assert tx.fingerprints[0].data == bytes(Capture.objects.get(person=world["a"], position=2).wsq)
    assert api_for(world["fbi_clerk"]).get(f"/api/biometrics/export/{world['a'].ref}/").status_code == 403


def test_cli_import_export_and_drop_folder(world, samples, tmp_path, capsys) -> None:
    call_command("bio", "import", str(DATA / "ansi-nist" / "valid1.3.an2"))
    assert "valid" in capsys.readouterr().out
    with pytest.raises(CommandError, match="field 10.999 .* must be the last field"):
        call_command("bio", "import", str(DATA / "ansi-nist" / "valid1.11.an2"))
    (tmp_path / "face.jpg").write_bytes(samples["face"])
    (tmp_path / "f2.png").write_bytes(samples["f2"][0])
    out = tmp_path / "out.an2"
    call_command("bio", "export", "--out", str(out), "--face", str(tmp_path / "face.jpg"), "--finger", f"2={tmp_path / 'f2.png'}",
                 "--name", "AL-DULAIMI,AHMAD")
    tx = import_transaction(out.read_bytes())
    assert tx.faces[0].data == samples["face"] and tx.fingerprints[0].position == 2 and tx.name == "AL-DULAIMI,AHMAD"
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / f"{world['a'].ref}_face.jpg").write_bytes(samples["face"])
    (drop / f"{world['a'].ref}_02.png").write_bytes(samples["f2"][0])
    (drop / f"{world['a'].ref}.ready").write_text("")
    (drop / f"{world['b'].ref}_face.jpg").write_bytes(b"not an image")
    (drop / f"{world['b'].ref}.ready").write_text("")
    call_command("bio", "enrol", "--drop", str(drop), "--as", world["fbi_clerk"].username, "--station", "DROP-1")
    assert Enrolment.objects.filter(person=world["a"], source="drop", station="DROP-1").count() == 1
    assert not Enrolment.objects.filter(person=world["b"]).exists()
    assert (drop / "processed" / f"{world['a'].ref}_02.png").exists()
    call_command("bio", "identify", "--finger", f"2={tmp_path / 'f2.png'}", "--as", world["fbi_analyst"].username, "--json")
    assert AuditEvent.objects.filter(action="biometrics.search", outcome="ok", user=world["fbi_analyst"]).count() == 1
    assert "not a readable image" in (drop / "refused" / f"{world['b'].ref}.reason.txt").read_text()


def test_cli_calibrate_saves_active_thresholds_shown_on_the_det_page(world, tmp_path, client_for, capsys) -> None:
    det = tmp_path / "det.png"
    call_command("bio", "calibrate", "--modality", "face", "--synthetic", "60", "--target-fmr", "0.001", "--det", str(det),
                 "--save", "face-synthetic", "--activate", "--as", world["irq_super"].username)
    out = capsys.readouterr().out
    assert "proposed thresholds" in out and det.read_bytes()[:4] == b"\x89PNG"
    ts = ThresholdSet.objects.get(active=True)
    assert ts.calibration["impostor_count"] == 120 * 119 // 2 - 60 and "face_verify" in ts.values
    page = client_for(world["hum_viewer"]).get("/biometrics/calibration/")
    assert page.status_code == 200 and b"face-synthetic" in page.content
    assert client_for(world["hum_viewer"]).get(f"/biometrics/calibration/{ts.pk}/det.png").status_code == 200
    with pytest.raises(CommandError, match="--data FOLDER"):
        call_command("bio", "calibrate")
    with pytest.raises(CommandError, match="approve"):
        call_command("bio", "calibrate", "--modality", "face", "--synthetic", "5", "--save", "x", "--user",
                     world["fbi_clerk"].username)


def test_captures_are_append_only_in_the_database(world, samples, client_for) -> None:
    from django.db import DatabaseError, transaction

    _enrol_page(client_for(world["fbi_clerk"]), world["a"], None, {2: samples["f2"][0]})
    cap = Capture.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        Capture.objects.filter(pk=cap.pk).update(station="tampered")
    with pytest.raises(DatabaseError), transaction.atomic():
        BiometricTemplate.objects.all().delete()


def test_pages_render_in_arabic(world, client_for) -> None:
    c = client_for(world["fbi_clerk"])
    page = c.get("/ar/biometrics/")
    assert page.status_code == 200
    # Some strings are also in the project-wide catalogue (which wins), so check app-only ones and absences.
    assert "السبابة اليمنى".encode() in page.content and "مجلد ملفات الماسح".encode() in page.content
    assert b"Biometric enrolment station" not in page.content and b"Enrol a person" not in page.content
    assert "التحقق من الهوية عند التسليم".encode() in c.get("/ar/biometrics/verify/").content
    assert AuditEvent.objects.filter(action__in=["bio_station", "bio_verify_page"]).count() == 2


# Every `custody` command runs in a change context, which on PostgreSQL is a session setting on the
# open connection: the command may touch the database even when its work is on files.
@pytest.mark.django_db
def test_cli_calibrate_on_a_folder_of_real_prints(tmp_path, capsys) -> None:
    import json
    import shutil

    for p in sorted((DATA / "fingerprints" / "nbis-rs").glob("*.png")):
        ident = tmp_path / p.stem.split("_")[0]
        ident.mkdir(exist_ok=True)
        shutil.copy(p, ident / p.name)
    call_command("bio", "calibrate", "--modality", "finger", "--data", str(tmp_path), "--target-fmr", "0.1")
    out = capsys.readouterr().out
    summary = json.loads(out[out.index("{"): out.index("}") + 1])
    assert summary["genuine_count"] == 6 and summary["impostor_count"] == 9
    assert summary["impostor_max"] < summary["threshold"] <= summary["genuine_min"]
    (tmp_path / "p1" / "junk.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(CommandError, match="junk.png"):
        call_command("bio", "calibrate", "--modality", "finger", "--data", str(tmp_path))
