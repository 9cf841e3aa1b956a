from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import restrict
from custody.core.api import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from custody.registry import importer, services
from custody.registry.models import Facility, ImportBatch, Person
from custody.registry.search import find_people
from custody.registry.serializers import FacilitySerializer, PersonSerializer


class ClassificationInput(serializers.Serializer):
    level = serializers.IntegerField(help_text="0 unclassified, 1 restricted, 2 confidential, 3 secret")
    reason = serializers.CharField(required=False, allow_blank=True, help_text="required: kept in the audit trail")


class PersonViewSet(RestrictedModelViewSet):
    """People the caller may see. `?q=` searches names in both scripts and identifiers."""

    serializer_class = PersonSerializer
    queryset = Person.objects.select_related("current_facility", "current_custodian").prefetch_related("names", "identifiers__authority", "nationalities").order_by("ref")
    lookup_field = "ref"
    http_method_names = ["get", "post", "patch", "head", "options"]
    # Writes are actions (custody.registry.services): they check the capability and audit the refusal,
    # so the edge lets every signed-in user reach them.
    required_action = "view"

    @extend_schema(parameters=[OpenApiParameter("q", str, description="name in either script, or a number"),
                               OpenApiParameter("facility", str), OpenApiParameter("nationality", str)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        q = request.query_params.get("q", "").strip()
        if q:
            result = find_people(request.user, q, limit=100)
            audit.record(request, "search", object_type="registry.person", object_id=f"{result.total} hits", query=q, ids=[p.pk for p in result.people], via="api")
            data = self.get_serializer(result.people, many=True).data
            return Response({"count": result.total, "results": data})
        response = super().list(request, *args, **kwargs)
        audit.record(request, "person_list", object_type="registry.person", object_id="api list", via="api")
        return response

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("facility"):
            qs = qs.filter(current_facility__code=params["facility"])
        if params.get("nationality"):
            qs = qs.filter(nationalities__country=params["nationality"].upper())
        return qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = self.get_serializer(data=request.data)
        s.is_valid(raise_exception=True)
        fields = dict(s.validated_data)
        fields.pop("classification_reason", None)
        names = fields.pop("names", None)
        person = services.do_create_person(request.user, fields, names=names, nationality_codes=fields.pop("nationality_codes", []))
        return Response(self.get_serializer(self._fresh(person)).data, status=201)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = self.get_serializer(data=request.data, partial=True)
        s.is_valid(raise_exception=True)
        fields = dict(s.validated_data)
        person = services.do_change_person(
            request.user, kwargs.get("ref", ""), fields, names=fields.pop("names", None),
            nationality_codes=fields.pop("nationality_codes", None), classification=fields.pop("classification", None),
            classification_reason=fields.pop("classification_reason", ""))
        return Response(self.get_serializer(self._fresh(person)).data)

    @extend_schema(request=ClassificationInput, responses=PersonSerializer)
    @action(detail=True, methods=["post"])
    def classification(self, request: Request, ref: str | None = None) -> Response:
        """Raise or lower the classification, with the reason: raised by any agency that sees the person,
        lowered only by the agency that set it (a supervisor)."""
        s = ClassificationInput(data=request.data)
        s.is_valid(raise_exception=True)
        person = services.do_classify(request.user, ref or "", s.validated_data["level"], s.validated_data.get("reason", ""))
        return Response(self.get_serializer(self._fresh(person)).data)

    def _fresh(self, person: Person) -> Person:
        # The answer shows the person as the caller now reads it, with the lists prefetched.
        return self.queryset.get(pk=person.pk)


class FacilityViewSet(RestrictedReadOnlyViewSet):
    serializer_class = FacilitySerializer
    queryset = Facility.objects.select_related("custodian")
    lookup_field = "code"
    audit_reads = False


class ImportBatchSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None, read_only=True)
    undone_by = serializers.CharField(source="undone_by.username", default=None, read_only=True)

    class Meta:
        model = ImportBatch
        fields = ["id", "at", "user", "file_name", "sha256", "content_sha256", "source", "rows", "mapping", "undone_at", "undone_by"]


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    source = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    mapping = serializers.JSONField(required=False, default=dict, help_text="header -> field; unmapped headers are guessed")
    dry_run = serializers.BooleanField(required=False, default=False)
    allow_duplicate = serializers.BooleanField(required=False, default=False,
                                               help_text="import although the same file or rows were imported before")

    def validate_mapping(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise serializers.ValidationError(_("Give the mapping as an object of column header to field name."))
        unknown = sorted(v for v in value.values() if v and v not in importer.TARGET_FIELDS)
        if unknown:
            raise serializers.ValidationError(_("Unknown field(s): %(fields)s.") % {"fields": ", ".join(unknown)})
        return value


class ImportBatchViewSet(RestrictedReadOnlyViewSet):
    """Roster imports of the caller's agency. POST a CSV or XLSX `file` to import it (all rows or none):
    201 with the batch; 400 naming the file problem or every bad row; 409 when the same file or the
    same rows were imported before and not undone (the answer names when and by whom), unless
    `allow_duplicate`. `dry_run` validates and reports earlier imports without writing."""

    serializer_class = ImportBatchSerializer
    queryset = ImportBatch.objects.select_related("user", "undone_by").order_by("-at")
    required_action = "import"
    audit_reads = False

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={201: ImportBatchSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = ImportUploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        upload = v["file"]
        try:
            importer.check_upload_size(upload.size)
            table = importer.read_table(upload.read(), upload.name)
        except importer.ImportFileError as exc:
            audit.record(request, "import_upload", outcome="failed", file=upload.name, error=str(exc), via="api")
            raise serializers.ValidationError({"file": [str(exc)]}) from exc
        mapping = importer.propose_mapping(table.headers)
        for header, target in v["mapping"].items():
            if header not in table.headers:
                raise serializers.ValidationError({"mapping": [_("The file has no column “%(h)s”.") % {"h": header}]})
            mapping[header] = target
        mapping = {h: t for h, t in mapping.items() if t}
        codes = set(restrict(Facility.objects.all(), request.user).values_list("code", flat=True))
        parsed, errors = importer.validate(table, mapping, codes)
        previous = importer.previous_imports(table, request.user)
        if errors:
            audit.record(request, "import_validate", outcome="failed", file=table.file_name, errors=len(errors), via="api")
            return Response({"file": [str(e) for e in errors[:200]], "error_count": len(errors)}, status=400)
        if v["dry_run"]:
            return Response({"rows": len(parsed), "mapping": mapping, "sha256": table.sha256, "content_sha256": table.content_sha256,
                             "previous": ImportBatchSerializer(previous, many=True).data,
                             "previous_text": [importer.duplicate_message(b) for b in previous]})
        try:
            # The action checks, writes and audits, the refusal of a duplicate too (services.do_import).
            batch = services.do_import(request.user, table, mapping, source=v["source"], allow_duplicate=v["allow_duplicate"])
        except importer.DuplicateImport as exc:
            return Response({"detail": exc.message, "rule": "duplicate_import",
                             "previous": ImportBatchSerializer(exc.previous, many=True).data}, status=409)
        return Response(ImportBatchSerializer(batch).data, status=201)


def register(router: Any) -> None:
    router.register("registry/people", PersonViewSet, basename="registry-person")
    router.register("registry/facilities", FacilityViewSet, basename="registry-facility")
    router.register("registry/imports", ImportBatchViewSet, basename="registry-import")
