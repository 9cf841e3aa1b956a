"""Repatriation pages: the board ranking countries, a country's page (nationals, contacts, outreach,
position), a person's steps, and the exports. Every read and export is audited here; every change is an
action of services (checked and audited there), whose refusal is shown on the page it came from."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.charts import bar_chart
from custody.core.errors import Refusal
from custody.registry.countries import country_name
from custody.registry.models import Person
from custody.repatriation import exports, services
from custody.repatriation.forms import (
    ContactForm,
    OutreachForm,
    OverrideForm,
    PositionForm,
    StepForm,
    form_errors,
)
from custody.repatriation.models import (
    Contact,
    CountryFile,
    Outreach,
    OutreachKind,
    Repatriation,
    StepKind,
    is_diplomat,
)


def board(request: HttpRequest) -> HttpResponse:
    rows = services.board(request.user)
    rtl = get_language() == "ar"
    audit.record(request, "repatriation_board", object_type="repatriation.countryfile", object_id=f"{len(rows)} countries",
                 countries=[r["code"] for r in rows])
    top = rows[:20]
    return render(request, "repatriation/board.html", {
        "rows": rows,
        "held_chart": bar_chart([(country_name(r["code"]), r["held"]) for r in top], rtl=rtl, title=_("Nationals held, by country")),
        "progress_chart": bar_chart([(country_name(r["code"]), r["progress"]) for r in top], rtl=rtl,
                                    title=_("Handed over (percent of nationals)"), value_format="{:.0f}%"),
        "page_classification": 1,
    })


def country(request: HttpRequest, code: str, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    try:
        code = services.normalise_code(code)
    except Refusal as exc:
        raise Http404("not found") from exc
    cf = restrict(CountryFile.objects.filter(code=code), user).first()
    people = services.nationals(user, code).select_related("current_facility").prefetch_related("nationalities").order_by("ref")
    stage = request.GET.get("stage", "").strip()
    if stage == "none":
        people = people.exclude(repatriations__country=code)
    elif stage:
        people = people.filter(repatriations__country=code, repatriations__stage=stage)
    if request.GET.get("dual") == "1":
        people = people.filter(n_nationalities__gt=1)
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    stages = dict(restrict(Repatriation.objects.filter(country=code, person__in=[p.pk for p in page.object_list]), user)
                  .values_list("person_id", "stage"))
    rows = [{"p": p, "others": [n.country for n in p.nationalities.all() if n.country != code], "stage": stages.get(p.pk, "")}
            for p in page.object_list]
    audit.record_many(request, "repatriation_country", list(page.object_list), country=code)
    diplomat = is_diplomat(user) and can(user, "change")
    return render(request, "repatriation/country.html", {
        "code": code, "name": country_name(code), "cf": cf, "page": page, "rows": rows, "stage": stage, "stages": StepKind.choices,
        "dual": request.GET.get("dual") == "1",
        "contacts": restrict(Contact.objects.filter(country__code=code), user),
        "outreach": restrict(Outreach.objects.filter(country__code=code), user).select_related("in_reply_to", "contact", "user"),
        "open_notes": restrict(Outreach.objects.filter(country__code=code, kind=OutreachKind.NOTE_SENT, answers__isnull=True), user),
        "diplomat": diplomat, "can_export": is_diplomat(user) and can(user, "export"),
        "position_form": PositionForm(initial={"position": cf.position if cf else "unknown", "note": cf.position_note if cf else ""}),
        "contact_form": ContactForm(), "outreach_form": OutreachForm(), "error": error, "page_classification": 1,
    }, status=status)


def _post_country(request: HttpRequest, code: str, form_cls: type, apply: Any) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    form = form_cls(request.POST)
    if not form.is_valid():
        return country(request, code, error=form_errors(form), status=400)
    try:
        apply(form.cleaned_data)
    except Refusal as exc:
        return country(request, code, error=exc.message, status=exc.status)
    return redirect("repatriation:country", code=code.upper())


def country_position(request: HttpRequest, code: str) -> HttpResponse:
    return _post_country(request, code, PositionForm, lambda d: services.do_set_position(request.user, code, d["position"], d["note"], d["on"]))


def country_contact(request: HttpRequest, code: str) -> HttpResponse:
    return _post_country(request, code, ContactForm, lambda d: services.do_add_contact(request.user, code, **d))


def country_outreach(request: HttpRequest, code: str) -> HttpResponse:
    return _post_country(request, code, OutreachForm, lambda d: services.do_log_outreach(request.user, code, **d))


def person(request: HttpRequest, ref: str, *, error: str = "", status: int = 200) -> HttpResponse:
    user = request.user
    p = get_restricted(Person.objects.select_related("current_facility"), user, request=request, ref=ref)
    reps = {r.country: r for r in restrict(Repatriation.objects.filter(person=p), user).prefetch_related("steps__user", "overrides__supervisor")}
    countries = []
    for n in p.nationalities.all():
        rep = reps.get(n.country)
        countries.append({"code": n.country, "name": country_name(n.country), "rep": rep,
                          "steps": list(rep.steps.all()) if rep else [], "overrides": list(rep.overrides.all()) if rep else []})
    audit.record(request, "repatriation_person", obj=p)
    return render(request, "repatriation/person.html", {
        "person": p, "countries": countries, "dual": len(countries) > 1, "needs": services.needed_overrides(p),
        "diplomat": is_diplomat(user) and can(user, "change"), "supervisor": is_diplomat(user) and can(user, "approve"),
        "step_kinds": StepKind.choices, "override_form": OverrideForm(), "error": error, "page_classification": p.classification,
    }, status=status)


def person_step(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    p = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
    form = StepForm(request.POST)
    if not form.is_valid():
        return person(request, ref, error=form_errors(form), status=400)
    d = form.cleaned_data
    try:
        services.do_record_step(request.user, p.ref, d["country"], d["kind"], on=d["on"], note=d["note"], officials=d["officials"])
    except Refusal as exc:
        return person(request, ref, error=exc.message, status=exc.status)
    return redirect("repatriation:person", ref=ref)


def person_override(request: HttpRequest, ref: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    p = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return person(request, ref, error=form_errors(form), status=400)
    d = form.cleaned_data
    try:
        services.do_record_override(request.user, p.ref, d["country"], d["kind"], d["reason"])
    except Refusal as exc:
        return person(request, ref, error=exc.message, status=exc.status)
    return redirect("repatriation:person", ref=ref)


def export(request: HttpRequest, code: str, fmt: str) -> HttpResponse:
    language = request.GET.get("lang") or get_language() or "en"
    language = "ar" if language.startswith("ar") else "en"
    try:
        data, content_type, name, exp = exports.render(request.user, code, fmt, language)
    except Refusal as exc:
        # An export is a read: refused, it is audited here (no transaction to roll back).
        audit.record(request, "repatriation_export", object_type="repatriation.countryfile", object_id=code.upper(), outcome="denied",
                     message=exc.message, fmt=fmt)
        return country(request, code, error=exc.message, status=exc.status)
    audit.record(request, "repatriation_export", object_type="repatriation.countryfile", object_id=exp.code, fmt=fmt,
                 ids=[p.pk for p in exp.people], withheld=exp.withheld, sha256=exports.sha256(data))
    resp = HttpResponse(data, content_type=content_type)
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    resp["X-Content-SHA256"] = exports.sha256(data)
    return resp
