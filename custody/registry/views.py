"""Registry pages: home, people, a person, facilities, search. Every query through restrict();
every read of a person audited."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext_noop
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custody.accounts.models import Classification
from custody.core import audit
from custody.core.access import can, can_see_fields, get_restricted, restrict
from custody.core.charts import bar_chart
from custody.core.domains import app_modules
from custody.core.errors import BadInput, RuleError
from custody.registry import services
from custody.registry.countries import country_name
from custody.registry.models import (
    INVERSE_RELATION,
    Facility,
    FamilyLink,
    LegalStatus,
    Person,
    PersonFile,
    PopulationGroup,
)
from custody.registry.search import find_people

log = logging.getLogger(__name__)

ROLE_HOME_LINKS: list[tuple[str, str, str]] = [
    # (capability or action, url name, label) — shown when the URL exists and the user may use it.
    ("change", "ledger:discrepancy_board", gettext_noop("Discrepancies")),
    ("change", "ledger:handover", gettext_noop("Handover")),
    ("adjudicate", "matching:queue", gettext_noop("Identity adjudication queue")),
    ("biometric_images", "biometrics:station", gettext_noop("Biometric enrolment station")),
    ("view", "planning:plan_list", gettext_noop("Transfer plans")),
    ("view", "cases:case_list", gettext_noop("Cases")),
    ("view", "repatriation:board", gettext_noop("Repatriation board")),
    ("protection", "camps:children", gettext_noop("Children approaching 15 and 18")),
    ("view", "coordination:dashboard", gettext_noop("Common picture")),
    ("audit", "core:audit_list", gettext_noop("Audit trail")),
]


def _links_for(user: Any) -> list[dict[str, str]]:
    from django.urls import NoReverseMatch, reverse

    links = []
    for capability, name, label in ROLE_HOME_LINKS:
        if not can(user, capability):
            continue
        try:
            links.append({"url": reverse(name), "label": _(label)})
        except NoReverseMatch:
            continue
    return links


def in_custody(user: Any):  # type: ignore[no-untyped-def]
    return restrict(Person.objects.all(), user).filter(group=PopulationGroup.DETAINEE, current_facility__isnull=False)


def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    rtl = get_language() == "ar"
    held = in_custody(user)
    by_facility = list(held.values("current_facility__code", "current_facility__name", "current_facility__name_ar").annotate(n=Count("id")).order_by("-n"))
    by_custodian = list(held.values("current_custodian__code").annotate(n=Count("id")).order_by("-n"))
    by_tier = list(held.values("risk_tier").annotate(n=Count("id")).order_by("risk_tier"))
    by_nat = list(held.filter(nationalities__isnull=False).values("nationalities__country").annotate(n=Count("id")).order_by("-n")[:12])
    residents = restrict(Person.objects.all(), user).filter(group=PopulationGroup.CAMP_RESIDENT).count()
    fac_label = "current_facility__name_ar" if rtl else "current_facility__name"
    ctx = {
        "total_held": sum(r["n"] for r in by_facility),
        "residents": residents,
        "by_facility": by_facility,
        "by_custodian": by_custodian,
        "by_tier": by_tier,
        "by_nat": [{"code": r["nationalities__country"], "name": country_name(r["nationalities__country"]), "n": r["n"]} for r in by_nat],
        "facility_chart": bar_chart([(r[fac_label] or r["current_facility__name"], r["n"]) for r in by_facility], rtl=rtl, title=_("In custody by facility")),
        "nationality_chart": bar_chart([(country_name(r["nationalities__country"]), r["n"]) for r in by_nat], rtl=rtl, title=_("In custody by nationality")),
        "links": _links_for(user),
        "page_classification": 1,
    }
    return render(request, "registry/home.html", ctx)


LIST_FILTERS = {
    "facility": "current_facility__code",
    "custodian": "current_custodian__code",
    "nationality": "nationalities__country",
    "tier": "risk_tier",
    "status": "legal_status",
    "group": "group",
}


def person_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(Person.objects.all(), request.user)
    active: dict[str, str] = {}
    for key, lookup in LIST_FILTERS.items():
        value = request.GET.get(key, "").strip()
        if value:
            qs = qs.filter(**{lookup: value})
            active[key] = value
    qs = qs.select_related("current_facility", "current_custodian").distinct().order_by("ref")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "person_list", list(page.object_list), filters=active)
    return render(request, "registry/person_list.html", {
        "page": page, "active": active,
        "facilities": restrict(Facility.objects.all(), request.user),
        "statuses": LegalStatus.choices, "groups": PopulationGroup.choices,
        "page_classification": 1,
    })


def _family(person: Person, user: Any) -> list[dict[str, Any]]:
    """Links from both sides: stored once, read as seen from this person."""
    visible = restrict(Person.objects.all(), user).values("pk")
    rows = []
    for link in FamilyLink.objects.filter(person=person, relative__in=visible).select_related("relative"):
        rows.append({"relative": link.relative, "relation": link.get_relation_display()})
    for link in FamilyLink.objects.filter(relative=person, person__in=visible).select_related("person"):
        inverse = INVERSE_RELATION[link.relation][0 if link.person.sex != "F" else 1]
        from custody.registry.models import Relation

        rows.append({"relative": link.person, "relation": Relation(inverse).label})
    return rows


def person_detail(request: HttpRequest, ref: str) -> HttpResponse:
    person = get_restricted(Person.objects.select_related("current_facility", "current_custodian", "household", "originating_agency"),
                            request.user, request=request, ref=ref)
    audit.record(request, "person_read", obj=person)
    user = request.user
    show_rationale = can_see_fields(user, "risk_rationale")
    ctx = {
        "person": person,
        "names": person.names.all(),
        "identifiers": person.identifiers.select_related("authority"),
        "nationalities": [country_name(n.country) for n in person.nationalities.all()],
        "family": _family(person, user),
        "keep_apart": restrict(Person.objects.filter(Q(keep_apart_in__person=person) | Q(keep_apart__other=person)), user).distinct(),
        "files": restrict(PersonFile.objects.filter(person=person), user),
        "show_rationale": show_rationale,
        "can_classify": can(user, "change"),
        "levels": Classification.values,
        "page_classification": person.classification,
        "page_releasability": person.releasability_label(),
        "extra_sections": _extra_sections(request, person),
    }
    return render(request, "registry/person_detail.html", ctx)


@require_POST
def person_classify(request: HttpRequest, ref: str) -> HttpResponse:
    """The person page's classification form. A refusal of the rule or the input is shown on the person's
    page; not allowed or not visible is a 403 or 404 (RefusalMiddleware)."""
    try:
        person = services.do_classify(request.user, ref, request.POST.get("level", ""), request.POST.get("reason", ""))
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(ref)s is now classified %(level)s.") % {
            "ref": person.ref, "level": Classification(person.classification).label})
    return redirect("registry:person_detail", ref=ref)


def _extra_sections(request: HttpRequest, person: Person) -> list[str]:
    """Other apps add a section to the person page by defining `person_section(request, person) -> str`
    in their `sections` module (the ledger's timeline, possible matches, biometrics, cases...)."""
    return _app_sections(request, "person_section", person)


def _app_sections(request: HttpRequest, fn_name: str, obj: Any) -> list[str]:
    """One app's failing section must not take the person's record (or the facility page) down with it:
    the error is logged with its traceback and the page says which section is missing."""
    from django.utils.html import format_html

    html = []
    for app, sections in app_modules("sections"):
        fn = getattr(sections, fn_name, None)
        if fn is None:
            continue
        try:
            with transaction.atomic():  # a database error in the section rolls back only the section
                part = fn(request, obj)
        except Exception:  # noqa: BLE001 - any failure of another app's section, logged in full
            log.exception("%s.%s failed for %s", app, fn_name, obj)
            part = format_html('<div class="panel withheld" role="status">{}</div>',
                               _("The %(app)s section could not be shown; the error was logged.") % {"app": app})
        if part:
            html.append(part)
    return html


def person_file(request: HttpRequest, ref: str, file_id: int) -> HttpResponse:
    person = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
    f = get_restricted(PersonFile.objects.filter(person=person), request.user, request=request, pk=file_id)
    audit.record(request, "file_read", obj=f, person=person.ref)
    resp = FileResponse(f.file.open("rb"), content_type=f.content_type)
    resp["X-Content-SHA256"] = f.sha256
    return resp


def facility_list(request: HttpRequest) -> HttpResponse:
    facilities = restrict(Facility.objects.select_related("custodian"), request.user)
    held = dict(in_custody(request.user).values_list("current_facility").annotate(n=Count("id")))
    residents = dict(restrict(Person.objects.all(), request.user).filter(group=PopulationGroup.CAMP_RESIDENT).values_list("household__camp").annotate(n=Count("id")))
    rows = [{"f": f, "held": held.get(f.pk, 0), "residents": residents.get(f.pk, 0)} for f in facilities]
    return render(request, "registry/facility_list.html", {"rows": rows, "page_classification": 1})


def facility_detail(request: HttpRequest, code: str) -> HttpResponse:
    facility = get_restricted(Facility.objects.select_related("custodian"), request.user, request=request, code=code)
    people = restrict(Person.objects.all(), request.user).filter(current_facility=facility).select_related("current_custodian").order_by("ref")
    rtl = get_language() == "ar"
    tiers = list(people.values("risk_tier").annotate(n=Count("id")).order_by("risk_tier"))
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "facility_population", list(page.object_list), facility=facility.code)
    return render(request, "registry/facility_detail.html", {
        "facility": facility, "page": page, "count": people.count(),
        "tier_chart": bar_chart([(_("Tier %(t)s") % {"t": r["risk_tier"] or "?"}, r["n"]) for r in tiers], rtl=rtl, title=_("By risk tier")),
        "extra_sections": _facility_sections(request, facility),
        "page_classification": 1,
    })


def _facility_sections(request: HttpRequest, facility: Facility) -> list[str]:
    return _app_sections(request, "facility_section", facility)


def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    facility = request.GET.get("facility", "").strip()
    started = time.perf_counter()
    facility_id = None
    if facility:
        f = restrict(Facility.objects.all(), request.user).filter(code=facility).first()
        facility_id = f.pk if f else -1
    page_no = max(1, int(request.GET.get("page", "1") or 1)) if request.GET.get("page", "1").isdigit() else 1
    result = find_people(request.user, q, facility_id=facility_id, limit=50, offset=(page_no - 1) * 50)
    for _app, identity in app_modules("identity"):  # a merged person is listed once, "also recorded as"
        result.people, dropped = identity.collapse(request.user, result.people)
        result.total -= dropped
    elapsed_ms = (time.perf_counter() - started) * 1000
    audit.record(request, "search", object_type="registry.person", object_id=f"{result.total} hits", query=q, facility=facility,
                 ids=[p.pk for p in result.people])
    template = "registry/_search_results.html" if request.htmx else "registry/search.html"  # type: ignore[attr-defined]
    return render(request, template, {
        "search_query": q, "result": result, "elapsed_ms": elapsed_ms, "facility": facility, "page_no": page_no,
        "facilities": restrict(Facility.objects.all(), request.user), "page_classification": 1,
    })
