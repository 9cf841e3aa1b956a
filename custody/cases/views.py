"""Cases pages: case status lists, a person's case, items, disclosure review, prosecution files,
recipients. Every query goes through restrict(); every read, change, refusal and generation is audited."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.cases import prosecution, services
from custody.cases.forms import (
    AttachForm,
    CaseStatusForm,
    DecisionForm,
    DisclosureRequestForm,
    GenerateForm,
    ItemForm,
    RecipientForm,
    RedactForm,
    ReleasabilityForm,
    form_errors,
)
from custody.cases.models import (
    Attachment,
    Case,
    CaseStage,
    DisclosureRequest,
    DisclosureState,
    Item,
    ItemKind,
    ProsecutionFile,
    Recipient,
    RedactedCopy,
)
from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.downloads import audited_download
from custody.core.errors import RuleError
from custody.registry.countries import country_name, is_country_code
from custody.registry.models import Facility, Person, PopulationGroup


def _refused(request: HttpRequest, action: str, exc: RuleError, obj: Any = None, **detail: Any) -> None:
    audit.record(request, action, obj=obj, outcome="denied", message=exc.message, **detail)


# ---------------------------------------------------------------- case status lists


def case_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    qs = restrict(Person.objects.filter(group=PopulationGroup.DETAINEE), user).select_related("case", "current_facility")
    active = {k: request.GET.get(k, "").strip() for k in ("status", "nationality", "facility")}
    if active["status"] == "none":
        qs = qs.filter(case__isnull=True)
    elif active["status"]:
        qs = qs.filter(case__stage=active["status"])
    if active["nationality"]:
        qs = qs.filter(nationalities__country=active["nationality"].upper())
    if active["facility"]:
        qs = qs.filter(current_facility__code=active["facility"])
    qs = qs.distinct().order_by("ref")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "case_list", list(page.object_list), filters={k: v for k, v in active.items() if v})
    return render(request, "cases/case_list.html", {
        "page": page, "active": active, "stages": CaseStage.choices,
        "facilities": restrict(Facility.objects.all(), user), "page_classification": 1,
    })


def person_case(request: HttpRequest, ref: str, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    person = get_restricted(Person.objects.select_related("current_facility"), user, request=request, ref=ref)
    case = restrict(Case.objects.filter(person=person), user).first()
    items = restrict(Item.objects.filter(people=person), user).select_related("originating_agency")
    requests = restrict(DisclosureRequest.objects.filter(item__in=items.values("pk")), user).select_related("item", "recipient")
    files = restrict(ProsecutionFile.objects.filter(person=person), user).select_related("recipient", "generated_by")
    audit.record(request, "case_read", obj=person)
    top = max([person.classification, *[i.classification for i in items]])
    return render(request, "cases/person_case.html", {
        "person": person, "case": case, "steps": case.steps.select_related("user") if case else [],
        "items": items, "requests": requests, "files": files, "status_form": CaseStatusForm(initial={"on": timezone.localdate()}),
        "generate_form": GenerateForm(), "recipients": restrict(Recipient.objects.all(), user),
        "can_change": can(user, "change"), "can_export": can(user, "export"), "error": error, "page_classification": top,
    }, status=status)


def case_status(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    person = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
    form = CaseStatusForm(request.POST)
    if not form.is_valid():
        return person_case(request, ref, error=form_errors(form), status=400)
    d = form.cleaned_data
    try:
        case = services.set_case_status(request.user, person, stage=d["stage"], on=d["on"], court=d["court"], note=d["note"],
                                        verdict=d["verdict"] or "", sentence=d["sentence"], next_hearing=d["next_hearing"])
    except RuleError as exc:
        _refused(request, "case_status", exc, obj=person)
        return person_case(request, ref, error=exc.message, status=400)
    audit.record(request, "case_status", obj=case, person=person.ref, stage=case.stage)
    return redirect("cases:person_case", ref=ref)


# ---------------------------------------------------------------- items


def item_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(Item.objects.all(), request.user).select_related("originating_agency").prefetch_related("people")
    kind = request.GET.get("kind", "").strip()
    person = request.GET.get("person", "").strip()
    if kind:
        qs = qs.filter(kind=kind)
    if person:
        qs = qs.filter(people__ref=person)
    page = Paginator(qs.distinct(), 50).get_page(request.GET.get("page"))
    audit.record_many(request, "item_list", list(page.object_list), kind=kind, person=person)
    top = max([i.classification for i in page.object_list], default=1)
    return render(request, "cases/item_list.html", {"page": page, "kinds": ItemKind.choices, "kind": kind, "person": person,
                                                    "page_classification": top})


def item_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, "add"):
        raise Http404("not found")
    form = ItemForm(request.POST or None, request.FILES or None, initial={"people": request.GET.get("person", "")})
    error = ""
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            refs = form.people_refs()
            people = list(restrict(Person.objects.filter(ref__in=refs), user))
            missing = sorted(set(refs) - {p.ref for p in people})
            try:
                if missing:
                    raise RuleError(_("No person you may see has the reference(s) %(refs)s.") % {"refs": ", ".join(missing)}, field="people")
                files = [(f.name, f.read()) for f in d["attachments"]]
                item = services.create_item(
                    user, kind=d["kind"], title=d["title"], source=d["source"], people=people, body=d["body"],
                    item_date=d["item_date"], classification=d["classification"], release_all=d["release_all"],
                    releasable_to=[a.code for a in d["releasable_to"]], nations=form.nation_codes(), attachments=files)
            except RuleError as exc:
                _refused(request, "item_create", exc)
                error = exc.message
            else:
                audit.record(request, "item_create", obj=item, ref=item.ref, people=[p.ref for p in people],
                             attachments=[a.sha256 for a in item.attachments.all()])
                return redirect("cases:item_detail", ref=item.ref)
        else:
            error = form_errors(form)
    return render(request, "cases/item_form.html", {"form": form, "error": error, "page_classification": 1},
                  status=400 if error else 200)


def item_detail(request: HttpRequest, ref: str, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    item = get_restricted(Item.objects.select_related("originating_agency", "created_by"), user, request=request, ref=ref)
    audit.record(request, "item_read", obj=item, ref=item.ref)
    is_originator = item.originating_agency_id == user.agency_id and can(user, "change")
    releasability = services.releasability_of(item)
    return render(request, "cases/item_detail.html", {
        "item": item, "people": restrict(item.people.all(), user), "attachments": item.attachments.all(),
        "redactions": restrict(RedactedCopy.objects.filter(item=item), user).select_related("attachment", "created_by"),
        "requests": restrict(DisclosureRequest.objects.filter(item=item), user).select_related("recipient", "requested_by"),
        "changes": item.releasability_changes.select_related("user"), "releasability": releasability,
        "nation_names": [country_name(c) for c in releasability["nations"]],
        "is_originator": is_originator, "can_redact": can(user, "approve") or is_originator, "can_request": can(user, "add"),
        "rel_form": ReleasabilityForm(initial={"classification": item.classification, "release_all": item.release_all,
                                               "releasable_to": releasability["agencies"], "nations": ", ".join(releasability["nations"])}),
        "recipients": restrict(Recipient.objects.all(), user), "error": error,
        "page_classification": item.classification, "page_releasability": item.releasability_label(),
    }, status=status)


def _post_item(request: HttpRequest, ref: str) -> Item:
    return get_restricted(Item.objects.all(), request.user, request=request, ref=ref)


def item_attach(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    item = _post_item(request, ref)
    form = AttachForm(request.POST, request.FILES)
    if not form.is_valid():
        return item_detail(request, ref, error=form_errors(form), status=400)
    f = form.cleaned_data["file"]
    try:
        att = services.add_attachment(request.user, item, f.name, f.read())
    except RuleError as exc:
        _refused(request, "attachment_add", exc, obj=item, name=f.name)
        return item_detail(request, ref, error=exc.message, status=400)
    audit.record(request, "attachment_add", obj=att, item=item.ref, sha256=att.sha256)
    return redirect("cases:item_detail", ref=ref)


def item_releasability(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    item = _post_item(request, ref)
    form = ReleasabilityForm(request.POST)
    if not form.is_valid():
        return item_detail(request, ref, error=form_errors(form), status=400)
    d = form.cleaned_data
    try:
        change = services.set_releasability(request.user, item, release_all=d["release_all"], agencies=[a.code for a in d["releasable_to"]],
                                            nations=form.nation_codes(), reason=d["reason"], classification=d["classification"])
    except RuleError as exc:
        _refused(request, "releasability_change", exc, obj=item)
        return item_detail(request, ref, error=exc.message, status=400)
    audit.record(request, "releasability_change", obj=item, before=change.before, after=change.after)
    return redirect("cases:item_detail", ref=ref)


def item_redact(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    item = _post_item(request, ref)
    form = RedactForm(request.POST)
    if not form.is_valid():
        return item_detail(request, ref, error=form_errors(form), status=400)
    d = form.cleaned_data
    try:
        att = None
        if d["attachment"]:
            att = item.attachments.filter(pk=d["attachment"]).first()
            if att is None:
                raise RuleError(_("Item %(ref)s has no file #%(id)s.") % {"ref": item.ref, "id": d["attachment"]}, field="attachment")
        if att is not None and att.is_image:
            copy = services.redact_image(request.user, item, att, services.parse_regions(d["regions"]), reason=d["reason"])
        else:
            copy = services.redact_text(request.user, item, services.parse_spans(d["spans"]), attachment=att, reason=d["reason"])
    except RuleError as exc:
        _refused(request, "redaction_create", exc, obj=item)
        return item_detail(request, ref, error=exc.message, status=400)
    audit.record(request, "redaction_create", obj=copy, item=item.ref, sha256=copy.sha256)
    return redirect("cases:item_detail", ref=ref)


def item_request(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    item = _post_item(request, ref)
    form = DisclosureRequestForm(request.POST)
    if not form.is_valid():
        return item_detail(request, ref, error=form_errors(form), status=400)
    try:
        recipient = Recipient.objects.filter(code=form.cleaned_data["recipient"]).first()
        if recipient is None:
            raise RuleError(_("No recipient has the code %(code)s.") % {"code": form.cleaned_data["recipient"]}, field="recipient")
        req = services.request_disclosure(request.user, item, recipient, form.cleaned_data["justification"])
    except RuleError as exc:
        _refused(request, "disclosure_request", exc, obj=item)
        return item_detail(request, ref, error=exc.message, status=400)
    audit.record(request, "disclosure_request", obj=req, item=item.ref, recipient=recipient.code)
    return redirect("cases:disclosure_detail", pk=req.pk)


def attachment_download(request: HttpRequest, ref: str, pk: int) -> HttpResponse:
    item = get_restricted(Item.objects.all(), request.user, request=request, ref=ref)
    att = get_restricted(Attachment.objects.filter(item=item), request.user, request=request, pk=pk)
    return audited_download(request, att.file, att.content_type, att.original_name, att.sha256, "attachment_read", att, item=item.ref)


def redaction_download(request: HttpRequest, pk: int) -> HttpResponse:
    copy = get_restricted(RedactedCopy.objects.select_related("item", "attachment"), request.user, request=request, pk=pk)
    if copy.file:
        name = f"redacted-{copy.attachment.original_name if copy.attachment else copy.item.ref}"
        if copy.kind == "image" and not name.endswith(".png"):
            name += ".png"
        return audited_download(request, copy.file, copy.content_type, name, copy.sha256, "redaction_read", copy, item=copy.item.ref)
    audit.record(request, "redaction_read", obj=copy, item=copy.item.ref, sha256=copy.sha256)
    return HttpResponse(copy.text, content_type="text/plain; charset=utf-8")


# ---------------------------------------------------------------- disclosure review


def disclosure_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(DisclosureRequest.objects.all(), request.user).select_related("item", "recipient", "requested_by", "first_approver")
    state = request.GET.get("state", "open").strip()
    recipient = request.GET.get("recipient", "").strip()
    if state == "open":
        qs = qs.filter(state__in=[DisclosureState.REQUESTED, DisclosureState.UNDER_REVIEW])
    elif state:
        qs = qs.filter(state=state)
    if recipient:
        qs = qs.filter(recipient__code=recipient)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "disclosure_list", list(page.object_list), state=state, recipient=recipient)
    top = max([r.item.classification for r in page.object_list], default=1)
    return render(request, "cases/disclosure_list.html", {
        "page": page, "state": state, "states": DisclosureState.choices, "recipient": recipient,
        "recipients": restrict(Recipient.objects.all(), request.user), "page_classification": top,
        "two_person_level": services.two_person_level(),
    })


def disclosure_detail(request: HttpRequest, pk: int, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    req = get_restricted(DisclosureRequest.objects.select_related("item", "recipient", "requested_by", "reviewer", "first_approver",
                                                                  "second_approver"), user, request=request, pk=pk)
    audit.record(request, "disclosure_read", obj=req, item=req.item.ref)
    return render(request, "cases/disclosure_detail.html", {
        "req": req, "item": req.item, "events": req.events.select_related("user"),
        "chosen": req.redactions.all(), "redactions": restrict(RedactedCopy.objects.filter(item=req.item), user),
        "needs_two": req.item.classification > services.two_person_level(),
        "releasable": req.item.release_nations.filter(country=req.recipient.country).exists(),
        "can_review": can(user, "approve") and req.requested_by_id != user.pk,
        "can_withdraw": req.requested_by_id == user.pk or (can(user, "approve") and req.requested_by.agency_id == user.agency_id),
        "error": error, "page_classification": req.item.classification, "page_releasability": req.item.releasability_label(),
    }, status=status)


def disclosure_decide(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    user = request.user
    req = get_restricted(DisclosureRequest.objects.select_related("item"), user, request=request, pk=pk)
    data = request.POST.copy()
    data["redactions"] = ",".join(request.POST.getlist("redactions"))
    form = DecisionForm(data)
    if not form.is_valid():
        return disclosure_detail(request, pk, error=form_errors(form), status=400)
    action, reason = form.cleaned_data["action"], form.cleaned_data["reason"]
    try:
        try:
            ids = form.redaction_ids()
        except Exception as exc:  # noqa: BLE001 - a ValidationError from the form's own parser
            raise RuleError(_("Redacted copies are given by number."), field="redactions") from exc
        copies = list(restrict(RedactedCopy.objects.filter(pk__in=ids, item=req.item), user))
        if len(copies) != len(set(ids)):
            raise RuleError(_("Some redacted copies are not copies of item %(ref)s.") % {"ref": req.item.ref}, field="redactions")
        if action == "review":
            req = services.start_review(user, req, reason)
        elif action == "approve":
            req = services.approve(user, req, reason, copies)
        elif action == "refuse":
            req = services.refuse(user, req, reason)
        else:
            req = services.withdraw(user, req, reason)
    except RuleError as exc:
        _refused(request, f"disclosure_{action}", exc, obj=req)
        return disclosure_detail(request, pk, error=exc.message, status=400)
    audit.record(request, f"disclosure_{action}", obj=req, item=req.item.ref, state=req.state)
    return redirect("cases:disclosure_detail", pk=pk)


# ---------------------------------------------------------------- prosecution files


def file_generate(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    user = request.user
    person = get_restricted(Person.objects.all(), user, request=request, ref=ref)
    form = GenerateForm(request.POST)
    if not form.is_valid():
        return person_case(request, ref, error=form_errors(form), status=400)
    items = request.POST.getlist("items") or None
    try:
        recipient = Recipient.objects.filter(code=form.cleaned_data["recipient"]).first()
        if recipient is None:
            raise RuleError(_("No recipient has the code %(code)s.") % {"code": form.cleaned_data["recipient"]}, field="recipient")
        pf = prosecution.generate(user, person, recipient, language=form.cleaned_data["language"], item_refs=items)
    except RuleError as exc:
        _refused(request, "case_file_generate", exc, obj=person, recipient=form.cleaned_data["recipient"], items=items)
        return person_case(request, ref, error=exc.message, status=400)
    audit.record(request, "case_file_generate", obj=pf, person=person.ref, recipient=recipient.code, items=pf.item_refs,
                 pdf_sha256=pf.pdf_sha256, bundle_sha256=pf.bundle_sha256)
    return redirect(reverse("cases:person_case", kwargs={"ref": ref}) + f"#file-{pf.pk}")


def file_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    pf = get_restricted(ProsecutionFile.objects.select_related("person", "recipient"), request.user, request=request, pk=pk)
    if fmt == "pdf":
        return audited_download(request, pf.pdf, "application/pdf", pf.pdf.name.rsplit("/", 1)[-1], pf.pdf_sha256, "case_file_read", pf, fmt=fmt)
    if fmt == "json":
        return audited_download(request, pf.bundle, "application/json", pf.bundle.name.rsplit("/", 1)[-1], pf.bundle_sha256, "case_file_read",
                              pf, fmt=fmt)
    raise Http404("not found")


# ---------------------------------------------------------------- recipients


def recipient_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = RecipientForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if not can(user, "approve"):
            audit.record(request, "recipient_add", object_type="cases.recipient", outcome="denied")
            error = _("Adding a recipient needs the supervisor role.")
        elif form.is_valid():
            d = form.cleaned_data
            country = d["country"].upper()
            if not is_country_code(country):
                error = _("“%(code)s” is not a two-letter ISO country code.") % {"code": d["country"]}
            elif Recipient.objects.filter(code=d["code"]).exists():
                error = _("A recipient with the code %(code)s exists already.") % {"code": d["code"]}
            else:
                r = Recipient.objects.create(code=d["code"], name=d["name"], name_ar=d["name_ar"], kind=d["kind"], country=country)
                audit.record(request, "recipient_add", obj=r, code=r.code)
                return redirect("cases:recipient_list")
        else:
            error = form_errors(form)
    rows = restrict(Recipient.objects.all(), user)
    return render(request, "cases/recipient_list.html", {"rows": rows, "form": form, "error": error, "can_add": can(user, "approve"),
                                                         "page_classification": 0}, status=400 if error else 200)
