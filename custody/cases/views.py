"""Cases pages: case status lists, a person's case, items, disclosure review, prosecution files,
recipients. Every query goes through restrict(); every read, change, refusal and generation is audited."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.cases import services
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
from custody.core.errors import Refusal
from custody.registry.countries import country_name
from custody.registry.models import Facility, Person, PopulationGroup

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
        services.do_set_case_status(request.user, person.ref, stage=d["stage"], on=d["on"], court=d["court"], note_text=d["note"],
                                    verdict=d["verdict"] or "", sentence=d["sentence"], next_hearing=d["next_hearing"])
    except Refusal as exc:
        return person_case(request, ref, error=exc.message, status=exc.status)
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
    error, status = "", 200
    if request.method == "POST":
        if form.is_valid():
            d = form.cleaned_data
            try:
                item = services.do_create_item(
                    user, kind=d["kind"], title=d["title"], source=d["source"], people=form.people_refs(), body=d["body"],
                    item_date=d["item_date"], classification=d["classification"], release_all=d["release_all"],
                    releasable_to=[a.code for a in d["releasable_to"]], nations=form.nation_codes(),
                    attachments=[(f.name, f.read()) for f in d["attachments"]])
            except Refusal as exc:
                error, status = exc.message, exc.status
            else:
                return redirect("cases:item_detail", ref=item.ref)
        else:
            error, status = form_errors(form), 400
    return render(request, "cases/item_form.html", {"form": form, "error": error, "page_classification": 1},
                  status=status if error else 200)


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
        services.do_add_attachment(request.user, item.ref, f.name, f.read())
    except Refusal as exc:
        return item_detail(request, ref, error=exc.message, status=exc.status)
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
        services.do_set_releasability(request.user, item.ref, release_all=d["release_all"], agencies=[a.code for a in d["releasable_to"]],
                                      nations=form.nation_codes(), reason=d["reason"], classification=d["classification"])
    except Refusal as exc:
        return item_detail(request, ref, error=exc.message, status=exc.status)
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
        services.do_redact(request.user, item.ref, attachment=d["attachment"] or None, spans=services.parse_spans(d["spans"]),
                           regions=services.parse_regions(d["regions"]), reason=d["reason"])
    except Refusal as exc:
        return item_detail(request, ref, error=exc.message, status=exc.status)
    return redirect("cases:item_detail", ref=ref)


def item_request(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    item = _post_item(request, ref)
    form = DisclosureRequestForm(request.POST)
    if not form.is_valid():
        return item_detail(request, ref, error=form_errors(form), status=400)
    try:
        req = services.do_request_disclosure(request.user, item.ref, form.cleaned_data["recipient"], form.cleaned_data["justification"])
    except Refusal as exc:
        return item_detail(request, ref, error=exc.message, status=exc.status)
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
        ids = form.redaction_ids()
    except Exception:  # noqa: BLE001 - a ValidationError from the form's own parser
        return disclosure_detail(request, pk, error=_("Redacted copies are given by number."), status=400)
    try:
        if action == "review":
            services.do_start_review(user, req.pk, reason)
        elif action == "approve":
            services.do_approve(user, req.pk, reason, ids)
        elif action == "refuse":
            services.do_refuse(user, req.pk, reason)
        else:
            services.do_withdraw(user, req.pk, reason)
    except Refusal as exc:
        return disclosure_detail(request, pk, error=exc.message, status=exc.status)
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
        pf = services.do_generate_file(user, person.ref, form.cleaned_data["recipient"], language=form.cleaned_data["language"],
                                       item_refs=items)
    except Refusal as exc:
        return person_case(request, ref, error=exc.message, status=exc.status)
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
    error, status = "", 200
    if request.method == "POST":
        if form.is_valid() or not can(user, "approve"):
            d = form.cleaned_data
            try:
                services.do_add_recipient(user, code=d.get("code", ""), name=d.get("name", ""), name_ar=d.get("name_ar", ""),
                                          kind=d.get("kind", ""), country=d.get("country", ""))
            except Refusal as exc:
                error, status = exc.message, exc.status
            else:
                return redirect("cases:recipient_list")
        else:
            error, status = form_errors(form), 400
    rows = restrict(Recipient.objects.all(), user)
    return render(request, "cases/recipient_list.html", {"rows": rows, "form": form, "error": error, "can_add": can(user, "approve"),
                                                         "page_classification": 0}, status=status)
