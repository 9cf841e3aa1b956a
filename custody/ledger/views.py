"""Ledger pages: overview with headcounts, a person's custody timeline, a facility's population and
today's events, the discrepancy board, the handover screen, and a form to record an event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.downloads import audited_download
from custody.core.errors import RuleError
from custody.registry.models import Facility, Person, PersonFile

from . import integrity, services
from .files import held_files, people_of, read_upload, record_with_files
from .models import (
    CustodyState,
    CustodyStatus,
    Discrepancy,
    EventAttachment,
    EventFile,
    EventKind,
    Handover,
    HandoverItem,
    HandoverStatus,
    IdentityCheck,
    LedgerEvent,
    VerificationRun,
)
from .specs import EventSpec


def _need(request: HttpRequest, capability: str) -> None:
    if not can(request.user, capability):
        audit.record(request, "ledger_denied", outcome="denied", capability=capability, path=request.path)
        raise PermissionDenied


def overview(request: HttpRequest) -> HttpResponse:
    _need(request, "view")
    visible = restrict(CustodyState.objects.all(), request.user)
    counts = services.headcounts_for(visible)
    labels = dict(CustodyStatus.choices)
    for row in counts["by_status"]:
        row["label"] = labels.get(row["status"], row["status"])
    cp = services.latest_checkpoint()
    return render(request, "ledger/overview.html", {
        **_verification_context(request),
        "counts": counts, "checkpoint": cp, "key_id": services.public_key_id(),
        "recent": services.latest_visible_events(request.user, 25),
        "page_classification": 1,
    })


def person_timeline(request: HttpRequest, ref: str) -> HttpResponse:
    _need(request, "view")
    person = get_restricted(Person.objects.select_related("current_facility", "current_custodian"), request.user,
                            request=request, ref=ref)
    audit.record(request, "ledger_timeline_read", obj=person)
    events = list(LedgerEvent.objects.filter(person=person).select_related("facility", "custodian", "recorded_by").order_by("seq"))
    _attach_files(events)
    return render(request, "ledger/person_timeline.html", {
        "person": person, "events": events, "state": CustodyState.objects.filter(person=person).first(),
        "page_classification": person.classification,
    })


def _attach_files(events: list[LedgerEvent]) -> None:
    """Gives each event `.files`: (hash, the file if held here) for every file its signed body lists."""
    pairs = list(EventAttachment.objects.filter(event__in=[e.pk for e in events]).values_list("event_id", "sha256"))
    held = held_files(h for _e, h in pairs)
    by_event: dict[int, list[tuple[str, EventFile | None]]] = {}
    for event_id, h in pairs:
        by_event.setdefault(event_id, []).append((h, held.get(h)))
    for e in events:
        e.files = by_event.get(e.pk, [])  # type: ignore[attr-defined]


def event_file(request: HttpRequest, sha256: str) -> HttpResponse:
    """A file attached to custody events, for whoever may see one of those events; every read audited."""
    _need(request, "view")
    f = get_restricted(EventFile.objects.all(), request.user, request=request, sha256=sha256)
    return audited_download(request, f.file, f.content_type, f.original_name, f.sha256, "ledger_file_read", f,
                            people=people_of(f, request.user))


def facility_page(request: HttpRequest, code: str) -> HttpResponse:
    _need(request, "view")
    facility = get_restricted(Facility.objects.select_related("custodian"), request.user, request=request, code=code)
    population = restrict(CustodyState.objects.filter(facility=facility, status="in_custody"), request.user)
    start = datetime.combine(timezone.now().date(), time.min, tzinfo=UTC)
    today = restrict(LedgerEvent.objects.filter(facility=facility, occurred_at__gte=start), request.user)
    people = population.select_related("person", "custodian").order_by("block", "person__ref")
    audit.record_many(request, "ledger_population_read", [s.person for s in people[:500]], facility=facility.code)
    return render(request, "ledger/facility.html", {
        "facility": facility, "population": people[:500], "population_count": population.count(),
        "today": today.select_related("person", "custodian").order_by("-occurred_at")[:200],
        "roll_calls": facility_roll_calls(facility), "can_record": can(request.user, "change"),
        "page_classification": 1,
    })


def facility_roll_calls(facility: Facility) -> Any:
    from .models import RollCall

    return RollCall.objects.filter(facility=facility).select_related("taken_by")[:10]


@require_POST
def roll_call(request: HttpRequest, code: str) -> HttpResponse:
    _need(request, "change")
    facility = get_restricted(Facility.objects.all(), request.user, request=request, code=code)
    try:
        counted = int(request.POST.get("counted", ""))
        rc, disc = services.record_roll_call(facility=facility, counted=counted, user=request.user,
                                             block=request.POST.get("block", "").strip(), note=request.POST.get("note", ""))
    except ValueError:
        messages.error(request, _("Enter the number counted."))
    except RuleError as exc:
        messages.error(request, exc.message)
    else:
        audit.record(request, "ledger_roll_call", obj=rc, counted=rc.counted, expected=rc.expected)
        if disc:
            messages.warning(request, disc.details)
        else:
            messages.success(request, _("Roll call agrees with the ledger: %(n)s.") % {"n": rc.counted})
    return redirect("ledger:facility", code=code)


def discrepancy_board(request: HttpRequest) -> HttpResponse:
    _need(request, "change")
    services.reconcile()
    qs = restrict(Discrepancy.objects.select_related("person", "facility", "resolved_by"), request.user)
    show = request.GET.get("show", "open")
    if show == "open":
        qs = qs.filter(resolved_at__isnull=True)
    return render(request, "ledger/discrepancies.html", {
        "discrepancies": qs[:300], "show": show, "can_resolve": can(request.user, "approve"), "page_classification": 1,
    })


@require_POST
def resolve(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "approve")
    d = get_restricted(Discrepancy.objects.all(), request.user, request=request, pk=pk)
    try:
        services.resolve_discrepancy(d, user=request.user, resolution=request.POST.get("resolution", ""))
    except RuleError as exc:
        messages.error(request, exc.message)
    else:
        audit.record(request, "ledger_discrepancy_resolved", obj=d)
        messages.success(request, _("Discrepancy resolved."))
    return redirect("ledger:discrepancy_board")


def handover(request: HttpRequest) -> HttpResponse:
    _need(request, "change")
    from custody.accounts.models import Agency

    if request.method == "POST":
        try:
            facility = get_restricted(Facility.objects.all(), request.user, request=request, code=request.POST.get("facility", ""))
            refs = [r.strip() for r in request.POST.get("people", "").replace(",", " ").split() if r.strip()]
            people = list(restrict(Person.objects.filter(ref__in=refs), request.user))
            missing = sorted(set(refs) - {p.ref for p in people})
            if missing or not people:
                raise RuleError(_("Unknown or hidden people: %(refs)s") % {"refs": ", ".join(missing) or "—"})
            h = services.create_handover(
                facility=facility, from_custodian=Agency.objects.get(code=request.POST.get("from_custodian")),
                to_custodian=Agency.objects.get(code=request.POST.get("to_custodian")), people=people,
                user=request.user, manifest=request.POST.get("manifest", "").strip())
        except (RuleError, Agency.DoesNotExist) as exc:
            messages.error(request, getattr(exc, "message", _("Choose both authorities.")))
        else:
            audit.record(request, "ledger_handover_created", obj=h, people=len(people))
            return redirect("ledger:handover_detail", reference=h.reference)
    handovers = restrict(Handover.objects.select_related("facility", "from_custodian", "to_custodian"), request.user)
    return render(request, "ledger/handover_list.html", {
        "handovers": handovers[:100], "agencies": Agency.objects.filter(is_custodian=True),
        "facilities": restrict(Facility.objects.all(), request.user), "page_classification": 1,
    })


def handover_detail(request: HttpRequest, reference: str) -> HttpResponse:
    _need(request, "change")
    h = get_restricted(Handover.objects.select_related("facility", "from_custodian", "to_custodian"), request.user,
                       request=request, reference=reference)
    # Only the people the user may see: a side of the handover with a lower clearance, or another agency
    # following it, gets neither the others' rows nor a count that includes them.
    items = list(restrict(h.items.all(), request.user).select_related("person", "sender_confirmed_by",
                                                                       "receiver_confirmed_by", "event"))
    photos = {f.person_id: f for f in restrict(PersonFile.objects.filter(person__in=[i.person_id for i in items], kind="photo"),
                                                request.user)}
    for item in items:
        item.photo = photos.get(item.person_id)
    audit.record_many(request, "ledger_handover_read", [i.person for i in items], handover=h.reference)
    side = "send" if request.user.agency_id == h.from_custodian_id else "receive" if request.user.agency_id == h.to_custodian_id else ""
    return render(request, "ledger/handover_detail.html", {
        "h": h, "items": items, "side": side, "checks": IdentityCheck.choices,
        "done": sum(1 for i in items if i.event_id), "page_classification": 1,
    })


@require_POST
def handover_confirm(request: HttpRequest, reference: str, item_id: int) -> HttpResponse:
    _need(request, "change")
    h = get_restricted(Handover.objects.all(), request.user, request=request, reference=reference)
    item = get_restricted(HandoverItem.objects.filter(handover=h).select_related("handover", "person"), request.user,
                          request=request, pk=item_id)
    side = request.POST.get("side", "")
    try:
        rec = services.confirm_handover_item(item, user=request.user, side=side, wristband=request.POST.get("wristband", ""),
                                             identity_check=request.POST.get("identity_check", ""))
    except RuleError as exc:
        messages.error(request, exc.message)
    else:
        audit.record(request, "ledger_handover_confirm", obj=item.person, side=side, handover=h.reference)
        if rec is not None:
            messages.success(request, _("%(person)s handed over: ledger event #%(seq)s.") % {"person": item.person.ref, "seq": rec.event.seq})
        else:
            messages.info(request, _("%(person)s confirmed; waiting for the other side.") % {"person": item.person.ref})
    return redirect("ledger:handover_detail", reference=reference)


def handover_bundle(request: HttpRequest, reference: str) -> HttpResponse:
    _need(request, "change")
    h = get_restricted(Handover.objects.all(), request.user, request=request, reference=reference)
    try:
        data = services.handover_bundle(h.reference, request.user)
    except RuleError as exc:
        messages.error(request, exc.message)
        return redirect("ledger:handover_detail", reference=reference)
    audit.record(request, "ledger_bundle_export", obj=h)
    resp = HttpResponse(data, content_type="application/json")
    resp["Content-Disposition"] = f'attachment; filename="{h.reference}.custody-bundle.json"'
    return resp


def record(request: HttpRequest) -> HttpResponse:
    _need(request, "change")
    from custody.accounts.models import Agency

    form: dict[str, Any] = {"idempotency_id": str(uuid.uuid4())}
    if request.method == "POST":
        form = request.POST.dict()
        try:
            person = get_restricted(Person.objects.all(), request.user, request=request, ref=form.get("person", "").strip())
            facs = {f.code: f for f in Facility.objects.all()}
            when = datetime.fromisoformat(form["occurred_at"]) if form.get("occurred_at") else timezone.now()
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            cust = Agency.objects.filter(code=form.get("custodian", "")).first()
            spec = EventSpec(form.get("kind", ""), person, when, facility=facs.get(form.get("facility", "")), custodian=cust,
                             manifest=form.get("manifest", "").strip(), to_facility=facs.get(form.get("to_facility", "")),
                             country=form.get("country", "").strip(), reason=form.get("reason", "").strip(),
                             corrects=int(form["corrects"]) if form.get("corrects") else None,
                             idempotency_id=form.get("idempotency_id", "") or str(uuid.uuid4()))
            files = [read_upload(f) for f in request.FILES.getlist("files")]
            rec, _stored = record_with_files(spec, files, request.user)
        except RuleError as exc:
            messages.error(request, exc.message)
        except ValueError:
            messages.error(request, _("Check the time (YYYY-MM-DD HH:MM) and the corrected event number."))
        else:
            audit.record(request, "ledger_event_recorded", obj=person, seq=rec.event.seq, kind=rec.event.kind)
            if rec.created:
                messages.success(request, _("Recorded: event #%(seq)s.") % {"seq": rec.event.seq})
            else:
                messages.info(request, _("Already recorded: event #%(seq)s.") % {"seq": rec.event.seq})
            return redirect("ledger:person_timeline", ref=person.ref)
    return render(request, "ledger/record.html", {
        "form": form, "kinds": EventKind.choices, "facilities": restrict(Facility.objects.all(), request.user),
        "agencies": Agency.objects.filter(is_custodian=True), "page_classification": 1,
    })


def _verification_context(request: HttpRequest) -> dict[str, Any]:
    if not can(request.user, "approve"):
        return {"can_verify": False}
    return {"can_verify": True, "verification": integrity.latest(), "last_finished": integrity.latest_finished()}


@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    """Queue a verification of the whole log; the overview shows its progress and its result."""
    _need(request, "approve")
    run, created = integrity.request_verification(request.user, "page")
    audit.record(request, "ledger_verify_requested", obj=run, created=created)
    if created:
        messages.success(request, _("Verification of the whole log started."))
    else:
        messages.info(request, _("A verification is already under way."))
    return redirect("ledger:overview")


def verification_status(request: HttpRequest) -> HttpResponse:
    """htmx fragment: the latest run, polled while one is waiting or running."""
    _need(request, "approve")
    return render(request, "ledger/_verification.html", _verification_context(request))


def verification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _need(request, "approve")
    run = get_restricted(VerificationRun.objects.select_related("requested_by"), request.user, request=request, pk=pk)
    audit.record(request, "ledger_verification_read", obj=run)
    return render(request, "ledger/verification.html", {"run": run, "page_classification": 1})


def today_status(request: HttpRequest) -> HttpResponse:
    """Small htmx fragment: open discrepancies and handovers, polled by the overview."""
    _need(request, "view")
    return render(request, "ledger/_status.html", {
        "open_discrepancies": restrict(Discrepancy.objects.filter(resolved_at__isnull=True), request.user).count(),
        "open_handovers": restrict(Handover.objects.filter(status=HandoverStatus.OPEN), request.user).count(),
    })
