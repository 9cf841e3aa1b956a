"""Pages: the adjudication queue (each pair side by side with its explanation), a pair, a person's
possible matches, merges with their undo, reference lists and their import."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.errors import NotAllowed, Refusal
from custody.matching import services
from custody.matching.labels import localise, localise_reasons, weight_words
from custody.matching.models import CandidatePair, LinkageRun, Merge, PairStatus, ReferenceList
from custody.registry.models import Person


def _pair_ctx(pair: CandidatePair, user: Any) -> dict[str, Any]:
    return {
        "pair": pair,
        "exp": localise(pair.explanation),
        "reasons": localise_reasons(pair.reasons or []),
        "verdict": weight_words(pair.weight),
        "can_decide": can(user, "adjudicate") and pair.status in (PairStatus.OPEN, PairStatus.AUTO),
        "decisions": pair.decisions.select_related("user"),
    }


def queue(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "adjudicate"):
        return HttpResponseForbidden(_("The adjudication queue is for analysts and above."))
    page = Paginator(services.queue(request.user), 10).get_page(request.GET.get("page"))
    pairs = list(page.object_list)
    audit.record_many(request, "match_queue", pairs)
    return render(request, "matching/queue.html", {
        "page": page, "items": [_pair_ctx(p, request.user) for p in pairs], "page_classification": 1,
    })


def pair_detail(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_restricted(CandidatePair.objects.select_related("person_a", "person_b"), request.user,
                          request=request, pk=pk)
    audit.record(request, "match_read", obj=pair)
    return render(request, "matching/pair_detail.html", {**_pair_ctx(pair, request.user), "page_classification": 1})


@require_POST
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    pair = get_restricted(CandidatePair.objects.select_related("person_a", "person_b"), request.user,
                          request=request, pk=pk)
    error, status = "", 200
    try:
        services.do_decide(request.user, pair.pk, request.POST.get("decision", ""), note=request.POST.get("note", ""))
    except Refusal as e:
        # The pair's card shows the refusal in place (htmx swaps a 200); a missing role is a 403.
        error, status = e.message, (403 if isinstance(e, NotAllowed) else 200)
    pair.refresh_from_db()
    if request.headers.get("HX-Request"):
        ctx = {**_pair_ctx(pair, request.user), "error": error}
        return render(request, "matching/_pair.html", ctx, status=status)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Decision recorded."))
    return redirect("matching:queue")


def person_matches(request: HttpRequest, ref: str) -> HttpResponse:
    person = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
    found = services.possible_matches(person, request.user, request=request)
    identity = services.identity_of(person.pk) - {person.pk}
    same = restrict(Person.objects.filter(pk__in=identity), request.user)
    return render(request, "matching/person_matches.html", {
        "person": person,
        "matches": [{"m": m, "exp": localise(m.explanation), "verdict": weight_words(m.weight)} for m in found],
        "same": same,
        "references": [{"entry": e, "exp": localise(x)} for e, x in services.reference_matches(person, request.user)],
        "merges": restrict(Merge.objects.filter(survivor=person) | Merge.objects.filter(merged=person), request.user)
        .select_related("survivor", "merged", "user", "undone_by"),
        "can_decide": can(request.user, "adjudicate"),
        "page_classification": person.classification,
    })


def merge_list(request: HttpRequest) -> HttpResponse:
    qs = restrict(Merge.objects.all(), request.user).select_related("survivor", "merged", "user", "undone_by")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record_many(request, "merge_list", list(page.object_list))
    return render(request, "matching/merge_list.html", {
        "page": page, "can_decide": can(request.user, "adjudicate"), "page_classification": 1,
    })


@require_POST
def merge_undo(request: HttpRequest, pk: int) -> HttpResponse:
    merge = get_restricted(Merge.objects.all(), request.user, request=request, pk=pk)
    try:
        services.do_undo_merge(request.user, merge.pk, reason=request.POST.get("reason", ""))
        messages.success(request, _("Merge undone."))
    except Refusal as e:
        messages.error(request, e.message)
    return redirect(request.POST.get("next") or "matching:merge_list")


def reference_lists(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose the list's XML file."))
        else:
            try:
                ref_list = services.do_import_un_list(request.user, upload,
                                                      name=request.POST.get("name") or _("UN Security Council consolidated list"))
                messages.success(request, _("Imported %(n)s entries.") % {"n": ref_list.entries.count()})
            except Refusal as e:
                messages.error(request, e.message)
        return redirect("matching:reference_lists")
    lists = restrict(ReferenceList.objects.all(), request.user)
    audit.record(request, "reference_lists")
    return render(request, "matching/reference_lists.html", {
        "lists": lists, "can_import": can(request.user, "import"), "page_classification": 0,
    })


def run_list(request: HttpRequest) -> HttpResponse:
    """The scans, newest first, each with its summary and (for an analyst) the undo of the whole run; the
    scan form with its dry run. A dry run's result is shown on this page and written nowhere."""
    if not can(request.user, "adjudicate"):
        return HttpResponseForbidden(_("Scans are for analysts and above."))
    preview = None
    if request.method == "POST":
        dry = request.POST.get("dry_run") == "1"
        try:
            report = services.do_scan(request.user, dry_run=dry)
        except Refusal as e:
            messages.error(request, e.message)
            return redirect("matching:run_list")
        if not dry:
            messages.success(request, _("Scan %(id)s: %(m)s merged automatically, %(q)s queued, %(k)s kept apart.") % {
                "id": report.run.pk, "m": report.merged, "q": report.queued, "k": report.kept_apart})
            return redirect("matching:run_list")
        preview = {"report": report, "merges": [_item(i) for i in report.merges[:50]],
                   "queue": [_item(i) for i in report.queue[:50]]}
    page = Paginator(restrict(LinkageRun.objects.select_related("user", "undone_by"), request.user), 20).get_page(
        request.GET.get("page"))
    audit.record(request, "match_runs")
    return render(request, "matching/run_list.html", {"page": page, "preview": preview, "page_classification": 1})


def _item(item: services.ScanItem) -> dict[str, Any]:
    return {"a": item.a, "b": item.b, "weight": item.weight, "reasons": localise_reasons(item.reasons)}


@require_POST
def run_undo(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        run = services.do_undo_run(request.user, pk, reason=request.POST.get("reason", ""))
        messages.success(request, _("Scan %(id)s undone: its merges are closed and their pairs back in the queue.") % {
            "id": run.pk})
    except NotAllowed:
        raise
    except Refusal as e:
        messages.error(request, e.message)
    return redirect("matching:run_list")
