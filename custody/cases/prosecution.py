"""The prosecution file: for one person and one recipient, a PDF (English or Arabic) and a JSON bundle
holding only what that recipient may see, recorded with its hashes every time it is generated.

What goes in:
- identity: reference, names in both scripts (aliases marked), sex, birth, parents' names, nationalities,
  identity documents, capture and internment; never risk tier, rationale or faction (intelligence);
- the most recent photo the generating user may see whose classification is at most Restricted;
- the custody history from the ledger with its verification proof;
- the items whose disclosure to this recipient is approved and still holds (the item is still releasable
  to the recipient's country), each in its approved form: the redacted copies selected by the reviewers
  replace their originals;
- the biometric identification result: approved items of the kind "biometric hit".
Reviewers' internal reasons are not part of the file; the disclosure number and date are.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custody.accounts.models import Classification
from custody.cases.models import APPROVED_STATES, DisclosureRequest, Item, ItemKind, RedactionKind
from custody.core.access import restrict
from custody.core.errors import RuleError
from custody.registry.countries import country_name
from custody.registry.models import FileKind, IdentifierKind, Person, PersonFile

FORMAT = "custody-prosecution-file/1"
PHOTO_MAX_CLASSIFICATION = Classification.RESTRICTED
# Identity documents a court needs; enrolment ids and list references are internal.
IDENTIFIER_KINDS = (IdentifierKind.PASSPORT, IdentifierKind.NATIONAL_ID, IdentifierKind.PRISONER, IdentifierKind.DOCUMENT)
LANGUAGES = ("en", "ar")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def approved_for(user: Any, person: Person, recipient: Any) -> list[DisclosureRequest]:
    """Approved disclosures of this person's items to this recipient that still hold: the item is still
    releasable to the recipient's country and the user may still see it."""
    items = restrict(Item.objects.filter(people=person), user).filter(release_nations__country=recipient.country)
    return list(DisclosureRequest.objects.filter(recipient=recipient, state__in=APPROVED_STATES, item__in=items.values("pk"))
                .select_related("item").prefetch_related("redactions").order_by("item__ref", "-decided_at"))


def _read(field: Any) -> bytes:
    with field.open("rb") as fh:
        return fh.read()


def _identity(person: Person, user: Any) -> dict[str, Any]:
    return {
        "ref": person.ref,
        "display_name": person.display_name,
        "display_name_ar": person.display_name_ar,
        "names": [{"script": n.script, "full": n.full, "alias": n.is_alias} for n in person.names.all()],
        "sex": person.sex,
        "birth": person.birth_display(),
        "place_of_birth": person.place_of_birth,
        "father_name": person.father_name,
        "mother_name": person.mother_name,
        "nationalities": sorted(n.country for n in person.nationalities.all()),
        "identifiers": [{"kind": i.kind, "value": i.value, "country": i.country}
                        for i in restrict(person.identifiers.filter(kind__in=IDENTIFIER_KINDS), user)],
        "capture_date": person.capture_date.isoformat() if person.capture_date else "",
        "capture_place": person.capture_place,
        "internment_date": person.internment_date.isoformat() if person.internment_date else "",
        "internment_place": person.internment_place,
    }


def _photo(person: Person, user: Any) -> dict[str, Any] | None:
    f = (restrict(PersonFile.objects.filter(person=person, kind=FileKind.PHOTO), user)
         .filter(classification__lte=PHOTO_MAX_CLASSIFICATION).order_by("-uploaded_at").first())
    if f is None:
        return None
    data = _read(f.file)
    return {"sha256": sha256(data), "content_type": f.content_type, "data_base64": base64.b64encode(data).decode()}


def custody_history(person: Person) -> dict[str, Any]:
    """The person's custody events from the ledger, with their proof: the ledger's signed bundle (each
    event's inclusion proof against a signed checkpoint), verified here before it is shipped. The
    recipient can check it offline with `python -m custody.engines.ledger BUNDLE`."""
    from custody.engines.ledger import verify_bundle
    from custody.ledger.models import LedgerEvent
    from custody.ledger.services import export_bundle, public_key_id

    seqs = list(LedgerEvent.objects.filter(person=person).order_by("seq").values_list("seq", flat=True))
    if not seqs:
        return {"events": [], "verified": False, "ledger_bundle": None}
    raw = export_bundle(seqs, {"person": person.ref, "purpose": "prosecution file"})
    report = verify_bundle(raw, trusted_key_ids=[public_key_id()])
    if not report.ok:
        # Never ship a history that does not verify: the file would carry a broken proof.
        raise RuleError(_("The custody history of %(ref)s does not verify against the ledger: %(errors)s")
                        % {"ref": person.ref, "errors": "; ".join(report.errors)}, rule="ledger_proof")
    bundle = json.loads(raw)
    return {
        "events": [e["event"] for e in bundle["entries"]],
        "verified": True,
        "checkpoint": bundle["checkpoint"],
        "key_id": bundle["key_id"],
        "ledger_bundle": bundle,
    }


def _item_entry(req: DisclosureRequest) -> dict[str, Any]:
    item = req.item
    redactions = list(req.redactions.all())
    body_copy = next((r for r in redactions if r.kind == RedactionKind.BODY), None)
    by_attachment = {r.attachment_id: r for r in redactions if r.attachment_id}
    attachments = []
    for att in item.attachments.all():
        copy = by_attachment.get(att.pk)
        if copy is not None:
            data = _read(copy.file)
            entry = {"name": att.original_name, "content_type": copy.content_type, "sha256": copy.sha256,
                     "redacted": True, "original_sha256": att.sha256}
        else:
            data = _read(att.file)
            entry = {"name": att.original_name, "content_type": att.content_type, "sha256": att.sha256, "redacted": False}
        entry["data_base64"] = base64.b64encode(data).decode()
        if entry["content_type"].startswith("text/"):
            entry["text"] = data.decode("utf-8")
        attachments.append(entry)
    return {
        "ref": item.ref, "kind": item.kind, "title": item.title, "source": item.source,
        "date": item.item_date.isoformat() if item.item_date else "",
        "classification": item.classification,
        "text": body_copy.text if body_copy else item.body,
        "text_redacted": body_copy is not None,
        "disclosure": {"id": f"D-{req.pk}", "state": req.state, "decided_at": req.decided_at.isoformat() if req.decided_at else ""},
        "attachments": attachments,
    }


def build_bundle(user: Any, person: Person, recipient: Any, requests: Sequence[DisclosureRequest], language: str) -> dict[str, Any]:
    items = [_item_entry(r) for r in requests]
    return {
        "format": FORMAT,
        "generated_at": timezone.now().isoformat(),
        "generated_by": {"user": user.username, "agency": user.agency.code if user.agency_id else ""},
        "language": language,
        "recipient": {"code": recipient.code, "name": recipient.name, "name_ar": recipient.name_ar, "kind": recipient.kind,
                      "country": recipient.country},
        "person": _identity(person, user),
        "photo": _photo(person, user),
        "biometric_identification": [i for i in items if i["kind"] == ItemKind.BIOMETRIC_HIT],
        "custody_history": custody_history(person),
        "items": [i for i in items if i["kind"] != ItemKind.BIOMETRIC_HIT],
    }


def render_pdf(bundle: dict[str, Any], language: str) -> bytes:
    from weasyprint import HTML

    with translation.override(language):
        person = bundle["person"]
        html = render_to_string("cases/prosecution_file_pdf.html", {
            "b": bundle, "p": person, "rtl": language == "ar", "lang": language,
            "nationalities": [country_name(c, language) for c in person["nationalities"]],
            "recipient_name": (bundle["recipient"]["name_ar"] or bundle["recipient"]["name"]) if language == "ar" else bundle["recipient"]["name"],
            "recipient_country": country_name(bundle["recipient"]["country"], language),
        })
    return HTML(string=html).write_pdf()


def select_requests(user: Any, person: Person, recipient: Any, item_refs: Sequence[str] | None) -> list[DisclosureRequest]:
    approved = approved_for(user, person, recipient)
    latest: dict[str, DisclosureRequest] = {}
    for r in approved:
        latest.setdefault(r.item.ref, r)
    if item_refs is None:
        return list(latest.values())
    chosen = []
    for ref in item_refs:
        if ref not in latest:
            raise RuleError(_("Item %(ref)s is not approved for disclosure to %(rcpt)s; the file was not generated.")
                            % {"ref": ref, "rcpt": recipient.code}, rule="not_approved", field="items")
        chosen.append(latest[ref])
    return chosen
