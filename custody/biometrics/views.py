"""Biometric pages: enrolment station (upload and scanner drop folder), a person's biometric record,
identification results, the adjudication queue with side-by-side images and minutiae overlay, handover
verification, investigation search, ANSI/NIST import and export, and the DET curve.

Images and templates are shown only to users with the biometric_images capability; every page and image
read is audited here, every change (enrolment, search, verification, adjudication, import) by its action
in services."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_http_methods

from custody.biometrics import services
from custody.biometrics.models import (
    Adjudication,
    BiometricTemplate,
    Capture,
    DetCurve,
    Enrolment,
    Identification,
    Modality,
    ThresholdSet,
    Verification,
)
from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.errors import BadInput, Refusal
from custody.engines.biometrics.fingerprint import FINGER_POSITIONS, parse_iso_19794_2
from custody.registry.models import Person

MAX_UPLOAD = 20 * 1024 * 1024

# The engine names fingers in English; these marks put the names in the Arabic catalogue.
FINGER_NAMES = [
    gettext_noop("unknown finger"), gettext_noop("right thumb"), gettext_noop("right index"), gettext_noop("right middle"),
    gettext_noop("right ring"), gettext_noop("right little"), gettext_noop("left thumb"), gettext_noop("left index"),
    gettext_noop("left middle"), gettext_noop("left ring"), gettext_noop("left little"),
]


def drop_folder() -> Path:
    return Path(os.environ.get("CUSTODY_BIO_DROP") or getattr(settings, "BIOMETRICS_DROP_DIR", "") or
                Path(settings.BASE_DIR) / "var" / "bio-drop")


def _people(request: HttpRequest) -> Any:
    return restrict(Person.objects.all(), request.user)


def _file(request: HttpRequest, name: str) -> bytes | None:
    f = request.FILES.get(name)
    if f is None:
        return None
    if f.size > MAX_UPLOAD:
        raise BadInput(_("%(name)s is larger than 20 MB.") % {"name": f.name}, field=name)
    return f.read()


def _finger_files(request: HttpRequest) -> dict[int, bytes]:
    out = {}
    for pos in range(1, 11):
        data = _file(request, f"finger_{pos}")
        if data:
            out[pos] = data
    return out


def _positions() -> list[tuple[int, str]]:
    return [(p, _(FINGER_POSITIONS[p])) for p in range(1, 11)]


@require_http_methods(["GET", "POST"])
def station(request: HttpRequest) -> HttpResponse:
    can_capture = can(request.user, "add") and can(request.user, "biometric_images")
    folder = drop_folder()
    if request.method == "POST":
        if not can_capture:
            raise PermissionDenied
        try:
            if request.POST.get("drop"):
                results = services.ingest_drop(request.user, folder, station=request.POST.get("station", "") or "drop")
                for ref, outcome, _e in results:
                    (messages.success if outcome == "ok" else messages.error)(request, f"{ref}: {outcome if outcome != 'ok' else _('enrolled')}")
                if not results:
                    messages.info(request, _("No complete set in the drop folder."))
                return redirect("biometrics:station")
            enrolment = services.do_enrol(
                request.user, request.POST.get("person", ""), face=_file(request, "face"), fingers=_finger_files(request),
                station=request.POST.get("station", ""), accept_low_quality=bool(request.POST.get("accept_low_quality")),
            )
            return redirect("biometrics:identification", pk=enrolment.identification.pk)
        except Refusal as exc:
            messages.error(request, exc.message)
    pending = services.drop_sets(folder) if can_capture else {}
    audit.record(request, "bio_station", object_type="biometrics.enrolment")
    return render(request, "biometrics/station.html", {
        "can_capture": can_capture, "positions": _positions(), "pending": sorted(pending), "folder": folder,
        "page_classification": 1,
    })


def person_record(request: HttpRequest, ref: str) -> HttpResponse:
    person = get_restricted(_people(request), request.user, request=request, ref=ref)
    images = can(request.user, "biometric_images")
    enrolments = list(restrict(Enrolment.objects.filter(person=person), request.user).select_related("operator"))
    captures = list(restrict(Capture.objects.filter(person=person), request.user).select_related("operator")) if images else []
    templates = list(restrict(BiometricTemplate.objects.filter(person=person), request.user).defer("data")) if images else []
    idents = list(restrict(Identification.objects.filter(person=person), request.user).select_related("linked_person"))
    # Links run both ways: someone enrolled later may have been found to be this man.
    linked_from = [i.person for i in restrict(Identification.objects.filter(linked_person=person), request.user)
                   .select_related("person") if i.person is not None]
    verifs = list(restrict(Verification.objects.filter(person=person), request.user).select_related("operator"))
    audit.record(request, "bio_person_record", obj=person, images=images)
    return render(request, "biometrics/person.html", {
        "person": person, "images": images, "enrolments": enrolments, "captures": captures, "templates": templates,
        "identifications": idents, "verifications": verifs, "linked_from": linked_from, "can_export": images and can(request.user, "export"),
        "page_classification": 2,
    })


def identification(request: HttpRequest, pk: int) -> HttpResponse:
    ident = get_restricted(Identification.objects.select_related("person", "linked_person", "by"), request.user,
                           request=request, pk=pk)
    visible = set(_people(request).filter(pk__in=[c["subject_id"] for c in ident.candidates]).values_list("pk", flat=True))
    candidates = [dict(c, visible=c["subject_id"] in visible) for c in ident.candidates]
    adjudications = list(restrict(Adjudication.objects.filter(identification=ident), request.user).select_related("by", "candidate"))
    audit.record(request, "bio_identification", obj=ident, candidates=[c["person_ref"] for c in candidates if c["visible"]])
    return render(request, "biometrics/identification.html", {
        "ident": ident, "candidates": candidates, "adjudications": adjudications,
        "can_adjudicate": can(request.user, "adjudicate") and can(request.user, "biometric_images"),
        "images": can(request.user, "biometric_images"), "page_classification": 2,
    })


def queue(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "biometric_images"):
        raise PermissionDenied
    rows = list(services.review_queue(restrict(Identification.objects.all(), request.user)).select_related("person")[:200])
    if rows:
        audit.record_many(request, "bio_queue", rows)
    else:
        audit.record(request, "bio_queue", object_type="biometrics.identification", object_id="0 rows")
    return render(request, "biometrics/queue.html", {"rows": rows, "page_classification": 2})


@require_http_methods(["GET", "POST"])
def compare(request: HttpRequest, pk: int, ref: str) -> HttpResponse:
    """Side by side: the probe's captures and the candidate's enrolled captures, finger by finger."""
    if not can(request.user, "biometric_images"):
        raise PermissionDenied
    ident = get_restricted(Identification.objects.all(), request.user, request=request, pk=pk)
    candidate = get_restricted(_people(request), request.user, request=request, ref=ref)
    row = next((c for c in ident.candidates if c["subject_id"] == candidate.pk), None)
    if row is None:
        raise Http404
    if request.method == "POST":
        try:
            services.do_adjudicate(request.user, ident.pk, candidate.ref, same_person=request.POST.get("decision") == "same",
                                   note=request.POST.get("note", ""))
            messages.success(request, _("Decision recorded."))
            return redirect("biometrics:identification", pk=ident.pk)
        except Refusal as exc:
            messages.error(request, exc.message)
    probe = restrict(Capture.objects.filter(sha256__in=ident.probe_sha256), request.user)
    if ident.enrolment_id:
        probe = probe.filter(enrolment_id=ident.enrolment_id)
    elif ident.person_id is None:
        probe = Capture.objects.filter(sha256__in=ident.probe_sha256, person__isnull=True) if can(request.user, "biometric_images") else probe
    probe_by = {(c.modality, c.position): c for c in probe}
    cand_by = {}
    for c in restrict(Capture.objects.filter(person=candidate, enrolment__isnull=False), request.user).order_by("captured_at"):
        cand_by[(c.modality, c.position)] = c
    pairs = []
    for key in sorted(set(probe_by) | set(cand_by), key=lambda k: (k[0] != Modality.FACE, k[1])):
        modality, pos = key
        score = row["face_score"] if modality == Modality.FACE else row["finger_scores"].get(str(pos))
        label = _("Face") if modality == Modality.FACE else _(FINGER_POSITIONS.get(pos, ""))
        pairs.append({"label": label, "probe": probe_by.get(key), "candidate": cand_by.get(key), "score": score})
    audit.record(request, "bio_compare", obj=ident, candidate=candidate.ref)
    return render(request, "biometrics/compare.html", {
        "ident": ident, "candidate": candidate, "row": row, "pairs": pairs,
        "can_adjudicate": can(request.user, "adjudicate"), "page_classification": 2,
    })


def capture_image(request: HttpRequest, pk: int) -> HttpResponse:
    """A capture as PNG for the browser (WSQ is not displayable), with minutiae drawn when asked."""
    if not can(request.user, "biometric_images"):
        audit.record(request, "bio_image", object_type="biometrics.capture", object_id=str(pk), outcome="denied")
        raise PermissionDenied
    cap = get_restricted(Capture.objects.all(), request.user, request=request, pk=pk) if Capture.objects.filter(pk=pk, person__isnull=False).exists() \
        else _search_capture(request, pk)
    from PIL import ImageDraw

    from custody.engines.biometrics.fingerprint import decode_image

    img, _fmt = decode_image(bytes(cap.image), what="stored capture")
    img = img.convert("RGB")
    if request.GET.get("overlay") and cap.modality == Modality.FINGER:
        tmpl = BiometricTemplate.objects.filter(capture=cap).first()
        if tmpl is not None:
            import math

            draw = ImageDraw.Draw(img)
            for m in parse_iso_19794_2(bytes(tmpl.data))[3]:
                colour = (220, 30, 30) if m.kind == "RIDGE_ENDING" else (30, 90, 220)
                draw.ellipse([m.x - 4, m.y - 4, m.x + 4, m.y + 4], outline=colour, width=2)
                a = math.radians(m.angle)
                draw.line([m.x, m.y, m.x + 12 * math.cos(a), m.y - 12 * math.sin(a)], fill=colour, width=2)
    if cap.modality == Modality.FACE and request.GET.get("overlay"):
        box = cap.quality_detail.get("box")
        if box:
            ImageDraw.Draw(img).rectangle(box, outline=(30, 200, 60), width=3)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    audit.record(request, "bio_image", obj=cap, overlay=bool(request.GET.get("overlay")))
    resp = HttpResponse(buf.getvalue(), content_type="image/png")
    resp["Cache-Control"] = "no-store"
    return resp


def _search_capture(request: HttpRequest, pk: int) -> Capture:
    # Probe captures of an investigation search belong to no person: biometric users only (checked above).
    cap = Capture.objects.filter(pk=pk, person__isnull=True).first()
    if cap is None:
        raise Http404
    return cap


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    result = None
    if request.method == "POST":
        try:
            position = request.POST.get("position") or "0"
            if not position.isdigit():
                raise BadInput(_("The finger position is a number from 1 to 10."), field="position")
            result = services.do_verify(request.user, request.POST.get("person", ""), modality=request.POST.get("modality", Modality.FINGER),
                                        image=_file(request, "image"), position=int(position),
                                        station=request.POST.get("station", "") or "handover",
                                        handover_ref=request.POST.get("handover_ref", ""))
        except Refusal as exc:
            messages.error(request, exc.message)
    else:
        audit.record(request, "bio_verify_page", object_type="biometrics.verification")
    return render(request, "biometrics/verify.html", {
        "result": result, "positions": _positions(), "initial_ref": request.GET.get("person", ""),
        "handover_ref": request.GET.get("handover", ""), "page_classification": 1,
    })


@require_http_methods(["GET", "POST"])
def search(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "biometric_images"):
        raise PermissionDenied
    if request.method == "POST":
        try:
            ident = services.do_search(request.user, face=_file(request, "face"), fingers=_finger_files(request),
                                       station=request.POST.get("station", ""))
            return redirect("biometrics:identification", pk=ident.pk)
        except Refusal as exc:
            messages.error(request, exc.message)
    return render(request, "biometrics/search.html", {"positions": _positions(), "page_classification": 1})


@require_http_methods(["GET", "POST"])
def import_file(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "biometric_images"):
        raise PermissionDenied
    tx = None
    if request.method == "POST":
        try:
            data = _file(request, "file")
            ref = request.POST.get("person", "").strip()
            if ref:
                enrolment = services.do_import_transaction(request.user, data, person=ref,
                                                           station=request.POST.get("station", "") or "import")
                return redirect("biometrics:identification", pk=enrolment.identification.pk)
            if not data:
                raise BadInput(_("Choose an ANSI/NIST-ITL file."), field="file")
            # Checking a file writes nothing: a read, audited here.
            tx = services.parse_transaction(data)
            audit.record(request, "bio_import_check", object_type="biometrics.enrolment", object_id=tx.sha256[:16])
        except Refusal as exc:
            messages.error(request, exc.message)
    return render(request, "biometrics/import.html", {"tx": tx, "page_classification": 1})


def export_person(request: HttpRequest, ref: str) -> HttpResponse:
    person = get_restricted(_people(request), request.user, request=request, ref=ref)
    try:
        data = services.export_person(request.user, person, destination=request.GET.get("to", "PARTNER"))
    except Refusal as exc:
        audit.record(request, "bio_export", obj=person, outcome="denied", reason=exc.message)
        messages.error(request, exc.message)
        return redirect("biometrics:person", ref=person.ref)
    audit.record(request, "bio_export", obj=person, bytes=len(data))
    resp = HttpResponse(data, content_type="application/octet-stream")
    resp["Content-Disposition"] = f'attachment; filename="{person.ref}.an2"'
    return resp


def calibration(request: HttpRequest) -> HttpResponse:
    sets = list(restrict(ThresholdSet.objects.all(), request.user)[:20])
    active = next((s for s in sets if s.active), None)
    audit.record(request, "bio_calibration", object_type="biometrics.thresholdset")
    from custody.engines.biometrics.identify import Thresholds

    return render(request, "biometrics/calibration.html", {
        "sets": sets, "active": active, "values": (active.values if active else Thresholds().to_dict()),
        "has_det": {s.pk for s in sets if DetCurve.objects.filter(threshold_set=s).exists()}, "page_classification": 0,
    })


def det_png(request: HttpRequest, pk: int) -> HttpResponse:
    det = get_restricted(DetCurve.objects.all(), request.user, request=request, threshold_set_id=pk)
    audit.record(request, "bio_det", obj=det)
    return HttpResponse(bytes(det.png), content_type="image/png")
