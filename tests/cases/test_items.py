"""Items: attachments hashed and type-checked, releasability by agency and nation changed only by the
originating agency, visibility per agency, redacted copies that leave the original untouched."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from custody.cases.models import Attachment, Item, ItemNation, RedactedCopy, ReleasabilityChange
from custody.core.models import AuditEvent, HistoryChange
from tests.cases.conftest import PDF_BYTES, png_bytes


def _post_item(client: Any, people: str, files: list[SimpleUploadedFile], **extra: Any) -> Any:
    data = {"kind": "document", "title": "Seized notebook", "source": "raid 12", "people": people, "classification": 1,
            "nations": "IQ", "attachments": files, **extra}
    return client.post("/cases/items/new/", data)


def test_item_created_with_hashed_attachments(cw: Any, make_user: Any, client_for: Any) -> None:
    clerk = make_user("FBI", "clerk")
    png = png_bytes()
    resp = _post_item(client_for(clerk), cw.iq.ref, [SimpleUploadedFile("photo.png", png), SimpleUploadedFile("notes.txt", "ملاحظات".encode())])
    assert resp.status_code == 302, resp.content.decode()[:500]
    item = Item.objects.get()
    assert item.originating_agency.code == "FBI" and item.ref.startswith("ITM-")
    atts = {a.original_name: a for a in Attachment.objects.filter(item=item)}
    assert atts["photo.png"].sha256 == hashlib.sha256(png).hexdigest()
    assert atts["photo.png"].content_type == "image/png" and atts["notes.txt"].content_type == "text/plain"
    assert AuditEvent.objects.filter(action="cases.create_item", object_id=str(item.pk), outcome="ok", user=clerk).count() == 1
    # The download carries the hash and is audited.
    got = client_for(clerk).get(f"/cases/items/{item.ref}/files/{atts['photo.png'].pk}/")
    assert got["X-Content-SHA256"] == atts["photo.png"].sha256 and b"".join(got.streaming_content) == png
    assert AuditEvent.objects.filter(action="attachment_read").exists()


def test_attachment_not_what_its_extension_says_is_refused_and_nothing_is_written(cw: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("FBI", "clerk"))
    # A PNG named .pdf, then text named .png, then a PDF named .jpg: each refuses the whole item.
    for name, data, kind in [("report.pdf", png_bytes(), "PDF"), ("face.png", b"not an image at all", "PNG"), ("x.jpg", PDF_BYTES, "JPEG")]:
        resp = _post_item(c, cw.iq.ref, [SimpleUploadedFile("ok.txt", b"fine"), SimpleUploadedFile(name, data)])
        assert resp.status_code == 409
        assert f"is not a {kind} file although its name ends in" in resp.content.decode()
    resp = _post_item(c, cw.iq.ref, [SimpleUploadedFile("tool.exe", b"MZ\x90\x00")])
    assert resp.status_code == 409 and "“.exe” is not accepted" in resp.content.decode()
    assert Item.objects.count() == 0 and Attachment.objects.count() == 0
    assert AuditEvent.objects.filter(action="cases.create_item", outcome="failed").count() == 4


def test_attachment_added_later_is_checked_too(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    clerk = make_user("FBI", "clerk")
    item = make_item([cw.iq], by=clerk)
    c = client_for(clerk)
    bad = c.post(f"/cases/items/{item.ref}/attach/", {"file": SimpleUploadedFile("scan.pdf", b"<html>not a pdf</html>")})
    assert bad.status_code == 409 and "scan.pdf" in bad.content.decode()
    ok = c.post(f"/cases/items/{item.ref}/attach/", {"file": SimpleUploadedFile("scan.pdf", PDF_BYTES)})
    assert ok.status_code == 302 and item.attachments.get().sha256 == hashlib.sha256(PDF_BYTES).hexdigest()
    # Another agency may see the item but not add to it.
    other = client_for(make_user("MIL", "supervisor"))
    refused = other.post(f"/cases/items/{item.ref}/attach/", {"file": SimpleUploadedFile("more.pdf", PDF_BYTES)})
    assert refused.status_code == 403 and "Only the originating agency (FBI)" in refused.content.decode()
    assert item.attachments.count() == 1


def test_only_the_originating_agency_changes_releasability(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    fbi = make_user("FBI", "clerk")
    item = make_item([cw.iq], by=fbi, release_all=False, releasable_to=("CIO",), nations=())
    form = {"classification": 1, "releasable_to": ["IRQ", "CIO"], "nations": "IQ, fr", "reason": "court asked"}
    # A supervisor of another agency who can see the item (CIO) is refused.
    refused = client_for(make_user("CIO", "supervisor")).post(f"/cases/items/{item.ref}/releasability/", form)
    assert refused.status_code == 403 and "Only the originating agency (FBI)" in refused.content.decode()
    assert not ItemNation.objects.filter(item=item).exists()
    assert AuditEvent.objects.filter(action="cases.set_releasability", outcome="denied").count() == 1
    ok = client_for(fbi).post(f"/cases/items/{item.ref}/releasability/", form)
    assert ok.status_code == 302
    item.refresh_from_db()
    assert item.nations() == ["FR", "IQ"] and sorted(a.code for a in item.releasable_to.all()) == ["CIO", "IRQ"]
    change = ReleasabilityChange.objects.get(item=item)
    assert change.before["agencies"] == ["CIO"] and change.after["nations"] == ["FR", "IQ"] and change.user == fbi
    assert HistoryChange.objects.filter(table_name="cases_itemnation", op="I").count() == 2
    bad = client_for(fbi).post(f"/cases/items/{item.ref}/releasability/", {**form, "nations": "France"})
    assert bad.status_code == 400 and "not a two-letter ISO country code" in bad.content.decode()


def test_host_nation_reviewer_never_sees_items_not_releasable_to_it(cw: Any, make_user: Any, client_for: Any, api_for: Any,
                                                                   make_item: Any) -> None:
    fbi = make_user("FBI", "clerk")
    hidden = make_item([cw.iq], by=fbi, title="TITLE-FBI-ONLY", release_all=False, releasable_to=("CIO",))
    shared = make_item([cw.iq], by=fbi, title="TITLE-SHARED", release_all=False, releasable_to=("IRQ",))
    irq = make_user("IRQ", "supervisor")
    c = client_for(irq)
    assert c.get(f"/cases/items/{hidden.ref}/").status_code == 404
    assert AuditEvent.objects.filter(action="view", object_id=hidden.ref, outcome="denied").exists()
    page = c.get("/cases/items/").content.decode()
    assert "TITLE-SHARED" in page and "TITLE-FBI-ONLY" not in page
    assert "TITLE-FBI-ONLY" not in c.get(f"/cases/people/{cw.iq.ref}/").content.decode()
    api = api_for(irq).get("/api/cases/items/").json()
    assert [r["ref"] for r in api["results"]] == [shared.ref]
    assert api_for(irq).get(f"/api/cases/items/{hidden.ref}/").status_code == 404
    # Classification above clearance hides it as well.
    low = make_user("FBI", "viewer", clearance=1)
    secret = make_item([cw.iq], by=fbi, title="TITLE-SECRET", classification=3)
    assert client_for(low).get(f"/cases/items/{secret.ref}/").status_code == 404


def test_intelligence_items_and_people_the_user_may_not_see(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    intel = make_item([cw.iq], title="TITLE-INTEL", kind="intelligence")
    hum = client_for(make_user("HUM", "supervisor"))
    assert hum.get(f"/cases/items/{intel.ref}/").status_code == 404
    # An item naming a person the agency may not see (the French national, released to MIL and FBI)
    # is hidden from it, even though the item itself is released to all.
    both = make_item([cw.iq, cw.fr], title="TITLE-TWO-MEN")
    assert client_for(make_user("IRQ", "supervisor")).get(f"/cases/items/{both.ref}/").status_code == 404
    assert client_for(make_user("MIL", "viewer")).get(f"/cases/items/{both.ref}/").status_code == 200


def test_text_redaction_is_a_copy(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    body = "Met SECRET-PHRASE-ALPHA at the market."
    item = make_item([cw.iq], body=body)
    start = body.index("SECRET")
    end = start + len("SECRET-PHRASE-ALPHA")
    sup = client_for(make_user("CIO", "supervisor"))
    resp = sup.post(f"/cases/items/{item.ref}/redact/", {"spans": f"{start}-{end}", "reason": "source protection"})
    assert resp.status_code == 302
    copy = RedactedCopy.objects.get(item=item)
    assert "SECRET-PHRASE" not in copy.text and copy.text.startswith("Met █") and len(copy.text) == len(body)
    item.refresh_from_db()
    assert item.body == body
    out = sup.get(f"/cases/redactions/{copy.pk}/")
    assert "SECRET-PHRASE" not in out.content.decode()
    bad = sup.post(f"/cases/items/{item.ref}/redact/", {"spans": "5-500", "reason": "x"})
    assert bad.status_code == 400 and "outside the text" in bad.content.decode()
    bad = sup.post(f"/cases/items/{item.ref}/redact/", {"spans": "five-ten", "reason": "x"})
    assert bad.status_code == 400 and "is not START-END" in bad.content.decode()
    # A viewer may not redact.
    assert client_for(make_user("CIO", "viewer")).post(f"/cases/items/{item.ref}/redact/", {"spans": "0-3", "reason": "x"}).status_code == 403


def test_image_redaction_blacks_out_regions_on_a_copy(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    from PIL import Image

    png = png_bytes(60, 40, (255, 255, 255))
    item = make_item([cw.iq], attachments=(("face.png", png),))
    att = item.attachments.get()
    sup = client_for(make_user("CIO", "supervisor"))
    resp = sup.post(f"/cases/items/{item.ref}/redact/", {"attachment": att.pk, "regions": "10,5,20,10", "reason": "face of a witness"})
    assert resp.status_code == 302
    copy = RedactedCopy.objects.get(item=item)
    data = b"".join(sup.get(f"/cases/redactions/{copy.pk}/").streaming_content)
    im = Image.open(io.BytesIO(data)).convert("RGB")
    assert im.getpixel((15, 10)) == (0, 0, 0) and im.getpixel((29, 14)) == (0, 0, 0)
    assert im.getpixel((5, 5)) == (255, 255, 255) and im.getpixel((30, 10)) == (255, 255, 255)
    with att.file.open("rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == att.sha256 == copy.source_sha256
    bad = sup.post(f"/cases/items/{item.ref}/redact/", {"attachment": att.pk, "regions": "50,30,20,20", "reason": "x"})
    assert bad.status_code == 400 and "outside the 60×40 image" in bad.content.decode()


def test_item_api_create_and_refusals(cw: Any, make_user: Any, api_for: Any) -> None:
    import base64

    api = api_for(make_user("FBI", "clerk"))
    good = {"kind": "interview", "title": "Interview 3", "source": "FBI team", "people": [cw.iq.ref], "nations": ["IQ"],
            "attachments": [{"name": "t.txt", "content_base64": base64.b64encode(b"transcript").decode()}]}
    r = api.post("/api/cases/items/", good, format="json")
    assert r.status_code == 201 and r.json()["attachments"][0]["sha256"] == hashlib.sha256(b"transcript").hexdigest()
    bad = {**good, "attachments": [{"name": "t.png", "content_base64": base64.b64encode(b"transcript").decode()}]}
    r = api.post("/api/cases/items/", bad, format="json")
    assert r.status_code == 409 and "not a PNG file" in r.json()["detail"]
    r = api.post("/api/cases/items/", {**good, "people": ["P-999999"]}, format="json")
    assert r.status_code == 404 and "P-999999" in r.json()["detail"]
    assert Item.objects.count() == 1


def test_text_file_redaction_and_person_page_section(cw: Any, make_user: Any, client_for: Any, make_item: Any) -> None:
    text = "Witness: SECRET-PHRASE-DELTA saw him.\n"
    item = make_item([cw.iq], attachments=(("statement.txt", text.encode()),))
    att = item.attachments.get()
    sup = client_for(make_user("CIO", "supervisor"))
    a = text.index("SECRET")
    resp = sup.post(f"/cases/items/{item.ref}/redact/", {"attachment": att.pk, "spans": f"{a}-{a + 19}", "reason": "witness"})
    assert resp.status_code == 302
    copy = RedactedCopy.objects.get(item=item)
    data = b"".join(sup.get(f"/cases/redactions/{copy.pk}/").streaming_content).decode()
    assert "SECRET-PHRASE" not in data and data.startswith("Witness: █")
    with att.file.open("rb") as fh:
        assert fh.read().decode() == text
    # The registry's person page carries the case section.
    page = sup.get(f"/registry/people/{cw.iq.ref}/").content.decode()
    assert f"/cases/people/{cw.iq.ref}/" in page and "1 items" in page
