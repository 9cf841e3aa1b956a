"""Biometrics API: enrol, identify (1:N search), verify (1:1 at a handover), ANSI/NIST import and export,
and read-only identifications, verifications, captures and templates. Captures and templates exist in
the API only for users with the biometric_images capability (their querysets are empty otherwise)."""

from __future__ import annotations

import base64
from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from custody.biometrics import services
from custody.biometrics.models import BiometricTemplate, Capture, Identification, Verification
from custody.core import audit
from custody.core.access import get_restricted
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.errors import RuleError
from custody.registry.models import Person

MAX_UPLOAD = 20 * 1024 * 1024


def refused(exc: RuleError) -> Response:
    return Response({"detail": exc.message, "rule": exc.rule, "field": exc.field}, status=400)


class IdentificationSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    linked_person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Identification
        fields = ["id", "person", "decision", "strategy", "candidates", "comparisons", "thresholds", "linked_person", "by", "created_at"]


class VerificationSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    operator = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Verification
        fields = ["id", "person", "modality", "score", "threshold", "passed", "thresholds", "handover_ref", "operator",
                  "station", "at", "extractor", "version"]


class CaptureSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    operator = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Capture
        fields = ["id", "person", "modality", "position", "source", "image_format", "sha256", "width", "height", "quality",
                  "quality_detail", "operator", "station", "captured_at"]


class TemplateSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    data = serializers.SerializerMethodField()

    class Meta:
        model = BiometricTemplate
        fields = ["id", "person", "modality", "position", "extractor", "version", "format", "quality", "data", "created_at"]

    def get_data(self, t: BiometricTemplate) -> str:
        return base64.b64encode(bytes(t.data)).decode("ascii")


class IdentificationViewSet(RestrictedReadOnlyViewSet):
    queryset = Identification.objects.select_related("person", "linked_person", "by")
    serializer_class = IdentificationSerializer


class VerificationViewSet(RestrictedReadOnlyViewSet):
    queryset = Verification.objects.select_related("person", "operator")
    serializer_class = VerificationSerializer


class CaptureViewSet(RestrictedReadOnlyViewSet):
    queryset = Capture.objects.select_related("person", "operator").defer("image", "wsq")
    serializer_class = CaptureSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "api_bio_captures", object_type="biometrics.capture", object_id=request.GET.get("person", ""))
        return response

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        ref = self.request.GET.get("person")
        return qs.filter(person__ref=ref) if ref else qs


class TemplateViewSet(RestrictedReadOnlyViewSet):
    queryset = BiometricTemplate.objects.select_related("person")
    serializer_class = TemplateSerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "api_bio_templates", object_type="biometrics.biometrictemplate")
        return response


def _files(request: Request) -> tuple[bytes | None, dict[int, bytes]]:
    def read(name: str) -> bytes | None:
        f = request.FILES.get(name)
        if f is None:
            return None
        if f.size > MAX_UPLOAD:
            raise RuleError(f"{name} is larger than 20 MB", field=name)
        return f.read()

    fingers = {pos: d for pos in range(1, 11) if (d := read(f"finger_{pos}"))}
    return read("face"), fingers


class BiometricActionsViewSet(viewsets.ViewSet):
    parser_classes = [MultiPartParser, FormParser]

    def _person(self, request: Request, action_name: str = "view") -> Person:
        try:
            return get_restricted(Person.objects.all(), request.user, action_name, request=request,
                                  ref=(request.data.get("person") or "").strip())
        except Http404 as exc:
            raise RuleError(f"no person {request.data.get('person')!r} that you may {action_name}", field="person") from exc

    @extend_schema(summary="Enrol a face and up to ten fingerprints, then search the gallery (1:N)")
    @action(detail=False, methods=["post"])
    def enrol(self, request: Request) -> Response:
        try:
            person = self._person(request, "change")
            face, fingers = _files(request)
            enrolment = services.enrol(request.user, person, face=face, fingers=fingers,
                                       station=request.data.get("station", ""),
                                       accept_low_quality=str(request.data.get("accept_low_quality", "")).lower() in ("1", "true"))
        except RuleError as exc:
            audit.record(request, "api_bio_enrol", object_type="biometrics.enrolment", outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "api_bio_enrol", obj=enrolment, person=person.ref)
        return Response(IdentificationSerializer(enrolment.identification).data, status=201)

    @extend_schema(summary="Search the gallery with a face and/or fingerprints (investigation, nothing enrolled)")
    @action(detail=False, methods=["post"])
    def identify(self, request: Request) -> Response:
        try:
            face, fingers = _files(request)
            ident = services.search(request.user, face=face, fingers=fingers, station=request.data.get("station", ""))
        except RuleError as exc:
            audit.record(request, "api_bio_search", object_type="biometrics.identification", outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "api_bio_search", obj=ident, candidates=[c["person_ref"] for c in ident.candidates])
        return Response(IdentificationSerializer(ident).data, status=201)

    @extend_schema(summary="Verify a fresh capture against a person's enrolled templates (1:1, at a handover)")
    @action(detail=False, methods=["post"])
    def verify(self, request: Request) -> Response:
        try:
            person = self._person(request)
            f = request.FILES.get("image")
            if f is None:
                raise RuleError("no image", field="image")
            v = services.verify(request.user, person, modality=request.data.get("modality", "finger"), image=f.read(),
                                position=int(request.data.get("position") or 0), station=request.data.get("station", "") or "api",
                                handover_ref=request.data.get("handover_ref", ""))
        except (RuleError, ValueError) as exc:
            err = exc if isinstance(exc, RuleError) else RuleError(str(exc))
            audit.record(request, "api_bio_verify", object_type="biometrics.verification", outcome="failed", reason=err.message)
            return refused(err)
        audit.record(request, "api_bio_verify", obj=v, person=person.ref, passed=v.passed)
        return Response(VerificationSerializer(v).data, status=201)

    @extend_schema(summary="Check an ANSI/NIST-ITL file, or enrol its images into a person")
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request: Request) -> Response:
        try:
            services.require(request.user, "import")
            f = request.FILES.get("file")
            if f is None:
                raise RuleError("no file", field="file")
            data = f.read()
            if request.data.get("person"):
                person = self._person(request, "change")
                enrolment = services.import_transaction(request.user, data, person=person,
                                                        station=request.data.get("station", "") or "api-import")
                audit.record(request, "api_bio_import", obj=enrolment)
                return Response(IdentificationSerializer(enrolment.identification).data, status=201)
            tx = services.parse_transaction(data)
        except RuleError as exc:
            audit.record(request, "api_bio_import", object_type="biometrics.enrolment", outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "api_bio_import_check", object_type="biometrics.enrolment", object_id=tx.sha256[:16])
        return Response({
            "valid": True, "tot": tx.tot, "version": tx.version, "control_number": tx.control_number, "name": tx.name,
            "faces": [{"idc": i.idc, "compression": i.compression, "width": i.width, "height": i.height, "sha256": i.sha256} for i in tx.faces],
            "fingerprints": [{"idc": i.idc, "position": i.position, "compression": i.compression, "sha256": i.sha256} for i in tx.fingerprints],
            "skipped": tx.skipped,
        })

    @extend_schema(summary="A person's enrolled face and fingerprints as an ANSI/NIST-ITL transaction")
    @action(detail=False, methods=["get"], url_path=r"export/(?P<ref>[^/]+)")
    def export(self, request: Request, ref: str) -> Any:
        person = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
        try:
            data = services.export_person(request.user, person, destination=request.GET.get("to", "PARTNER"))
        except RuleError as exc:
            audit.record(request, "api_bio_export", obj=person, outcome="denied", reason=exc.message)
            return Response({"detail": exc.message, "rule": exc.rule}, status=403)
        audit.record(request, "api_bio_export", obj=person, bytes=len(data))
        resp = HttpResponse(data, content_type="application/octet-stream")
        resp["Content-Disposition"] = f'attachment; filename="{person.ref}.an2"'
        return resp


def register(router: Any) -> None:
    router.register("biometrics/identifications", IdentificationViewSet, basename="biometrics-identification")
    router.register("biometrics/verifications", VerificationViewSet, basename="biometrics-verification")
    router.register("biometrics/captures", CaptureViewSet, basename="biometrics-capture")
    router.register("biometrics/templates", TemplateViewSet, basename="biometrics-template")
    router.register("biometrics", BiometricActionsViewSet, basename="biometrics")
