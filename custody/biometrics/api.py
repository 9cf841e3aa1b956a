"""Biometrics API: enrol, identify (1:N search), verify (1:1 at a handover), ANSI/NIST import and export,
and read-only identifications, verifications, captures and templates. Captures and templates exist in
the API only for users with the biometric_images capability (their querysets are empty otherwise). Every
change is an action of services (checked and audited there; refusals answered by DRF's handler)."""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpResponse
from django.utils.translation import gettext as _
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
from custody.core.actions import require
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.errors import BadInput, Refusal
from custody.registry.models import Person

MAX_UPLOAD = 20 * 1024 * 1024


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
            raise BadInput(_("%(name)s is larger than 20 MB.") % {"name": name}, field=name)
        return f.read()

    fingers = {pos: d for pos in range(1, 11) if (d := read(f"finger_{pos}"))}
    return read("face"), fingers


class BiometricActionsViewSet(viewsets.ViewSet):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(summary="Enrol a face and up to ten fingerprints, then search the gallery (1:N)")
    @action(detail=False, methods=["post"])
    def enrol(self, request: Request) -> Response:
        face, fingers = _files(request)
        enrolment = services.do_enrol(request.user, request.data.get("person") or "", face=face, fingers=fingers,
                                      station=request.data.get("station", ""),
                                      accept_low_quality=str(request.data.get("accept_low_quality", "")).lower() in ("1", "true"))
        return Response(IdentificationSerializer(enrolment.identification).data, status=201)

    @extend_schema(summary="Search the gallery with a face and/or fingerprints (investigation, nothing enrolled)")
    @action(detail=False, methods=["post"])
    def identify(self, request: Request) -> Response:
        face, fingers = _files(request)
        ident = services.do_search(request.user, face=face, fingers=fingers, station=request.data.get("station", ""))
        return Response(IdentificationSerializer(ident).data, status=201)

    @extend_schema(summary="Verify a fresh capture against a person's enrolled templates (1:1, at a handover)")
    @action(detail=False, methods=["post"])
    def verify(self, request: Request) -> Response:
        position = str(request.data.get("position") or "0")
        if not position.isdigit():
            raise BadInput(_("The finger position is a number from 1 to 10."), field="position")
        f = request.FILES.get("image")
        v = services.do_verify(request.user, request.data.get("person") or "", modality=request.data.get("modality", "finger"),
                               image=f.read() if f is not None else None, position=int(position),
                               station=request.data.get("station", "") or "api", handover_ref=request.data.get("handover_ref", ""))
        return Response(VerificationSerializer(v).data, status=201)

    @extend_schema(summary="Check an ANSI/NIST-ITL file, or enrol its images into a person")
    @action(detail=False, methods=["post"], url_path="import")
    def import_file(self, request: Request) -> Response:
        f = request.FILES.get("file")
        data = f.read() if f is not None else None
        if request.data.get("person"):
            enrolment = services.do_import_transaction(request.user, data, person=request.data["person"],
                                                       station=request.data.get("station", "") or "api-import")
            return Response(IdentificationSerializer(enrolment.identification).data, status=201)
        # Checking a file writes nothing: a read for enrolment agencies, audited here.
        require(request.user, "import")
        services.require_images(request.user)
        if not data:
            raise BadInput(_("Choose an ANSI/NIST-ITL file."), field="file")
        tx = services.parse_transaction(data)
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
        except Refusal as exc:
            # An export is a read: refused, it is audited here; DRF's handler answers.
            audit.record(request, "api_bio_export", obj=person, outcome="denied", reason=exc.message)
            raise
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
