"""Ledger pages: overview with headcounts, a person's custody timeline, a facility's population and
today's events, the discrepancy board, the handover screen, a form to record an event, and who may
record for whom (delegations).

Every POST calls one action of custody.ledger.services (the one door: capability, restriction, the
custodian rule, one audit row). A form shows a refusal on itself, with the refusal's status; the other
pages let RefusalMiddleware answer 403/404, and show a broken rule as a message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.actions import require
from custody.core.downloads import audited_download
from custody.core.errors import BadInput, Refusal, RuleError
from custody.registry.models import Facility, Person, PersonFile

from . import integrity, services
from .files import do_record_with_files, held_files, people_of, read_upload
from .models import (
    CustodyState,
    CustodyStatus,
    Delegation,
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


def overview(request: HttpRequest) -> HttpResponse:
    require(request.user, "view")
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
    require(request.user, "view")
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
    require(request.user, "view")
    f = get_restricted(EventFile.objects.all(), request.user, request=request, sha256=sha256)
    return audited_download(request, f.file, f.content_type, f.original_name, f.sha256, "ledger_file_read", f,
                            people=people_of(f, request.user))


def facility_page(request: HttpRequest, code: str) -> HttpResponse:
    require(request.user, "view")
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
    try:
        rc, disc = services.do_record_roll_call(request.user, facility=code, counted=request.POST.get("counted", ""),
                                                block=request.POST.get("block", ""), remark=request.POST.get("note", ""))
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    else:
        if disc:
            messages.warning(request, disc.details)
        else:
            messages.success(request, _("Roll call agrees with the ledger: %(n)s.") % {"n": rc.counted})
    return redirect("ledger:facility", code=code)


def discrepancy_board(request: HttpRequest) -> HttpResponse:
    require(request.user, "change")
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
    try:
        services.do_resolve_discrepancy(request.user, pk, resolution=request.POST.get("resolution", ""))
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Discrepancy resolved."))
    return redirect("ledger:discrepancy_board")


def handover(request: HttpRequest) -> HttpResponse:
    from custody.accounts.models import Agency

    answer = 200
    if request.method == "POST":
        try:
            h = services.do_create_handover(
                request.user, facility=request.POST.get("facility", ""), from_custodian=request.POST.get("from_custodian", ""),
                to_custodian=request.POST.get("to_custodian", ""), people=request.POST.get("people", "").replace(",", " ").split(),
                manifest=request.POST.get("manifest", ""))
        except Refusal as exc:
            # On the form, with the refusal's status: the rule (and the holding agency) named.
            messages.error(request, exc.message)
            answer = exc.status
        else:
            return redirect("ledger:handover_detail", reference=h.reference)
    else:
        require(request.user, "change")
    handovers = restrict(Handover.objects.select_related("facility", "from_custodian", "to_custodian"), request.user)
    return render(request, "ledger/handover_list.html", {
        "handovers": handovers[:100], "agencies": Agency.objects.filter(is_custodian=True),
        "facilities": restrict(Facility.objects.all(), request.user), "page_classification": 1,
    }, status=answer)


def handover_detail(request: HttpRequest, reference: str) -> HttpResponse:
    require(request.user, "change")
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
    # The item's person, for the action to look up through the caller's restriction (an unknown item: 404).
    person_id = HandoverItem.objects.filter(pk=item_id, handover__reference=reference).values_list("person_id", flat=True).first()
    try:
        rec = services.do_confirm_handover(request.user, reference=reference, person=person_id or 0,
                                           side=request.POST.get("side", ""), wristband=request.POST.get("wristband", ""),
                                           identity_check=request.POST.get("identity_check", ""))
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    else:
        ref = Person.objects.filter(pk=person_id).values_list("ref", flat=True).first()
        if rec is not None:
            messages.success(request, _("%(person)s handed over: ledger event #%(seq)s.") % {"person": ref, "seq": rec.event.seq})
        else:
            messages.info(request, _("%(person)s confirmed; waiting for the other side.") % {"person": ref})
    return redirect("ledger:handover_detail", reference=reference)


def handover_bundle(request: HttpRequest, reference: str) -> HttpResponse:
    require(request.user, "change")
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
    from custody.accounts.models import Agency

    form: dict[str, Any] = {"idempotency_id": str(uuid.uuid4())}
    answer = 200
    if request.method == "POST":
        form = request.POST.dict()
        try:
            when = datetime.fromisoformat(form["occurred_at"]) if form.get("occurred_at") else timezone.now()
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
            corrects = int(form["corrects"]) if form.get("corrects") else None
        except ValueError:
            messages.error(request, _("Check the time (YYYY-MM-DD HH:MM) and the corrected event number."))
            answer = 400
        else:
            # Refs and codes as typed: the action looks each up through the user's restriction.
            spec = EventSpec(form.get("kind", ""), form.get("person", "").strip(), when,
                             facility=form.get("facility", "") or None, custodian=form.get("custodian", "") or None,
                             manifest=form.get("manifest", "").strip(), to_facility=form.get("to_facility", "") or None,
                             country=form.get("country", "").strip(), reason=form.get("reason", "").strip(),
                             corrects=corrects, idempotency_id=form.get("idempotency_id", "") or str(uuid.uuid4()))
            try:
                uploads = request.FILES.getlist("files")
                if uploads:
                    rec, _stored = do_record_with_files(request.user, spec, [read_upload(f) for f in uploads])
                else:
                    rec = services.do_record_event(request.user, spec)
            except Refusal as exc:
                # On the form, with the refusal's status: the rule (and the holding agency) named.
                messages.error(request, exc.message)
                answer = exc.status
            else:
                if rec.created:
                    messages.success(request, _("Recorded: event #%(seq)s.") % {"seq": rec.event.seq})
                else:
                    messages.info(request, _("Already recorded: event #%(seq)s.") % {"seq": rec.event.seq})
                return redirect("ledger:person_timeline", ref=rec.event.person.ref)
    else:
        require(request.user, "change")
    return render(request, "ledger/record.html", {
        "form": form, "kinds": EventKind.choices, "facilities": restrict(Facility.objects.all(), request.user),
        "agencies": Agency.objects.filter(is_custodian=True), "page_classification": 1,
    }, status=answer)


def _verification_context(request: HttpRequest) -> dict[str, Any]:
    if not can(request.user, "approve"):
        return {"can_verify": False}
    return {"can_verify": True, "verification": integrity.latest(), "last_finished": integrity.latest_finished()}


@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    """Queue a verification of the whole log; the overview shows its progress and its result."""
    _run, created = services.do_request_verification(request.user, "page")
    if created:
        messages.success(request, _("Verification of the whole log started."))
    else:
        messages.info(request, _("A verification is already under way."))
    return redirect("ledger:overview")


def verification_status(request: HttpRequest) -> HttpResponse:
    """htmx fragment: the latest run, polled while one is waiting or running."""
    require(request.user, "approve")
    return render(request, "ledger/_verification.html", _verification_context(request))


def verification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    require(request.user, "approve")
    run = get_restricted(VerificationRun.objects.select_related("requested_by"), request.user, request=request, pk=pk)
    audit.record(request, "ledger_verification_read", obj=run)
    return render(request, "ledger/verification.html", {"run": run, "page_classification": 1})


def today_status(request: HttpRequest) -> HttpResponse:
    """Small htmx fragment: open discrepancies and handovers, polled by the overview."""
    require(request.user, "view")
    return render(request, "ledger/_status.html", {
        "open_discrepancies": restrict(Discrepancy.objects.filter(resolved_at__isnull=True), request.user).count(),
        "open_handovers": restrict(Handover.objects.filter(status=HandoverStatus.OPEN), request.user).count(),
    })


def delegations(request: HttpRequest) -> HttpResponse:
    """Who may record custody events for whose people: every agency sees them all; a supervisor of a
    custodian agency grants one here (the action ledger.delegate) and revokes its own."""
    from custody.accounts.models import Agency

    require(request.user, "view")
    form: dict[str, Any] = {}
    answer = 200
    if request.method == "POST":
        form = request.POST.dict()
        try:
            services.do_delegate(request.user, to_agency=form.get("to_agency", ""), facility=form.get("facility", "") or None,
                                 valid_from=form.get("valid_from", "") or None, valid_until=form.get("valid_until", "") or None,
                                 reason=form.get("reason", ""))
        except Refusal as exc:
            messages.error(request, exc.message)
            answer = exc.status
        else:
            messages.success(request, _("Delegation granted to %(agency)s.") % {"agency": form.get("to_agency", "")})
            return redirect("ledger:delegations")
    mine = request.user.agency
    rows = list(restrict(Delegation.objects.select_related("from_agency", "to_agency", "facility", "created_by", "revoked_by"),
                         request.user))
    today = timezone.localdate()
    for d in rows:
        d.now_in_force = d.in_force(today)  # type: ignore[attr-defined]
    return render(request, "ledger/delegations.html", {
        "delegations": rows, "form": form, "today": today,
        "can_grant": can(request.user, "approve") and mine is not None and mine.is_custodian,
        "my_agency_id": getattr(mine, "pk", None),
        "agencies": Agency.objects.exclude(pk=getattr(mine, "pk", None)),
        "facilities": restrict(Facility.objects.all(), request.user), "page_classification": 0,
    }, status=answer)


@require_POST
def delegation_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.do_revoke_delegation(request.user, pk, reason=request.POST.get("reason", ""))
    except (BadInput, RuleError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Delegation revoked."))
    return redirect("ledger:delegations")
