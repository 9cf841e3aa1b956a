"""The only place that changes cases and disclosure state. Every function takes the acting user, checks
the rule it enforces, and raises RuleError (shown to the user as is) before anything is written."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.accounts.models import Agency, Classification
from custody.cases.filetypes import check_attachment
from custody.cases.models import (
    APPROVED_STATES,
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
    RedactedCopy,
    RedactionKind,
    ReleasabilityChange,
    Verdict,
)
from custody.core.access import can, restrict
from custody.core.errors import RuleError
from custody.registry.countries import is_country_code
from custody.registry.models import LegalStatus, Person

REDACTION_MARK = "█"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def two_person_level() -> int:
    """Approval of an item classified ABOVE this level needs two different supervisors.

    Configured by settings.CASES_TWO_PERSON_ABOVE or the environment variable
    CUSTODY_CASES_TWO_PERSON_ABOVE; default 1 (Restricted), so Confidential and Secret need two."""
    value = getattr(settings, "CASES_TWO_PERSON_ABOVE", None)
    if value is None:
        value = os.environ.get("CUSTODY_CASES_TWO_PERSON_ABOVE", Classification.RESTRICTED)
    return int(value)


def _require(user: Any, action: str) -> None:
    if not can(user, action):
        raise RuleError(_("Your role does not allow this action (%(action)s).") % {"action": action}, rule="role")


def _agencies(codes: Iterable[str]) -> list[Agency]:
    codes = sorted({c.strip().upper() for c in codes if c.strip()})
    found = {a.code: a for a in Agency.objects.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        raise RuleError(_("Unknown agency code(s): %(codes)s.") % {"codes": ", ".join(missing)}, field="releasable_to")
    return [found[c] for c in codes]


def _nations(codes: Iterable[str]) -> list[str]:
    codes = sorted({c.strip().upper() for c in codes if c.strip()})
    bad = [c for c in codes if not is_country_code(c)]
    if bad:
        raise RuleError(_("“%(codes)s” is not a two-letter ISO country code.") % {"codes": ", ".join(bad)}, field="nations")
    return codes


# ---------------------------------------------------------------- items


@transaction.atomic
def create_item(
    user: Any, *, kind: str, title: str, source: str, people: Sequence[Person], body: str = "",
    item_date: date | None = None, classification: int = Classification.RESTRICTED, release_all: bool = False,
    releasable_to: Iterable[str] = (), nations: Iterable[str] = (), attachments: Sequence[tuple[str, bytes]] = (),
) -> Item:
    _require(user, "add")
    if user.agency_id is None:
        raise RuleError(_("Only a user of an agency can register an item: the agency becomes its originator."))
    if kind not in ItemKind.values:
        raise RuleError(_("“%(kind)s” is not an item kind (%(list)s).") % {"kind": kind, "list": ", ".join(ItemKind.values)}, field="kind")
    if not title.strip():
        raise RuleError(_("An item needs a title."), field="title")
    if not source.strip():
        raise RuleError(_("An item needs a source."), field="source")
    if classification not in Classification.values:
        raise RuleError(_("Classification must be 0 to 3."), field="classification")
    if classification > user.clearance:
        raise RuleError(_("You cannot register an item classified above your own clearance."), field="classification")
    if not people:
        raise RuleError(_("An item must be linked to at least one person."), field="people")
    visible = set(restrict(Person.objects.filter(pk__in=[p.pk for p in people]), user).values_list("pk", flat=True))
    for p in people:
        if p.pk not in visible:
            raise RuleError(_("Person %(ref)s is not one you may see.") % {"ref": p.ref}, field="people")
    if kind in (ItemKind.INTELLIGENCE, ItemKind.BIOMETRIC_HIT) and not can(user, "intelligence"):
        raise RuleError(_("Your agency does not handle intelligence items."), field="kind")
    agencies = _agencies(releasable_to)
    nation_codes = _nations(nations)
    # Check every attachment before writing anything: one bad file refuses the whole item.
    checked = [(name, data, check_attachment(name, data)) for name, data in attachments]
    item = Item.objects.create(
        # A unique placeholder until the primary key gives the reference (ref is unique and 20 wide).
        ref=f"TMP-{uuid.uuid4().hex[:12]}", kind=kind, title=title.strip(), body=body, source=source.strip(),
        item_date=item_date, classification=classification, release_all=release_all,
        originating_agency=user.agency, created_by=user)
    item.ref = f"ITM-{item.pk:06d}"
    item.save(update_fields=["ref"])
    item.people.set(people)
    item.releasable_to.set(agencies)
    ItemNation.objects.bulk_create([ItemNation(item=item, country=c) for c in nation_codes])
    for name, data, content_type in checked:
        _store_attachment(user, item, name, data, content_type)
    return item


def _store_attachment(user: Any, item: Item, name: str, data: bytes, content_type: str) -> Attachment:
    att = Attachment(item=item, original_name=os.path.basename(name)[:255], content_type=content_type, sha256=sha256(data),
                     size=len(data), uploaded_by=user)
    att.file.save(att.sha256, ContentFile(data), save=False)
    att.save()
    return att


@transaction.atomic
def add_attachment(user: Any, item: Item, name: str, data: bytes) -> Attachment:
    _require(user, "change")
    if not restrict(Item.objects.filter(pk=item.pk), user, "change").exists():
        raise RuleError(_("Only the originating agency (%(agency)s) adds files to item %(ref)s.")
                        % {"agency": item.originating_agency.code if item.originating_agency else "—", "ref": item.ref})
    content_type = check_attachment(name, data)
    return _store_attachment(user, item, name, data, content_type)


def releasability_of(item: Item) -> dict[str, Any]:
    return {"release_all": item.release_all, "agencies": sorted(a.code for a in item.releasable_to.all()),
            "nations": item.nations(), "classification": item.classification}


@transaction.atomic
def set_releasability(user: Any, item: Item, *, release_all: bool, agencies: Iterable[str], nations: Iterable[str],
                      reason: str = "", classification: int | None = None) -> ReleasabilityChange:
    """Only the originating agency changes an item's releasability (agencies, nations, classification)."""
    _require(user, "change")
    if item.originating_agency_id != user.agency_id:
        raise RuleError(_("Only the originating agency (%(agency)s) may change the releasability of item %(ref)s.")
                        % {"agency": item.originating_agency.code if item.originating_agency else "—", "ref": item.ref},
                        rule="originator_only")
    agency_rows = _agencies(agencies)
    nation_codes = _nations(nations)
    if classification is not None and (classification not in Classification.values or classification > user.clearance):
        raise RuleError(_("Classification must be 0 to 3 and not above your clearance."), field="classification")
    before = releasability_of(item)
    item.release_all = release_all
    if classification is not None:
        item.classification = classification
    item.save(update_fields=["release_all", "classification"])
    item.releasable_to.set(agency_rows)
    ItemNation.objects.filter(item=item).exclude(country__in=nation_codes).delete()
    have = set(ItemNation.objects.filter(item=item).values_list("country", flat=True))
    ItemNation.objects.bulk_create([ItemNation(item=item, country=c) for c in nation_codes if c not in have])
    return ReleasabilityChange.objects.create(item=item, user=user, before=before, after=releasability_of(item), reason=reason[:500])


# ---------------------------------------------------------------- redactions


def parse_spans(text: str) -> list[tuple[int, int]]:
    """“10-20, 35-40” → [(10, 20), (35, 40)] (start inclusive, end exclusive)."""
    spans = []
    for part in [p.strip() for p in text.replace(";", ",").split(",") if p.strip()]:
        try:
            a, b = (int(x) for x in part.split("-", 1))
        except ValueError as exc:
            raise RuleError(_("Span “%(part)s” is not START-END.") % {"part": part}, field="spans") from exc
        spans.append((a, b))
    return spans


def parse_regions(text: str) -> list[tuple[int, int, int, int]]:
    """“10,10,50,20; 0,0,5,5” → [(x, y, w, h), ...]."""
    regions = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        try:
            x, y, w, h = (int(v) for v in part.split(","))
        except ValueError as exc:
            raise RuleError(_("Region “%(part)s” is not X,Y,WIDTH,HEIGHT.") % {"part": part}, field="regions") from exc
        regions.append((x, y, w, h))
    return regions


def _apply_spans(text: str, spans: Sequence[tuple[int, int]]) -> str:
    if not spans:
        raise RuleError(_("Give at least one span to redact."), field="spans")
    chars = list(text)
    for a, b in spans:
        if not (0 <= a < b <= len(text)):
            raise RuleError(_("Span %(a)s-%(b)s is outside the text (0-%(n)s).") % {"a": a, "b": b, "n": len(text)}, field="spans")
        for i in range(a, b):
            if not chars[i].isspace():
                chars[i] = REDACTION_MARK
    return "".join(chars)


def _reviewable_item(user: Any, item: Item) -> None:
    # Redacting is part of the disclosure review: reviewers (supervisors) who may see the item, or the
    # originating agency's own clerks preparing a release.
    if not restrict(Item.objects.filter(pk=item.pk), user).exists():
        raise RuleError(_("Item %(ref)s is not one you may see.") % {"ref": item.ref})
    if not (can(user, "approve") or (can(user, "change") and item.originating_agency_id == user.agency_id)):
        raise RuleError(_("Redactions are made by a reviewer (supervisor) or by the originating agency."), rule="role")


@transaction.atomic
def redact_text(user: Any, item: Item, spans: Sequence[tuple[int, int]], *, attachment: Attachment | None = None,
                reason: str = "") -> RedactedCopy:
    _reviewable_item(user, item)
    if attachment is None:
        source = item.body
        kind = RedactionKind.BODY
        if not source:
            raise RuleError(_("Item %(ref)s has no text to redact.") % {"ref": item.ref}, field="spans")
    else:
        if attachment.item_id != item.pk or not attachment.is_text:
            raise RuleError(_("Text redaction applies to the item's text or to one of its text files."), field="attachment")
        with attachment.file.open("rb") as fh:
            source = fh.read().decode("utf-8")
        kind = RedactionKind.TEXT
    redacted = _apply_spans(source, spans)
    data = redacted.encode("utf-8")
    copy = RedactedCopy(item=item, attachment=attachment, kind=kind, spans=[list(s) for s in spans], text=redacted,
                        source_sha256=sha256(source.encode("utf-8")), sha256=sha256(data), reason=reason[:500], created_by=user,
                        content_type="text/plain")
    if attachment is not None:
        copy.file.save(copy.sha256, ContentFile(data), save=False)
    copy.save()
    return copy


@transaction.atomic
def redact_image(user: Any, item: Item, attachment: Attachment, regions: Sequence[tuple[int, int, int, int]], *,
                 reason: str = "") -> RedactedCopy:
    from PIL import Image, ImageDraw

    _reviewable_item(user, item)
    if attachment.item_id != item.pk or not attachment.is_image:
        raise RuleError(_("Image redaction applies to one of the item's image files."), field="attachment")
    if not regions:
        raise RuleError(_("Give at least one region to redact."), field="regions")
    with attachment.file.open("rb") as fh:
        original = fh.read()
    with Image.open(io.BytesIO(original)) as im:
        im.load()
        out = im.convert("RGB")
    draw = ImageDraw.Draw(out)
    for x, y, w, h in regions:
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > out.width or y + h > out.height:
            raise RuleError(_("Region %(r)s is outside the %(w)s×%(h)s image.") % {"r": f"{x},{y},{w},{h}", "w": out.width, "h": out.height},
                            field="regions")
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(0, 0, 0))
    buf = io.BytesIO()
    # PNG: lossless, so the black boxes stay exactly black, and no EXIF of the original is carried over.
    out.save(buf, format="PNG")
    data = buf.getvalue()
    copy = RedactedCopy(item=item, attachment=attachment, kind=RedactionKind.IMAGE, regions=[list(r) for r in regions],
                        source_sha256=attachment.sha256, sha256=sha256(data), reason=reason[:500], created_by=user,
                        content_type="image/png")
    copy.file.save(copy.sha256, ContentFile(data), save=False)
    copy.save()
    return copy


# ---------------------------------------------------------------- disclosure review


def _event(req: DisclosureRequest, user: Any, action: str, from_state: str, note: str = "") -> None:
    DisclosureEvent.objects.create(request=req, user=user, action=action, from_state=from_state, to_state=req.state, note=note)


def _lock(req: DisclosureRequest) -> DisclosureRequest:
    # Re-read under lock so that two reviewers acting at once see each other's decision.
    return DisclosureRequest.objects.select_for_update().select_related("item", "recipient").get(pk=req.pk)


@transaction.atomic
def request_disclosure(user: Any, item: Item, recipient: Any, justification: str) -> DisclosureRequest:
    _require(user, "add")
    if not restrict(Item.objects.filter(pk=item.pk), user).exists():
        raise RuleError(_("Item %(ref)s is not one you may see.") % {"ref": item.ref})
    if not justification.strip():
        raise RuleError(_("Say why the item should be disclosed."), field="justification")
    if DisclosureRequest.objects.filter(item=item, recipient=recipient, state__in=OPEN_STATES).exists():
        raise RuleError(_("Item %(ref)s already has an open disclosure request to %(rcpt)s.") % {"ref": item.ref, "rcpt": recipient.code})
    req = DisclosureRequest.objects.create(item=item, recipient=recipient, justification=justification.strip(), requested_by=user)
    _event(req, user, "requested", "", justification.strip())
    return req


def _check_reviewer(user: Any, req: DisclosureRequest) -> None:
    _require(user, "approve")
    if not restrict(Item.objects.filter(pk=req.item_id), user).exists():
        raise RuleError(_("Item %(ref)s is not one you may see.") % {"ref": req.item.ref})
    if req.requested_by_id == user.pk:
        raise RuleError(_("The person who requested a disclosure cannot review or approve it."), rule="not_requester")


@transaction.atomic
def start_review(user: Any, req: DisclosureRequest, note: str = "") -> DisclosureRequest:
    req = _lock(req)
    _check_reviewer(user, req)
    if req.state != DisclosureState.REQUESTED:
        raise RuleError(_("Request D-%(id)s is %(state)s, not requested.") % {"id": req.pk, "state": req.get_state_display()})
    prev = req.state
    req.state = DisclosureState.UNDER_REVIEW
    req.reviewer = user
    req.save(update_fields=["state", "reviewer"])
    _event(req, user, "review_started", prev, note)
    return req


@transaction.atomic
def approve(user: Any, req: DisclosureRequest, reason: str, redactions: Sequence[RedactedCopy] = ()) -> DisclosureRequest:
    """Approve (with redactions when given). Above the two-person level the first approval waits for a
    second supervisor, who must be neither the requester nor the first approver."""
    req = _lock(req)
    _check_reviewer(user, req)
    if req.state not in OPEN_STATES:
        raise RuleError(_("Request D-%(id)s is already %(state)s.") % {"id": req.pk, "state": req.get_state_display()})
    if not reason.strip():
        raise RuleError(_("Give the reasons for the decision."), field="reason")
    item = req.item
    if not ItemNation.objects.filter(item=item, country=req.recipient.country).exists():
        raise RuleError(_("Item %(ref)s is not releasable to %(country)s; only its originating agency (%(agency)s) can change that.")
                        % {"ref": item.ref, "country": req.recipient.country,
                           "agency": item.originating_agency.code if item.originating_agency else "—"}, rule="not_releasable")
    for r in redactions:
        if r.item_id != item.pk:
            raise RuleError(_("Redacted copy #%(id)s belongs to another item.") % {"id": r.pk}, field="redactions")
    prev = req.state
    needs_two = item.classification > two_person_level()
    if needs_two and req.first_approver_id is None:
        req.first_approver = user
        req.first_approved_at = timezone.now()
        req.state = DisclosureState.UNDER_REVIEW
        req.reviewer = req.reviewer or user
        req.save(update_fields=["first_approver", "first_approved_at", "state", "reviewer"])
        req.redactions.set(redactions)
        _event(req, user, "first_approval", prev, reason.strip())
        return req
    if needs_two:
        if req.first_approver_id == user.pk:
            raise RuleError(_("Item %(ref)s is classified above the two-person level: a second, different supervisor must approve.")
                            % {"ref": item.ref}, rule="two_person")
        if sorted(r.pk for r in redactions) != sorted(req.redactions.values_list("pk", flat=True)):
            raise RuleError(_("The second approval must confirm the same redactions as the first; refuse instead to change them."),
                            field="redactions")
        req.second_approver = user
    else:
        req.first_approver = user
        req.first_approved_at = timezone.now()
        req.redactions.set(redactions)
    req.state = DisclosureState.APPROVED_REDACTED if redactions else DisclosureState.APPROVED
    req.reviewer = req.reviewer or user
    req.decision_reason = reason.strip()
    req.decided_at = timezone.now()
    req.save()
    _event(req, user, "approved", prev, reason.strip())
    return req


@transaction.atomic
def refuse(user: Any, req: DisclosureRequest, reason: str) -> DisclosureRequest:
    req = _lock(req)
    _check_reviewer(user, req)
    if req.state not in OPEN_STATES:
        raise RuleError(_("Request D-%(id)s is already %(state)s.") % {"id": req.pk, "state": req.get_state_display()})
    if not reason.strip():
        raise RuleError(_("A refusal needs its reasons."), field="reason")
    prev = req.state
    req.state = DisclosureState.REFUSED
    req.reviewer = req.reviewer or user
    req.decision_reason = reason.strip()
    req.decided_at = timezone.now()
    req.save()
    _event(req, user, "refused", prev, reason.strip())
    return req


@transaction.atomic
def withdraw(user: Any, req: DisclosureRequest, reason: str = "") -> DisclosureRequest:
    req = _lock(req)
    _require(user, "add")
    if req.requested_by_id != user.pk and not (can(user, "approve") and req.requested_by.agency_id == user.agency_id):
        raise RuleError(_("Only the requester or a supervisor of the requester's agency withdraws a request."))
    if req.state not in OPEN_STATES:
        raise RuleError(_("Request D-%(id)s is already %(state)s.") % {"id": req.pk, "state": req.get_state_display()})
    prev = req.state
    req.state = DisclosureState.WITHDRAWN
    req.decided_at = timezone.now()
    req.save(update_fields=["state", "decided_at"])
    _event(req, user, "withdrawn", prev, reason)
    return req


def approved_for(user: Any, person: Person, recipient: Any) -> list[DisclosureRequest]:
    """Approved disclosures of this person's items to this recipient that still hold: the item is still
    releasable to the recipient's country and the user may still see it."""
    items = restrict(Item.objects.filter(people=person), user).filter(release_nations__country=recipient.country)
    return list(DisclosureRequest.objects.filter(recipient=recipient, state__in=APPROVED_STATES, item__in=items.values("pk"))
                .select_related("item").prefetch_related("redactions").order_by("item__ref", "-decided_at"))


# ---------------------------------------------------------------- case status


STAGE_DATE_FIELD = {
    CaseStage.INVESTIGATION: "opened_on", CaseStage.REFERRED: "referred_on", CaseStage.CHARGED: "charged_on",
    CaseStage.TRIAL: "trial_on", CaseStage.VERDICT: "verdict_on", CaseStage.SENTENCE: "sentence_on",
}
STAGE_LEGAL_STATUS = {CaseStage.CHARGED: LegalStatus.CHARGED, CaseStage.TRIAL: LegalStatus.ON_TRIAL}


@transaction.atomic
def set_case_status(user: Any, person: Person, *, stage: str, on: date, court: str = "", note: str = "",
                    verdict: str = "", sentence: str = "", next_hearing: date | None = None) -> Case:
    _require(user, "change")
    if not restrict(Person.objects.filter(pk=person.pk), user, "change").exists():
        raise RuleError(_("Person %(ref)s is not one you may change.") % {"ref": person.ref})
    if stage not in STAGE_ORDER:
        raise RuleError(_("“%(stage)s” is not a case status (%(list)s).") % {"stage": stage, "list": ", ".join(STAGE_ORDER)}, field="stage")
    if on is None:
        raise RuleError(_("Give the date of the status."), field="on")
    if on > timezone.localdate():
        raise RuleError(_("The date %(d)s is in the future.") % {"d": on.isoformat()}, field="on")
    if stage in (CaseStage.REFERRED, CaseStage.CHARGED, CaseStage.TRIAL) and not court.strip():
        raise RuleError(_("Name the court for the status “%(stage)s”.") % {"stage": CaseStage(stage).label}, field="court")
    if stage == CaseStage.VERDICT and verdict not in (Verdict.CONVICTED, Verdict.ACQUITTED):
        raise RuleError(_("A verdict is either convicted or acquitted."), field="verdict")
    if stage == CaseStage.SENTENCE and not sentence.strip():
        raise RuleError(_("Give the sentence."), field="sentence")
    case = Case.objects.select_for_update().filter(person=person).first()
    if case is None:
        case = Case(person=person, updated_by=user, opened_on=on)
    elif stage == CaseStage.SENTENCE and case.verdict != Verdict.CONVICTED:
        raise RuleError(_("A sentence follows a conviction; record the verdict first."), field="stage")
    case.stage = stage
    setattr(case, STAGE_DATE_FIELD[CaseStage(stage)], on)
    if court.strip():
        case.court = court.strip()
    if verdict:
        case.verdict = verdict
    if sentence.strip():
        case.sentence = sentence.strip()
    case.next_hearing = next_hearing
    case.updated_by = user
    case.save()
    CaseStep.objects.create(case=case, stage=stage, on=on, court=court.strip(), note=note[:500], user=user)
    # The registry's legal status follows the case, so that lists and the repatriation rules agree.
    legal = STAGE_LEGAL_STATUS.get(CaseStage(stage))
    if stage in (CaseStage.VERDICT, CaseStage.SENTENCE):
        legal = LegalStatus.CONVICTED if case.verdict == Verdict.CONVICTED else LegalStatus.HELD
    if legal and person.legal_status != legal:
        Person.objects.filter(pk=person.pk).update(legal_status=legal)
    return case


def trial_pending(person: Person) -> bool:
    """True from referral until the verdict (the case), or while the registry says charged/on trial."""
    case = Case.objects.filter(person=person).first()
    if case is not None and case.trial_pending:
        return True
    return person.legal_status in (LegalStatus.CHARGED, LegalStatus.ON_TRIAL)
