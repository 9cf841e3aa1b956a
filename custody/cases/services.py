"""The only place that changes cases and disclosure state: every change is an action (custody.core.actions)
taking the acting user, that checks its capability, reaches only the rows the actor may, applies the
rule (an item is changed by its originating agency; a case by the agency that opened it or the person's
custodian; disclosures by reviewers who did not ask for them) and writes one audit row.

Refusals: BadInput (a field), NotFound (a row the actor may not reach), NotAllowed (not the owner, not
the role), RuleError (a rule of the review or of the case); each message is shown to the user as is."""

from __future__ import annotations

import io
import json
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw

from custody.accounts.models import Agency, Classification
from custody.cases import prosecution
from custody.cases.filetypes import check_attachment
from custody.cases.models import (
    OPEN_STATES,
    STAGE_ORDER,
    Attachment,
    Case,
    CaseStage,
    CaseStep,
    DisclosureEvent,
    DisclosureRequest,
    DisclosureState,
    Item,
    ItemKind,
    ItemNation,
    ProsecutionFile,
    Recipient,
    RecipientKind,
    RedactedCopy,
    RedactionKind,
    ReleasabilityChange,
    Verdict,
)
from custody.cases.prosecution import sha256
from custody.core.access import can, restrict
from custody.core.actions import BadInput, NotAllowed, NotFound, RuleError, action, note, reach
from custody.registry.countries import is_country_code
from custody.registry.models import LegalStatus, Person

REDACTION_MARK = "█"


def two_person_level() -> int:
    """Approval of an item classified ABOVE this level needs two different supervisors.

    Configured by settings.CASES_TWO_PERSON_ABOVE or the environment variable
    CUSTODY_CASES_TWO_PERSON_ABOVE; default 1 (Restricted), so Confidential and Secret need two."""
    value = getattr(settings, "CASES_TWO_PERSON_ABOVE", None)
    if value is None:
        value = os.environ.get("CUSTODY_CASES_TWO_PERSON_ABOVE", Classification.RESTRICTED)
    return int(value)


def _key(row_or_key: Any, attr: str) -> Any:
    """Doors pass a reference (a ref, a code, a number); Python callers may pass the row itself. Either
    way the action reads the row again through restrict()."""
    return getattr(row_or_key, attr, row_or_key)


def _agencies(codes: Iterable[str]) -> list[Agency]:
    codes = sorted({c.strip().upper() for c in codes if c.strip()})
    found = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise BadInput(_("Unknown agency code(s): %(codes)s.") % {"codes": ", ".join(missing)}, field="releasable_to")
    return [found[c] for c in codes]


def _nations(codes: Iterable[str]) -> list[str]:
    codes = sorted({c.strip().upper() for c in codes if c.strip()})
    bad = [c for c in codes if not is_country_code(c)]
    if bad:
        raise BadInput(_("“%(codes)s” is not a two-letter ISO country code.") % {"codes": ", ".join(bad)}, field="nations")
    return codes


def _item(actor: Any, item: Any) -> Item:
    ref = _key(item, "ref")
    return reach(Item.objects.select_related("originating_agency"), actor, "view", what=_("Item %(ref)s") % {"ref": ref}, ref=ref)


def _owned_item(actor: Any, item: Any, message: str) -> Item:
    """The item, if the actor's agency originated it: only the originator changes an item (its files,
    its releasability). Another agency that may see it is refused by name."""
    row = _item(actor, item)
    if row.originating_agency_id is None or row.originating_agency_id != actor.agency_id:
        raise NotAllowed(message % {"agency": row.originating_agency.code if row.originating_agency else "—", "ref": row.ref},
                         rule="originator_only")
    return row


def _recipient(code: Any) -> Recipient:
    code = _key(code, "code")
    r = Recipient.objects.filter(code=code).first()
    if r is None:
        raise BadInput(_("No recipient has the code %(code)s.") % {"code": code}, field="recipient")
    return r


# ---------------------------------------------------------------- items


@action("cases.create_item", capability="add")
def do_create_item(
    actor: Any, *, kind: str, title: str, source: str, people: Sequence[Any], body: str = "",
    item_date: date | None = None, classification: int = Classification.RESTRICTED, release_all: bool = False,
    releasable_to: Iterable[str] = (), nations: Iterable[str] = (), attachments: Sequence[tuple[str, bytes]] = (),
) -> Item:
    if actor.agency_id is None:
        raise NotAllowed(_("Only a user of an agency can register an item: the agency becomes its originator."), rule="agency")
    if kind not in ItemKind.values:
        raise BadInput(_("“%(kind)s” is not an item kind (%(list)s).") % {"kind": kind, "list": ", ".join(ItemKind.values)}, field="kind")
    if not title.strip():
        raise BadInput(_("An item needs a title."), field="title")
    if not source.strip():
        raise BadInput(_("An item needs a source."), field="source")
    if classification not in Classification.values:
        raise BadInput(_("Classification must be 0 to 3."), field="classification")
    if classification > actor.clearance:
        raise NotAllowed(_("You cannot register an item classified above your own clearance."), rule="clearance", field="classification")
    refs = [_key(p, "ref") for p in people]
    if not refs:
        raise BadInput(_("An item must be linked to at least one person."), field="people")
    found = list(restrict(Person.objects.filter(ref__in=refs), actor))
    missing = sorted(set(refs) - {p.ref for p in found})
    if missing:
        raise NotFound(_("No person you may see has the reference(s) %(refs)s.") % {"refs": ", ".join(missing)}, field="people")
    if kind in (ItemKind.INTELLIGENCE, ItemKind.BIOMETRIC_HIT) and not can(actor, "intelligence"):
        raise NotAllowed(_("Your agency does not handle intelligence items."), rule="intelligence", field="kind")
    agencies = _agencies(releasable_to)
    nation_codes = _nations(nations)
    # Check every attachment before writing anything: one bad file refuses the whole item.
    checked = [(name, data, check_attachment(name, data)) for name, data in attachments]
    item = Item.objects.create(
        # A unique placeholder until the primary key gives the reference (ref is unique and 20 wide).
        ref=f"TMP-{uuid.uuid4().hex[:12]}", kind=kind, title=title.strip(), body=body, source=source.strip(),
        item_date=item_date, classification=classification, release_all=release_all,
        originating_agency=actor.agency, created_by=actor)
    item.ref = f"ITM-{item.pk:06d}"
    item.save(update_fields=["ref"])
    item.people.set(found)
    item.releasable_to.set(agencies)
    ItemNation.objects.bulk_create([ItemNation(item=item, country=c) for c in nation_codes])
    stored = [_store_attachment(actor, item, name, data, content_type) for name, data, content_type in checked]
    note(item, ref=item.ref, people=sorted(refs), attachments=[a.sha256 for a in stored])
    return item


def _store_attachment(user: Any, item: Item, name: str, data: bytes, content_type: str) -> Attachment:
    att = Attachment(item=item, original_name=os.path.basename(name)[:255], content_type=content_type, sha256=sha256(data),
                     size=len(data), uploaded_by=user)
    att.file.save(att.sha256, ContentFile(data), save=False)
    att.save()
    return att


@action("cases.add_attachment", capability="change")
def do_add_attachment(actor: Any, item: Any, name: str, data: bytes) -> Attachment:
    row = _owned_item(actor, item, _("Only the originating agency (%(agency)s) adds files to item %(ref)s."))
    content_type = check_attachment(name, data)
    att = _store_attachment(actor, row, name, data, content_type)
    note(att, item=row.ref, sha256=att.sha256, name=att.original_name)
    return att


def releasability_of(item: Item) -> dict[str, Any]:
    return {"release_all": item.release_all, "agencies": sorted(a.code for a in item.releasable_to.all()),
            "nations": item.nations(), "classification": item.classification}


@action("cases.set_releasability", capability="change")
def do_set_releasability(actor: Any, item: Any, *, release_all: bool, agencies: Iterable[str], nations: Iterable[str],
                         reason: str = "", classification: int | None = None) -> ReleasabilityChange:
    """Only the originating agency changes an item's releasability (agencies, nations, classification)."""
    row = _owned_item(actor, item, _("Only the originating agency (%(agency)s) may change the releasability of item %(ref)s."))
    agency_rows = _agencies(agencies)
    nation_codes = _nations(nations)
    if classification is not None and (classification not in Classification.values or classification > actor.clearance):
        raise BadInput(_("Classification must be 0 to 3 and not above your clearance."), field="classification")
    before = releasability_of(row)
    row.release_all = release_all
    if classification is not None:
        row.classification = classification
    row.save(update_fields=["release_all", "classification"])
    row.releasable_to.set(agency_rows)
    ItemNation.objects.filter(item=row).exclude(country__in=nation_codes).delete()
    have = set(ItemNation.objects.filter(item=row).values_list("country", flat=True))
    ItemNation.objects.bulk_create([ItemNation(item=row, country=c) for c in nation_codes if c not in have])
    change = ReleasabilityChange.objects.create(item=row, user=actor, before=before, after=releasability_of(row), reason=reason[:500])
    note(row, before=change.before, after=change.after)
    return change


# ---------------------------------------------------------------- redactions


def parse_spans(text: str) -> list[tuple[int, int]]:
    """“10-20, 35-40” → [(10, 20), (35, 40)] (start inclusive, end exclusive)."""
    spans = []
    for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]:
        try:
            a, b = (int(x) for x in part.split("-", 1))
        except ValueError as exc:
            raise BadInput(_("Span “%(part)s” is not START-END.") % {"part": part}, field="spans") from exc
        spans.append((a, b))
    return spans


def parse_regions(text: str) -> list[tuple[int, int, int, int]]:
    """“10,10,50,20; 0,0,5,5” → [(x, y, w, h), ...]."""
    regions = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        try:
            x, y, w, h = (int(v) for v in part.split(","))
        except ValueError as exc:
            raise BadInput(_("Region “%(part)s” is not X,Y,WIDTH,HEIGHT.") % {"part": part}, field="regions") from exc
        regions.append((x, y, w, h))
    return regions


def _apply_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    if not spans:
        raise BadInput(_("Give at least one span to redact."), field="spans")
    chars = list(text)
    for a, b in spans:
        if not (0 <= a < b <= len(text)):
            raise BadInput(_("Span %(a)s-%(b)s is outside the text (0-%(n)s).") % {"a": a, "b": b, "n": len(text)}, field="spans")
        for i in range(a, b):
            if not chars[i].isspace():
                chars[i] = REDACTION_MARK
    return "".join(chars)


@action("cases.redact", capability="change")
def do_redact(actor: Any, item: Any, *, attachment: Any = None, spans: Sequence[Sequence[int]] = (),
              regions: Sequence[Sequence[int]] = (), reason: str = "") -> RedactedCopy:
    """A redacted copy of the item's text, of one of its text files (spans) or of one of its images
    (regions). Redacting is part of the disclosure review: reviewers (supervisors) who may see the item,
    or the originating agency's own clerks preparing a release."""
    row = _item(actor, item)
    if not (can(actor, "approve") or row.originating_agency_id == actor.agency_id):
        raise NotAllowed(_("Redactions are made by a reviewer (supervisor) or by the originating agency."), rule="role")
    att = None
    if attachment:
        att = row.attachments.filter(pk=_key(attachment, "pk")).first()
        if att is None:
            raise NotFound(_("Item %(ref)s has no file #%(id)s.") % {"ref": row.ref, "id": _key(attachment, "pk")}, field="attachment")
    if att is not None and att.is_image:
        copy = _redact_image(actor, row, att, [(int(x), int(y), int(w), int(h)) for x, y, w, h in regions], reason)
    else:
        copy = _redact_text(actor, row, [(int(a), int(b)) for a, b in spans], att, reason)
    note(copy, item=row.ref, sha256=copy.sha256, kind=copy.kind)
    return copy


def _redact_text(actor: Any, item: Item, spans: Sequence[tuple[int, int]], attachment: Attachment | None, reason: str) -> RedactedCopy:
    if attachment is None:
        source = item.body
        kind = RedactionKind.BODY
        if not source:
            raise BadInput(_("Item %(ref)s has no text to redact.") % {"ref": item.ref}, field="spans")
    else:
        if not attachment.is_text:
            raise BadInput(_("Text redaction applies to the item's text or to one of its text files."), field="attachment")
        with attachment.file.open("rb") as fh:
            source = fh.read().decode("utf-8")
        kind = RedactionKind.TEXT
    redacted = _apply_spans(source, spans)
    data = redacted.encode("utf-8")
    copy = RedactedCopy(item=item, attachment=attachment, kind=kind, spans=[list(s) for s in spans], text=redacted,
                        source_sha256=sha256(source.encode("utf-8")), sha256=sha256(data), reason=reason[:500], created_by=actor,
                        content_type="text/plain")
    if attachment is not None:
        copy.file.save(copy.sha256, ContentFile(data), save=False)
    copy.save()
    return copy


def _redact_image(actor: Any, item: Item, attachment: Attachment, regions: Sequence[tuple[int, int, int, int]],
                  reason: str) -> RedactedCopy:
    if not regions:
        raise BadInput(_("Give at least one region to redact."), field="regions")
    with attachment.file.open("rb") as fh:
        original = fh.read()
    with Image.open(io.BytesIO(original)) as im:
        im.load()
        out = im.convert("RGB")
    draw = ImageDraw.Draw(out)
    for x, y, w, h in regions:
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > out.width or y + h > out.height:
            raise BadInput(_("Region %(r)s is outside the %(w)s×%(h)s image.") % {"r": f"{x},{y},{w},{h}", "w": out.width, "h": out.height},
                           field="regions")
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(0, 0, 0))
    buf = io.BytesIO()
    # PNG: lossless, so the black boxes stay exactly black, and no EXIF of the original is carried over.
    out.save(buf, format="PNG")
    data = buf.getvalue()
    copy = RedactedCopy(item=item, attachment=attachment, kind=RedactionKind.IMAGE, regions=[list(r) for r in regions],
                        source_sha256=attachment.sha256, sha256=sha256(data), reason=reason[:500], created_by=actor,
                        content_type="image/png")
    copy.file.save(copy.sha256, ContentFile(data), save=False)
    copy.save()
    return copy


# ---------------------------------------------------------------- disclosure review


def _event(req: DisclosureRequest, user: Any, action: str, from_state: str, text: str = "") -> None:
    DisclosureEvent.objects.create(request=req, user=user, action=action, from_state=from_state, to_state=req.state, note=text)


def _request(actor: Any, req: Any) -> DisclosureRequest:
    # Locked, so that two reviewers acting at once see each other's decision.
    pk = _key(req, "pk")
    return reach(DisclosureRequest.objects.select_related("item", "recipient", "requested_by"), actor, "view",
                 what=f"D-{pk}", lock=True, pk=pk)


def _reviewable(actor: Any, req: Any) -> DisclosureRequest:
    row = _request(actor, req)
    if row.requested_by_id == actor.pk:
        raise NotAllowed(_("The person who requested a disclosure cannot review or approve it."), rule="not_requester")
    return row


def _still_open(req: DisclosureRequest) -> None:
    if req.state not in OPEN_STATES:
        raise RuleError(_("Request D-%(id)s is already %(state)s.") % {"id": req.pk, "state": req.get_state_display()}, rule="closed")


def _decided(req: DisclosureRequest) -> None:
    note(req, item=req.item.ref, state=req.state)


@action("cases.request_disclosure", capability="add")
def do_request_disclosure(actor: Any, item: Any, recipient: Any, justification: str) -> DisclosureRequest:
    row = _item(actor, item)
    rcpt = _recipient(recipient)
    if not justification.strip():
        raise BadInput(_("Say why the item should be disclosed."), field="justification")
    if DisclosureRequest.objects.filter(item=row, recipient=rcpt, state__in=OPEN_STATES).exists():
        raise RuleError(_("Item %(ref)s already has an open disclosure request to %(rcpt)s.") % {"ref": row.ref, "rcpt": rcpt.code},
                        rule="one_open")
    req = DisclosureRequest.objects.create(item=row, recipient=rcpt, justification=justification.strip(), requested_by=actor)
    _event(req, actor, "requested", "", justification.strip())
    note(req, item=row.ref, recipient=rcpt.code)
    return req


@action("cases.review_disclosure", capability="approve")
def do_start_review(actor: Any, req: Any, reason: str = "") -> DisclosureRequest:
    row = _reviewable(actor, req)
    if row.state != DisclosureState.REQUESTED:
        raise RuleError(_("Request D-%(id)s is %(state)s, not requested.") % {"id": row.pk, "state": row.get_state_display()}, rule="state")
    prev = row.state
    row.state = DisclosureState.UNDER_REVIEW
    row.reviewer = actor
    row.save(update_fields=["state", "reviewer"])
    _event(row, actor, "review_started", prev, reason)
    _decided(row)
    return row


@action("cases.approve_disclosure", capability="approve")
def do_approve(actor: Any, req: Any, reason: str, redactions: Sequence[Any] = ()) -> DisclosureRequest:
    """Approve (with redactions when given). Above the two-person level the first approval waits for a
    second supervisor, who must be neither the requester nor the first approver."""
    row = _reviewable(actor, req)
    _still_open(row)
    if not reason.strip():
        raise BadInput(_("Give the reasons for the decision."), field="reason")
    item = row.item
    ids = sorted({int(_key(r, "pk")) for r in redactions})
    copies = list(restrict(RedactedCopy.objects.filter(pk__in=ids, item=item), actor))
    if len(copies) != len(ids):
        raise BadInput(_("Some redacted copies are not copies of item %(ref)s.") % {"ref": item.ref}, field="redactions")
    if not ItemNation.objects.filter(item=item, country=row.recipient.country).exists():
        raise RuleError(_("Item %(ref)s is not releasable to %(country)s; only its originating agency (%(agency)s) can change that.")
                        % {"ref": item.ref, "country": row.recipient.country,
                           "agency": item.originating_agency.code if item.originating_agency else "—"}, rule="not_releasable")
    prev = row.state
    needs_two = item.classification > two_person_level()
    if needs_two and row.first_approver_id is None:
        row.first_approver = actor
        row.first_approved_at = timezone.now()
        row.state = DisclosureState.UNDER_REVIEW
        row.reviewer = row.reviewer or actor
        row.save(update_fields=["first_approver", "first_approved_at", "state", "reviewer"])
        row.redactions.set(copies)
        _event(row, actor, "first_approval", prev, reason.strip())
        _decided(row)
        return row
    if needs_two:
        if row.first_approver_id == actor.pk:
            raise RuleError(_("Item %(ref)s is classified above the two-person level: a second, different supervisor must approve.")
                            % {"ref": item.ref}, rule="two_person")
        if ids != sorted(row.redactions.values_list("pk", flat=True)):
            raise RuleError(_("The second approval must confirm the same redactions as the first; refuse instead to change them."),
                            rule="same_redactions", field="redactions")
        row.second_approver = actor
    else:
        row.first_approver = actor
        row.first_approved_at = timezone.now()
        row.redactions.set(copies)
    row.state = DisclosureState.APPROVED_REDACTED if copies else DisclosureState.APPROVED
    row.reviewer = row.reviewer or actor
    row.decision_reason = reason.strip()
    row.decided_at = timezone.now()
    row.save()
    _event(row, actor, "approved", prev, reason.strip())
    _decided(row)
    return row


@action("cases.refuse_disclosure", capability="approve")
def do_refuse(actor: Any, req: Any, reason: str) -> DisclosureRequest:
    row = _reviewable(actor, req)
    _still_open(row)
    if not reason.strip():
        raise BadInput(_("A refusal needs its reasons."), field="reason")
    prev = row.state
    row.state = DisclosureState.REFUSED
    row.reviewer = row.reviewer or actor
    row.decision_reason = reason.strip()
    row.decided_at = timezone.now()
    row.save()
    _event(row, actor, "refused", prev, reason.strip())
    _decided(row)
    return row


@action("cases.withdraw_disclosure", capability="add")
def do_withdraw(actor: Any, req: Any, reason: str = "") -> DisclosureRequest:
    row = _request(actor, req)
    if row.requested_by_id != actor.pk and not (can(actor, "approve") and row.requested_by.agency_id == actor.agency_id):
        raise NotAllowed(_("Only the requester or a supervisor of the requester's agency withdraws a request."), rule="requester")
    _still_open(row)
    prev = row.state
    row.state = DisclosureState.WITHDRAWN
    row.decided_at = timezone.now()
    row.save(update_fields=["state", "decided_at"])
    _event(row, actor, "withdrawn", prev, reason)
    _decided(row)
    return row


# ---------------------------------------------------------------- prosecution files


@action("cases.generate_file", capability="export")
def do_generate_file(actor: Any, person: Any, recipient: Any, *, language: str = "en",
                     item_refs: Sequence[str] | None = None) -> ProsecutionFile:
    """The prosecution file of one person for one recipient (custody.cases.prosecution builds it): only
    what the actor may see and what reviewers approved for the recipient goes in."""
    if language not in prosecution.LANGUAGES:
        raise BadInput(_("Language must be en or ar."), field="language")
    ref = _key(person, "ref")
    row = reach(Person.objects.all(), actor, "view", what=_("Person %(ref)s") % {"ref": ref}, ref=ref)
    rcpt = _recipient(recipient)
    requests = prosecution.select_requests(actor, row, rcpt, item_refs)
    bundle = prosecution.build_bundle(actor, row, rcpt, requests, language)
    pdf = prosecution.render_pdf(bundle, language)
    bundle["pdf_sha256"] = sha256(pdf)
    data = json.dumps(bundle, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    pf = ProsecutionFile(person=row, recipient=rcpt, language=language, generated_by=actor,
                         item_refs=[r.item.ref for r in requests], disclosure_ids=[r.pk for r in requests],
                         pdf_sha256=sha256(pdf), bundle_sha256=sha256(data))
    base = f"{row.ref}_{rcpt.code}_{language}_{stamp}"
    pf.pdf.save(f"{base}.pdf", ContentFile(pdf), save=False)
    pf.bundle.save(f"{base}.json", ContentFile(data), save=False)
    pf.save()
    pf.items.set([r.item for r in requests])
    note(pf, person=row.ref, recipient=rcpt.code, items=pf.item_refs, pdf_sha256=pf.pdf_sha256, bundle_sha256=pf.bundle_sha256)
    return pf


# ---------------------------------------------------------------- recipients


@action("cases.add_recipient", capability="approve")
def do_add_recipient(actor: Any, *, code: str, name: str, kind: str, country: str, name_ar: str = "") -> Recipient:
    code, country = code.strip(), country.strip().upper()
    if not code:
        raise BadInput(_("A recipient needs a code."), field="code")
    if not name.strip():
        raise BadInput(_("A recipient needs a name."), field="name")
    if kind not in RecipientKind.values:
        raise BadInput(_("“%(kind)s” is not a kind of recipient.") % {"kind": kind}, field="kind")
    if not is_country_code(country):
        raise BadInput(_("“%(codes)s” is not a two-letter ISO country code.") % {"codes": country}, field="country")
    if Recipient.objects.filter(code=code).exists():
        raise RuleError(_("A recipient with the code %(code)s exists already.") % {"code": code}, rule="unique", field="code")
    r = Recipient.objects.create(code=code, name=name.strip(), name_ar=name_ar.strip(), kind=kind, country=country)
    note(r, code=r.code)
    return r


# ---------------------------------------------------------------- case status


STAGE_DATE_FIELD = {
    CaseStage.INVESTIGATION: "opened_on", CaseStage.REFERRED: "referred_on", CaseStage.CHARGED: "charged_on",
    CaseStage.TRIAL: "trial_on", CaseStage.VERDICT: "verdict_on", CaseStage.SENTENCE: "sentence_on",
}
STAGE_LEGAL_STATUS = {CaseStage.CHARGED: LegalStatus.CHARGED, CaseStage.TRIAL: LegalStatus.ON_TRIAL}


def case_owners(case: Case | None, person: Person) -> set[int]:
    """The agencies that may change a person's case: whoever opened it (its first step) and the
    authority holding the person now. Before a case exists, any agency that may change the person opens it."""
    owners = {person.current_custodian_id} if person.current_custodian_id else set()
    first = case.steps.select_related("user").order_by("at", "id").first() if case is not None else None
    if first is not None and first.user.agency_id:
        owners.add(first.user.agency_id)
    return owners


@action("cases.set_status", capability="change")
def do_set_case_status(actor: Any, person: Any, *, stage: str, on: date | None, court: str = "", note_text: str = "",
                       verdict: str = "", sentence: str = "", next_hearing: date | None = None) -> Case:
    ref = _key(person, "ref")
    row = reach(Person.objects.all(), actor, "change", what=_("Person %(ref)s") % {"ref": ref}, lock=True, ref=ref)
    if stage not in STAGE_ORDER:
        raise BadInput(_("“%(stage)s” is not a case status (%(list)s).") % {"stage": stage, "list": ", ".join(STAGE_ORDER)}, field="stage")
    if on is None:
        raise BadInput(_("Give the date of the status."), field="on")
    if on > timezone.localdate():
        raise BadInput(_("The date %(d)s is in the future.") % {"d": on.isoformat()}, field="on")
    if stage in (CaseStage.REFERRED, CaseStage.CHARGED, CaseStage.TRIAL) and not court.strip():
        raise BadInput(_("Name the court for the status “%(stage)s”.") % {"stage": CaseStage(stage).label}, field="court")
    if stage == CaseStage.VERDICT and verdict not in (Verdict.CONVICTED, Verdict.ACQUITTED):
        raise BadInput(_("A verdict is either convicted or acquitted."), field="verdict")
    if stage == CaseStage.SENTENCE and not sentence.strip():
        raise BadInput(_("Give the sentence."), field="sentence")
    case = Case.objects.select_for_update().filter(person=row).first()
    if case is not None and actor.agency_id not in case_owners(case, row):
        raise NotAllowed(_("The case of %(ref)s is kept by the agency that opened it and the authority holding him; yours is neither.")
                         % {"ref": row.ref}, rule="case_owner")
    if case is None:
        case = Case(person=row, updated_by=actor, opened_on=on)
    elif stage == CaseStage.SENTENCE and case.verdict != Verdict.CONVICTED:
        raise RuleError(_("A sentence follows a conviction; record the verdict first."), rule="order", field="stage")
    case.stage = stage
    setattr(case, STAGE_DATE_FIELD[CaseStage(stage)], on)
    if court.strip():
        case.court = court.strip()
    if verdict:
        case.verdict = verdict
    if sentence.strip():
        case.sentence = sentence.strip()
    case.next_hearing = next_hearing
    case.updated_by = actor
    case.save()
    CaseStep.objects.create(case=case, stage=stage, on=on, court=court.strip(), note=note_text[:500], user=actor)
    # The registry's legal status follows the case, so that lists and the repatriation rules agree.
    legal = STAGE_LEGAL_STATUS.get(CaseStage(stage))
    if stage in (CaseStage.VERDICT, CaseStage.SENTENCE):
        legal = LegalStatus.CONVICTED if case.verdict == Verdict.CONVICTED else LegalStatus.HELD
    if legal and row.legal_status != legal:
        Person.objects.filter(pk=row.pk).update(legal_status=legal)
    note(case, person=row.ref, stage=case.stage)
    return case


def trial_pending(person: Person) -> bool:
    """True from referral until the verdict (the case), or while the registry says charged/on trial."""
    case = Case.objects.filter(person=person).first()
    if case is not None and case.trial_pending:
        return True
    return person.legal_status in (LegalStatus.CHARGED, LegalStatus.ON_TRIAL)
