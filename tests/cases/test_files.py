"""Prosecution files: what each recipient and each generating role gets, read back from the generated
PDF (pypdf) and the JSON bundle; every generation recorded with its hashes; refusals change nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import unicodedata
from typing import Any

import pytest
from django.core.management import call_command

from custody.cases import services
from custody.cases.models import ProsecutionFile
from custody.core.models import AuditEvent
from tests.cases.conftest import png_bytes


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
    return unicodedata.normalize("NFKC", text)


def _read(field: Any) -> bytes:
    with field.open("rb") as fh:
        return fh.read()


@pytest.fixture
def filed(cw: Any, make_user: Any, make_item: Any) -> dict[str, Any]:
    """Ledger history for the Iraqi national and five items in every disclosure situation."""
    from django.core.files.base import ContentFile

    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec
    from custody.registry.models import PersonFile

    record_event(EventSpec(kind="intake", person=cw.iq, occurred_at=dt.datetime(2026, 1, 20, 8, tzinfo=dt.UTC), facility=cw.facility))
    photo = png_bytes(20, 24, (120, 80, 40))
    pf = PersonFile(person=cw.iq, kind="photo", original_name="face.png", content_type="image/png",
                    sha256=hashlib.sha256(photo).hexdigest(), size=len(photo), classification=1)
    pf.file.save("face.png", ContentFile(photo), save=True)

    fbi = make_user("FBI", "clerk")
    sup1, sup2 = make_user("CIO", "supervisor"), make_user("MIL", "supervisor")
    requester = make_user("CIO", "clerk")

    def approved(item: Any, recipient: Any, redactions: tuple[Any, ...] = ()) -> Any:
        req = services.do_request_disclosure(requester, item, recipient, "for trial")
        return services.do_approve(sup1, req, "ok", list(redactions))

    a = make_item([cw.iq], by=fbi, title="TITLE-APPROVED", body="Seen with SECRET-PHRASE-CHARLIE on 3 May.", nations=("IQ",),
                  attachments=(("scene.png", png_bytes()),))
    copy = services.do_redact(sup1, a, spans=[(a.body.index("SECRET"), a.body.index(" on 3"))], reason="source")
    approved(a, cw.ccc, (copy,))
    b = make_item([cw.iq], by=fbi, title="TITLE-REFUSED", nations=("IQ",))
    services.do_refuse(sup1, services.do_request_disclosure(requester, b, cw.ccc, "x"), "no")
    c = make_item([cw.iq], by=fbi, title="TITLE-FRANCE-ONLY", nations=("FR",))
    approved(c, cw.fr_pros)
    d = make_item([cw.iq], by=fbi, title="TITLE-WITHDRAWN-NATION", nations=("IQ",))
    approved(d, cw.ccc)
    services.do_set_releasability(fbi, d, release_all=True, agencies=[], nations=[], reason="source objected")
    e = make_item([cw.iq], by=fbi, title="TITLE-BIOMETRIC-HIT", kind="biometric_hit", body="Fingerprint match, score 97", nations=("IQ",))
    approved(e, cw.ccc)
    f = make_item([cw.iq], by=fbi, title="TITLE-CIO-ONLY", release_all=False, releasable_to=("CIO", "MIL"), nations=("IQ",),
                  classification=2)
    req_f = services.do_request_disclosure(requester, f, cw.ccc, "x")
    services.do_approve(sup1, req_f, "first")
    services.do_approve(sup2, req_f, "second")
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "photo_sha": pf.sha256}


def _generate(client: Any, ref: str, recipient: str, language: str = "en", items: list[str] | None = None) -> Any:
    data: dict[str, Any] = {"recipient": recipient, "language": language}
    if items:
        data["items"] = items
    return client.post(f"/cases/people/{ref}/file/", data)


def test_file_holds_only_what_the_recipient_may_see(cw: Any, make_user: Any, client_for: Any, filed: dict[str, Any]) -> None:
    from custody.engines.ledger import canonical_json, verify_bundle
    from custody.ledger.services import public_key_id

    analyst = make_user("CIO", "analyst")
    c = client_for(analyst)
    assert _generate(c, cw.iq.ref, "IQ-CCC").status_code == 302
    pf = ProsecutionFile.objects.get()
    pdf, raw = _read(pf.pdf), _read(pf.bundle)
    assert hashlib.sha256(pdf).hexdigest() == pf.pdf_sha256 and hashlib.sha256(raw).hexdigest() == pf.bundle_sha256
    text = pdf_text(pdf)
    bundle = json.loads(raw)
    for where in (text, raw.decode()):
        assert "TITLE-APPROVED" in where and "TITLE-BIOMETRIC-HIT" in where and "TITLE-CIO-ONLY" in where
        for absent in ("TITLE-REFUSED", "TITLE-FRANCE-ONLY", "TITLE-WITHDRAWN-NATION", "SECRET-PHRASE-CHARLIE",
                       "RATIONALE-OMAR", "FACTION-OMAR"):
            assert absent not in where, absent
    assert "Omar Faisal Al-Dulaimi" in text and "Amina Salih" in text
    assert sorted(pf.item_refs) == sorted([filed["a"].ref, filed["e"].ref, filed["f"].ref])
    assert [i["title"] for i in bundle["biometric_identification"]] == ["TITLE-BIOMETRIC-HIT"]
    approved_a = next(i for i in bundle["items"] if i["ref"] == filed["a"].ref)
    assert approved_a["text_redacted"] and "█" in approved_a["text"]
    assert bundle["photo"]["sha256"] == filed["photo_sha"] and bundle["pdf_sha256"] == pf.pdf_sha256
    # The custody history is the ledger's, with a proof that verifies offline.
    history = bundle["custody_history"]
    assert [e["kind"] for e in history["events"]] == ["intake"] and history["verified"]
    assert verify_bundle(canonical_json(history["ledger_bundle"]), trusted_key_ids=[public_key_id()]).ok
    ev = AuditEvent.objects.get(action="cases.generate_file", outcome="ok")
    assert ev.detail["pdf_sha256"] == pf.pdf_sha256 and sorted(ev.detail["items"]) == sorted(pf.item_refs)
    got = c.get(f"/cases/files/{pf.pk}/pdf/")
    assert b"".join(got.streaming_content) == pdf and got["X-Content-SHA256"] == pf.pdf_sha256
    assert AuditEvent.objects.filter(action="case_file_read").count() == 1
    # Another recipient gets its own approvals only.
    assert _generate(c, cw.iq.ref, "FR-PNAT").status_code == 302
    fr_text = pdf_text(_read(ProsecutionFile.objects.latest("id").pdf))
    assert "TITLE-FRANCE-ONLY" in fr_text and "TITLE-APPROVED" not in fr_text and "TITLE-BIOMETRIC-HIT" not in fr_text


def test_what_each_generating_role_may_put_in_a_file(cw: Any, make_user: Any, client_for: Any, api_for: Any, filed: dict[str, Any]) -> None:
    # The host nation's analyst: the CIO/MIL-only item stays out even though it is approved for the court.
    irq = client_for(make_user("IRQ", "analyst"))
    assert _generate(irq, cw.iq.ref, "IQ-CCC").status_code == 302
    irq_file = ProsecutionFile.objects.get()
    text = pdf_text(_read(irq_file.pdf))
    assert "TITLE-APPROVED" in text and "TITLE-CIO-ONLY" not in text
    # A file holding the CIO/MIL-only item is itself hidden from the IRQ analyst's list of files.
    cio_file = api_for(make_user("CIO", "analyst")).post("/api/cases/files/", {"person": cw.iq.ref, "recipient": "IQ-CCC"}, format="json")
    assert cio_file.status_code == 201
    irq_list = api_for(make_user("IRQ", "analyst")).get("/api/cases/files/").json()["results"]
    assert [f["id"] for f in irq_list] == [irq_file.pk]
    # The humanitarian observer never sees intelligence: no biometric hit in its file.
    hum = client_for(make_user("HUM", "analyst"))
    assert _generate(hum, cw.iq.ref, "IQ-CCC").status_code == 302
    hum_bundle = json.loads(_read(ProsecutionFile.objects.latest("id").bundle))
    assert hum_bundle["biometric_identification"] == [] and "TITLE-BIOMETRIC-HIT" not in json.dumps(hum_bundle)
    # A viewer or clerk may not generate.
    r = _generate(client_for(make_user("CIO", "clerk")), cw.iq.ref, "IQ-CCC")
    assert r.status_code == 403 and "it needs export" in r.content.decode()
    assert ProsecutionFile.objects.count() == 3


def test_file_with_an_item_not_approved_for_the_recipient_is_refused(cw: Any, make_user: Any, client_for: Any, api_for: Any,
                                                                     filed: dict[str, Any]) -> None:
    c = client_for(make_user("CIO", "analyst"))
    for ref in (filed["b"].ref, filed["c"].ref, filed["d"].ref):
        r = _generate(c, cw.iq.ref, "IQ-CCC", items=[filed["a"].ref, ref])
        assert r.status_code == 409 and f"Item {ref} is not approved for disclosure to IQ-CCC" in r.content.decode()
    r = api_for(make_user("CIO", "analyst")).post("/api/cases/files/", {"person": cw.iq.ref, "recipient": "IQ-CCC", "items": [filed["b"].ref]},
                                                 format="json")
    assert r.status_code == 409 and r.json()["rule"] == "not_approved"
    assert ProsecutionFile.objects.count() == 0
    assert AuditEvent.objects.filter(action="cases.generate_file", outcome="failed").count() == 4
    assert _generate(c, cw.iq.ref, "IQ-CCC", items=[filed["a"].ref]).status_code == 302
    assert ProsecutionFile.objects.get().item_refs == [filed["a"].ref]


def test_arabic_file_and_cli(cw: Any, make_user: Any, filed: dict[str, Any], tmp_path: Any) -> None:
    analyst = make_user("CIO", "analyst")
    out = tmp_path / "file-ar.pdf"
    buf = io.StringIO()
    call_command("case-file", cw.iq.ref, recipient="IQ-CCC", user=analyst.username, out=str(out), language="ar", stdout=buf)
    data = out.read_bytes()
    assert buf.getvalue().strip() == hashlib.sha256(data).hexdigest() == ProsecutionFile.objects.get().pdf_sha256
    text = pdf_text(data)
    # Arabic text comes out of a PDF in visual order; accept either direction.
    assert "الدليمي" in text or "الدليمي"[::-1] in text
    assert "TITLE-APPROVED" in text and "TITLE-REFUSED" not in text
    out_json = tmp_path / "file.json"
    call_command("case-file", cw.iq.ref, recipient="IQ-CCC", user=analyst.username, out=str(out_json), stdout=io.StringIO())
    assert json.loads(out_json.read_text())["recipient"]["code"] == "IQ-CCC"
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not approved for disclosure"):
        call_command("case-file", cw.iq.ref, recipient="IQ-CCC", user=analyst.username, out=str(out), items=[filed["b"].ref])
    with pytest.raises(CommandError, match="Person P-810002 is not one you may see") as refused:
        call_command("case-file", cw.fr.ref, recipient="IQ-CCC", user=make_user("IRQ", "analyst").username, out=str(out))
    assert refused.value.returncode == 4
    # Without an acting user the command changes nothing: refused, and the refusal is kept.
    with pytest.raises(CommandError, match="No acting user") as anonymous:
        call_command("case-file", cw.iq.ref, recipient="IQ-CCC", out=str(out))
    assert anonymous.value.returncode == 3
    assert AuditEvent.objects.filter(action="cases.generate_file", outcome="ok", user=analyst).count() == 2
    assert AuditEvent.objects.filter(action="cases.generate_file", outcome="denied", user=None).count() == 1
