"""The only place that changes biometric state: every change is an action (custody.core.actions) that
views, API and the `bio` command call. Images and templates are handled only by agencies with the
biometric_images capability (enrolment and investigation agencies); a handover officer verifies 1:1
without seeing them.

Every capture goes through the engine before anything is written: a corrupt image, a wrong resolution,
no face or two faces, a malformed ANSI/NIST file raise BadInput with the engine's precise message and
nothing is stored. Thresholds in force are copied into every identification, adjudication and
verification.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db.models import Count, Max
from django.utils.translation import gettext as _

from custody.biometrics.models import (
    Adjudication,
    BiometricTemplate,
    Capture,
    Decision,
    DetCurve,
    Enrolment,
    Identification,
    Modality,
    Source,
    ThresholdSet,
    Verification,
)
from custody.core import actions
from custody.core.access import can
from custody.core.actions import BadInput, NotAllowed, NotFound, Refusal, RuleError, action, reach, require
from custody.engines.biometrics import ansi_nist
from custody.engines.biometrics.errors import BiometricError
from custody.engines.biometrics.face import FaceAdapter, FaceCapture
from custody.engines.biometrics.fingerprint import FINGER_POSITIONS, FingerprintAdapter, FingerprintCapture
from custody.engines.biometrics.identify import Identifier, Thresholds
from custody.engines.biometrics.identify import verify as engine_verify
from custody.engines.biometrics.templates import Template
from custody.registry.models import Person

FINGER_FLOOR_NFIQ2 = 20


def _refuse(exc: BiometricError, what: str = "") -> BadInput:
    """The engine refused a sample or a file: the request's input, named by the engine."""
    prefix = f"{what}: " if what else ""
    return BadInput(prefix + str(exc), rule=f"biometrics.{exc.code}")


def require_images(user: Any) -> None:
    """Images and templates are for enrolment and investigation agencies (the biometric_images capability)."""
    if not can(user, "biometric_images"):
        raise NotAllowed(_("Only enrolment and investigation agencies handle biometric images and templates."),
                         rule="biometrics.images")


def reach_person(user: Any, person: Any, action_name: str = "view") -> Person:
    ref = (getattr(person, "ref", person) or "").strip()
    if not ref:
        raise BadInput(_("Give the person's reference (P-…)."), field="person")
    try:
        return reach(Person.objects.all(), user, action_name, what=_("Person %(ref)s") % {"ref": ref}, ref=ref)
    except NotFound as exc:
        raise NotFound(exc.message, rule=exc.rule, field="person") from exc


def active_thresholds() -> tuple[Thresholds, ThresholdSet | None]:
    ts = ThresholdSet.objects.filter(active=True).order_by("-created_at").first()
    return (Thresholds.from_dict(ts.values), ts) if ts else (Thresholds(), None)


# -- the in-process gallery, kept in step with the template table ------------------------------------------

_lock = threading.Lock()
_cache: dict[str, Any] = {"ident": None, "count": 0, "max": 0}


def _template(row: BiometricTemplate) -> Template:
    return Template(row.modality, row.extractor, row.version, row.format, bytes(row.data), row.position, row.quality)


def identifier() -> Identifier:
    """The gallery of all enrolled templates; rebuilt if rows vanished (tests), else extended with new rows."""
    with _lock:
        agg = BiometricTemplate.objects.aggregate(n=Count("id"), m=Max("id"))
        n, m = agg["n"] or 0, agg["m"] or 0
        ident = _cache["ident"]
        stale = ident is None or m < _cache["max"] or (n - _cache["count"]) != BiometricTemplate.objects.filter(id__gt=_cache["max"]).count()
        if stale:
            ident = Identifier()
            since = 0
        else:
            since = _cache["max"]
        for row in BiometricTemplate.objects.filter(id__gt=since).order_by("id").iterator():
            t = _template(row)
            if row.modality == Modality.FACE:
                ident.enrol(row.person_id, t, [])
            else:
                ident.enrol(row.person_id, None, [t])
        _cache.update(ident=ident, count=n, max=m)
        return ident


# -- captures ----------------------------------------------------------------------------------------------


@dataclass
class Processed:
    face: FaceCapture | None = None
    fingers: list[FingerprintCapture] = field(default_factory=list)

    def recapture_prompts(self) -> list[str]:
        out = []
        if self.face is not None and self.face.recapture:
            out.append(_("Face: %(why)s") % {"why": self.face.recapture})
        for c in self.fingers:
            if c.recapture:
                out.append(_("%(finger)s: %(why)s") % {"finger": FINGER_POSITIONS[c.position], "why": c.recapture})
        return out


def process(face: bytes | None, fingers: dict[int, bytes], *, nfiq2: bool = True) -> Processed:
    """Run the engine on every sample; the first refusal stops everything (nothing stored)."""
    if not face and not fingers:
        raise BadInput(_("Nothing captured: give a face photo or at least one fingerprint."), rule="biometrics.no_sample")
    out = Processed()
    if face:
        try:
            out.face = FaceAdapter().capture(face)
        except BiometricError as exc:
            raise _refuse(exc, _("Face photo")) from exc
    adapter = FingerprintAdapter(min_nfiq2=FINGER_FLOOR_NFIQ2, compute_quality=nfiq2)

    def one(item: tuple[int, bytes]) -> FingerprintCapture:
        pos, data = item
        try:
            return adapter.capture(data, pos)
        except BiometricError as exc:
            raise _refuse(exc, FINGER_POSITIONS.get(pos, str(pos))) from exc

    # MINDTCT and NFIQ 2 release the GIL: two threads halve the ten-print time on this machine's two cores.
    with ThreadPoolExecutor(max_workers=2) as pool:
        out.fingers = list(pool.map(one, sorted(fingers.items())))
    return out


def _store_captures(user: Any, person: Person | None, enrolment: Enrolment | None, p: Processed, *, station: str,
                    source: str, templates: bool) -> list[Capture]:
    rows = []
    if p.face is not None:
        q = p.face.quality
        cap = Capture.objects.create(
            person=person, enrolment=enrolment, modality=Modality.FACE, position=0, source=source,
            image=p.face.original, image_format="image", sha256=p.face.sha256, width=p.face.width, height=p.face.height,
            quality=q.score, quality_detail={"eye_distance_px": round(q.eye_distance_px, 1), "roll_deg": round(q.roll_deg, 1),
                                             "yaw": round(q.yaw, 3), "pitch": round(q.pitch, 3), "sharpness": round(q.sharpness, 1),
                                             "box": list(q.box), "landmarks": [list(x) for x in p.face.landmarks]},
            operator=user, station=station,
        )
        rows.append(cap)
        if templates and person is not None:
            _store_template(cap, person, p.face.template)
    for c in p.fingers:
        cap = Capture.objects.create(
            person=person, enrolment=enrolment, modality=Modality.FINGER, position=c.position, source=source,
            image=c.original, image_format=c.image.source_format, wsq=c.wsq, sha256=c.sha256, width=c.image.width,
            height=c.image.height, quality=c.nfiq2 if c.nfiq2 >= 0 else None,
            quality_detail={"measure": "NFIQ 2", "feedback": c.nfiq2_feedback, "minutiae": len(c.minutiae),
                            "ridge_period_px": round(c.image.ridge_period_px, 2)},
            operator=user, station=station,
        )
        rows.append(cap)
        if templates and person is not None:
            _store_template(cap, person, c.template)
    return rows


def _store_template(cap: Capture, person: Person, t: Template) -> BiometricTemplate:
    return BiometricTemplate.objects.create(
        capture=cap, person=person, modality=t.modality, position=t.position, extractor=t.extractor,
        version=t.version, format=t.format, data=t.data, quality=t.quality,
    )


def _candidates_json(result: Any) -> list[dict[str, Any]]:
    refs = dict(Person.objects.filter(pk__in=[c.subject_id for c in result.candidates]).values_list("pk", "ref"))
    out = []
    for c in result.candidates[:20]:
        d = c.to_dict()
        d["person_ref"] = refs.get(c.subject_id, "")
        out.append(d)
    return out


@action("biometrics.enrol", capability="add")
def do_enrol(user: Any, person: Any, *, face: bytes | None, fingers: dict[int, bytes], station: str,
             source: str = Source.UPLOAD, accept_low_quality: bool = False, note: str = "") -> Enrolment:
    """Capture, check quality, store, search the whole gallery and record the fused answer."""
    require_images(user)
    person = reach_person(user, person, "change")
    if not station.strip():
        raise BadInput(_("Name the enrolment station."), rule="biometrics.station", field="station")
    p = process(face, fingers)
    prompts = p.recapture_prompts()
    if prompts and not accept_low_quality:
        raise BadInput(_("Capture again: ") + "; ".join(prompts), rule="biometrics.quality")
    thresholds, tset = active_thresholds()
    ident = identifier()
    ident.thresholds = thresholds
    result = ident.identify(p.face.template if p.face else None, [c.template for c in p.fingers], exclude={person.pk})
    enrolment = Enrolment.objects.create(person=person, operator=user, station=station, source=source,
                                         low_quality_accepted=bool(prompts), note=note)
    _store_captures(user, person, enrolment, p, station=station, source=source, templates=True)
    best = result.best
    linked = None
    if result.decision == Decision.MATCH and best is not None:
        linked = Person.objects.filter(pk=best.subject_id).first()
    Identification.objects.create(
        enrolment=enrolment, person=person, decision=result.decision, strategy=result.strategy,
        candidates=_candidates_json(result), comparisons=result.comparisons, thresholds=result.thresholds.to_dict(),
        threshold_set=tset, linked_person=linked, by=user,
        probe_sha256=([p.face.sha256] if p.face else []) + [c.sha256 for c in p.fingers],
    )
    actions.note(enrolment, person=person.ref, decision=result.decision, source=source)
    return enrolment


@action("biometrics.search", capability="view")
def do_search(user: Any, *, face: bytes | None, fingers: dict[int, bytes], station: str) -> Identification:
    """Investigation 1:N: who is this? Probe captures are stored (evidence of the search), not enrolled."""
    require_images(user)
    p = process(face, fingers, nfiq2=False)
    thresholds, tset = active_thresholds()
    ident = identifier()
    ident.thresholds = thresholds
    result = ident.identify(p.face.template if p.face else None, [c.template for c in p.fingers])
    _store_captures(user, None, None, p, station=station or "search", source=Source.SEARCH, templates=False)
    identification = Identification.objects.create(
        person=None, decision=result.decision, strategy=result.strategy, candidates=_candidates_json(result),
        comparisons=result.comparisons, thresholds=result.thresholds.to_dict(), threshold_set=tset, by=user,
        probe_sha256=([p.face.sha256] if p.face else []) + [c.sha256 for c in p.fingers],
    )
    actions.note(identification, decision=result.decision, candidates=[c["person_ref"] for c in identification.candidates])
    return identification


@action("biometrics.verify", capability="add")
def do_verify(user: Any, person: Any, *, modality: str, image: bytes | None, position: int = 0, station: str,
              handover_ref: str = "") -> Verification:
    """1:1 at a handover. The officer need not see the enrolled images; the result is recorded."""
    person = reach_person(user, person)
    if not image:
        raise BadInput(_("Capture an image to verify."), field="image")
    if modality not in Modality.values:
        raise BadInput(_("“%(m)s” is not a modality (face or finger).") % {"m": modality}, field="modality")
    refs = [_template(r) for r in BiometricTemplate.objects.filter(person=person, modality=modality)]
    if not refs:
        raise RuleError(
            _("%(ref)s has no enrolled %(modality)s: enrol him before verifying.") % {"ref": person.ref, "modality": modality},
            rule="biometrics.no_reference",
        )
    if modality == Modality.FACE:
        p = process(image, {}, nfiq2=False)
        probe = p.face.template
    else:
        p = process(None, {position: image}, nfiq2=False)
        probe = p.fingers[0].template
    thresholds, _tset = active_thresholds()
    try:
        res = engine_verify(probe, refs, thresholds)
    except BiometricError as exc:
        raise _refuse(exc) from exc
    cap = _store_captures(user, person, None, p, station=station, source=Source.HANDOVER, templates=False)[0]
    verification = Verification.objects.create(
        person=person, capture=cap, modality=modality, score=res.score, threshold=res.threshold, passed=res.passed,
        thresholds=thresholds.to_dict(), handover_ref=handover_ref, operator=user, station=station,
        extractor=res.extractor, version=res.version,
    )
    actions.note(verification, person=person.ref, passed=res.passed)
    return verification


@action("biometrics.adjudicate", capability="adjudicate")
def do_adjudicate(user: Any, identification: Any, candidate: Any, *, same_person: bool, note: str = "") -> Adjudication:
    require_images(user)
    pk = getattr(identification, "pk", identification)
    identification = reach(Identification.objects.all(), user, "view", what=_("Identification #%(id)s") % {"id": pk}, lock=True, pk=pk)
    candidate = reach_person(user, candidate)
    listed = {c.get("subject_id") for c in identification.candidates}
    if candidate.pk not in listed:
        raise BadInput(_("%(ref)s is not a candidate of this identification.") % {"ref": candidate.ref},
                       rule="biometrics.not_candidate", field="candidate")
    adj = Adjudication.objects.create(identification=identification, candidate=candidate, same_person=same_person,
                                      note=note, thresholds=identification.thresholds, by=user)
    if same_person and identification.linked_person_id is None:
        identification.linked_person = candidate
        identification.save(update_fields=["linked_person"])
    elif not same_person and identification.linked_person_id == candidate.pk:
        identification.linked_person = None
        identification.save(update_fields=["linked_person"])
    actions.note(identification, candidate=candidate.ref, same_person=same_person)
    return adj


def review_queue(identifications: Any) -> Any:
    """Identifications that need a human: decision review and no adjudication yet."""
    return identifications.filter(decision=Decision.REVIEW, adjudications__isnull=True)


# -- exchange ----------------------------------------------------------------------------------------------


def parse_transaction(data: bytes) -> ansi_nist.NistTransaction:
    try:
        return ansi_nist.import_transaction(data)
    except BiometricError as exc:
        raise _refuse(exc) from exc


@action("biometrics.import", capability="import")
def do_import_transaction(user: Any, data: bytes | None, *, person: Any, station: str,
                          accept_low_quality: bool = False) -> Enrolment:
    """Enrol a person from a partner's transaction: Type-10 face and Type-4/14 fingerprints (the
    enrolment is part of this action: one audit row, naming the transaction)."""
    require_images(user)
    if not data:
        raise BadInput(_("Choose an ANSI/NIST-ITL file."), field="file")
    tx = parse_transaction(data)
    face = tx.faces[0].data if tx.faces else None
    fingers: dict[int, bytes] = {}
    for f in tx.fingerprints:
        if f.position in fingers:
            raise BadInput(_("The transaction holds two images of %(finger)s.") % {"finger": FINGER_POSITIONS[f.position]},
                           rule="biometrics.duplicate_finger")
        fingers[f.position] = f.data
    enrolment = do_enrol(user, person, face=face, fingers=fingers, station=station, source=Source.IMPORT,
                         accept_low_quality=accept_low_quality,
                         note=_("Imported from ANSI/NIST-ITL transaction %(tcn)s (%(sha)s)") % {"tcn": tx.control_number, "sha": tx.sha256[:16]})
    actions.note(enrolment, transaction=tx.control_number, sha256=tx.sha256)
    return enrolment


def export_person(user: Any, person: Person, *, destination: str, originating: str = "CUSTODY", tot: str = "CAR") -> bytes:
    """A read (nothing is written): the door that asked audits it, refused or not."""
    require(user, "export")
    require_images(user)
    face = Capture.objects.filter(person=person, modality=Modality.FACE, enrolment__isnull=False).order_by("-captured_at").first()
    fingers = {}
    for cap in Capture.objects.filter(person=person, modality=Modality.FINGER, enrolment__isnull=False).order_by("captured_at"):
        fingers[cap.position] = cap  # latest enrolment's capture per finger wins
    if face is None and not fingers:
        raise RuleError(_("%(ref)s has no enrolled face or fingerprint to export.") % {"ref": person.ref}, rule="biometrics.nothing")
    faces = []
    if face is not None:
        data = bytes(face.image)
        if not (data.startswith(b"\xff\xd8") or data.startswith(b"\x89PNG")):
            data = ansi_nist.image_to_jpeg(data)
        faces.append(ansi_nist.ExportFace(data, originating))
    try:
        return ansi_nist.export_transaction(
            tot=tot, originating_agency=originating, destination_agency=destination, control_number=f"{person.ref}",
            biographic={18: person.display_name.upper()[:50]},
            faces=faces, fingers=[ansi_nist.ExportFinger(bytes(c.wsq), pos) for pos, c in sorted(fingers.items()) if c.wsq],
        )
    except BiometricError as exc:
        raise _refuse(exc) from exc


@action("biometrics.save_calibration", capability="approve")
def do_save_calibration(user: Any, name: str, thresholds: Thresholds, summary: dict[str, Any], det_png: bytes | None,
                        activate: bool) -> ThresholdSet:
    """Thresholds decide every later match and verification: a supervisor stores (and activates) them."""
    if not name.strip():
        raise BadInput(_("Name the threshold set."), field="name")
    if activate:
        ThresholdSet.objects.filter(active=True).update(active=False)
    ts = ThresholdSet.objects.create(name=name.strip(), values=thresholds.to_dict(), active=activate, calibration=summary,
                                     created_by=user)
    if det_png:
        DetCurve.objects.create(threshold_set=ts, png=det_png)
    actions.note(ts, active=activate, values=thresholds.to_dict())
    return ts


# -- the scanner's file drop -------------------------------------------------------------------------------


def drop_sets(folder: Path) -> dict[str, dict[str, Path]]:
    """Files `<REF>_face.jpg`, `<REF>_01.png` ... `<REF>_10.wsq` grouped by person; ready when `<REF>.ready` exists."""
    sets: dict[str, dict[str, Path]] = {}
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not p.is_file() or "_" not in p.stem:
            continue
        ref, part = p.stem.rsplit("_", 1)
        sets.setdefault(ref, {})[part.lower()] = p
    return {ref: parts for ref, parts in sets.items() if (folder / f"{ref}.ready").exists()}


def ingest_drop(user: Any, folder: Path, *, station: str) -> list[tuple[str, str, Enrolment | None]]:
    """Enrol every ready set, each through the enrolment action (checked and audited on its own);
    refused sets move to refused/ with the reason, done sets to processed/."""
    results = []
    for ref, parts in drop_sets(folder).items():
        try:
            face = parts["face"].read_bytes() if "face" in parts else None
            fingers = {int(k): v.read_bytes() for k, v in parts.items() if k.isdigit() and 1 <= int(k) <= 10}
            enrolment = do_enrol(user, ref, face=face, fingers=fingers, station=station, source=Source.DROP)
            outcome, dest = "ok", folder / "processed"
        except Refusal as exc:
            enrolment, outcome, dest = None, exc.message, folder / "refused"
        dest.mkdir(exist_ok=True)
        for p in [*parts.values(), folder / f"{ref}.ready"]:
            p.rename(dest / p.name)
        if enrolment is None:
            (dest / f"{ref}.reason.txt").write_text(outcome + "\n", encoding="utf-8")
        results.append((ref, outcome, enrolment))
    return results
