"""Ledger API: every page action is also here.

POST /api/ledger/events/             record an event (201 new, 200 when the idempotency id was seen)
GET  /api/ledger/events/{seq}/proof/  inclusion proof against the latest signed checkpoint
GET  /api/ledger/headcounts/          headcounts from the projection
GET  /api/ledger/checkpoints/latest/  latest checkpoint, with ?from=N a consistency proof from size N
POST /api/ledger/verify/              verify the whole log now, in the request (supervisor; small logs)
POST /api/ledger/verifications/       queue a verification (202); GET .../{id}/ its progress and result
GET  /api/ledger/discrepancies/       ... POST {id}/resolve/ {resolution}
POST /api/ledger/discrepancies/reconcile/
GET/POST /api/ledger/handovers/       ... POST {reference}/confirm/ {person, side, wristband, identity_check}
GET  /api/ledger/handovers/{reference}/bundle/
POST /api/ledger/roll-calls/          {facility, counted, block}
POST /api/ledger/files/               upload a file (multipart `file`); answer its sha256 to list in an
                                      event's `attachments` (201 new, 200 when the same bytes are held)
GET  /api/ledger/files/{sha256}/      its description; .../content/ its bytes (both audited)
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db.models import Prefetch
from django.http import FileResponse, HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.downloads import audited_download
from custody.core.errors import RuleError
from custody.core.pagination import int_param
from custody.engines.ledger.checkpoint import b64

from . import integrity, services
from .files import people_of, read_upload, store_file
from .models import CustodyState, Discrepancy, EventFile, Handover, HandoverItem, LedgerEvent, VerificationRun
from .specs import EVENT_KINDS, EventSpec


class EventSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)
    custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)
    attachments = serializers.SerializerMethodField(help_text="SHA-256 of each attached file, from the signed body")

    class Meta:
        model = LedgerEvent
        fields = ["seq", "kind", "person", "occurred_at", "recorded_at", "facility", "custodian", "idempotency_id",
                  "manifest", "reason", "data", "attachments", "body"]

    def get_attachments(self, event: LedgerEvent) -> list[str]:
        return list(json.loads(event.body).get("attachments", []))


class EventFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventFile
        fields = ["sha256", "original_name", "content_type", "size", "uploaded_at"]


class RecordSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EVENT_KINDS)
    person = serializers.CharField()
    occurred_at = serializers.DateTimeField()
    facility = serializers.CharField(required=False, allow_blank=True)
    custodian = serializers.CharField(required=False, allow_blank=True)
    manifest = serializers.CharField(required=False, allow_blank=True, default="")
    to_facility = serializers.CharField(required=False, allow_blank=True)
    expected_arrival = serializers.DateTimeField(required=False, allow_null=True)
    country = serializers.CharField(required=False, allow_blank=True, default="")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    corrects = serializers.IntegerField(required=False, allow_null=True)
    idempotency_id = serializers.CharField(required=False, allow_blank=True, default="")
    attachments = serializers.ListField(child=serializers.RegexField(r"^[0-9a-f]{64}$"), required=False, default=list)
    data = serializers.DictField(required=False, default=dict)


def _rule_response(exc: RuleError) -> Response:
    return Response({"detail": exc.message, "rule": exc.rule}, status=status.HTTP_409_CONFLICT)


class EventViewSet(RestrictedReadOnlyViewSet):
    queryset = LedgerEvent.objects.select_related("person", "facility", "custodian").order_by("seq")
    serializer_class = EventSerializer
    lookup_field = "seq"

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        person = self.request.query_params.get("person")
        return qs.filter(person__ref=person) if person else qs

    def create(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        from custody.accounts.models import Agency
        from custody.registry.models import Facility, Person

        s = RecordSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        person = get_restricted(Person.objects.all(), request.user, request=request._request, ref=v["person"])

        def fac(code: str | None) -> Any:
            return get_object_or_404(Facility, code=code) if code else None

        spec = EventSpec(v["kind"], person, v["occurred_at"], facility=fac(v.get("facility")),
                         custodian=get_object_or_404(Agency, code=v["custodian"]) if v.get("custodian") else None,
                         manifest=v["manifest"], to_facility=fac(v.get("to_facility")),
                         expected_arrival=v.get("expected_arrival"), country=v["country"], reason=v["reason"],
                         corrects=v.get("corrects"), idempotency_id=v["idempotency_id"] or f"api-{uuid.uuid4()}",
                         attachments=tuple(v["attachments"]), data=v["data"])
        if v["kind"] == "handed_over":
            return Response({"detail": "record handovers through /api/ledger/handovers/ (both sides confirm)",
                             "rule": "handover"}, status=status.HTTP_409_CONFLICT)
        try:
            rec = services.record_event(spec, user=request.user)
        except RuleError as exc:
            return _rule_response(exc)
        audit.record(request._request, "ledger_event_recorded", obj=person, seq=rec.event.seq, kind=rec.event.kind)
        return Response(EventSerializer(rec.event).data, status=status.HTTP_201_CREATED if rec.created else status.HTTP_200_OK)

    @action(detail=True, methods=["get"])
    def proof(self, request: Request, seq: str) -> Response:
        event = self.get_object()
        cp = services.latest_checkpoint()
        if cp is None or cp.tree_size <= event.seq:
            cp = services.sign_now()
        assert cp is not None
        return Response({
            "seq": event.seq, "leaf_hash": b64(services.leaf_hash_of(event.body)),
            "inclusion_proof": [b64(h) for h in services.inclusion_for(event.seq, cp.tree_size)],
            "checkpoint": services.checkpoint_of(cp).to_json(), "key_id": services.public_key_id(),
        })


class LedgerViewSet(viewsets.ViewSet):
    """Log-wide actions that are not about one record."""

    def list(self, request: Request) -> Response:
        return Response({"size": LedgerEvent.objects.count(), "key_id": services.public_key_id()})

    @action(detail=False, methods=["get"])
    def headcounts(self, request: Request) -> Response:
        return Response(services.headcounts_for(restrict(CustodyState.objects.all(), request.user)))

    @action(detail=False, methods=["get"], url_path="checkpoints/latest")
    def latest(self, request: Request) -> Response:
        cp = services.latest_checkpoint()
        if cp is None:
            return Response({"detail": "no checkpoint yet"}, status=status.HTTP_404_NOT_FOUND)
        out: dict[str, Any] = {"checkpoint": services.checkpoint_of(cp).to_json()}
        old = int_param(request, "from", minimum=1, maximum=cp.tree_size)  # 400 naming `from`, never int()'s 500
        if old:
            out["consistency_from"] = old
            out["consistency_proof"] = [b64(h) for h in services.consistency_for(old, cp.tree_size)]
            out["old_root"] = b64(services.root_at(old))
        return Response(out)

    @action(detail=False, methods=["post"])
    def verify(self, request: Request) -> Response:
        if not can(request.user, "approve"):
            raise PermissionDenied
        run = integrity.verify_now(request.user, "api")
        audit.record(request._request, "ledger_verify", obj=run, outcome="ok" if run.status == "ok" else "failed",
                     size=run.size)
        return Response({"ok": run.status == "ok", "size": run.size, "checkpoints": run.checkpoints,
                         "first_bad_event": run.first_bad_event, "problems": run.problems, "run": run.pk})

    @action(detail=False, methods=["post"], url_path="roll-calls")
    def roll_calls(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        from custody.registry.models import Facility

        facility = get_restricted(Facility.objects.all(), request.user, request=request._request, code=request.data.get("facility", ""))
        try:
            rc, disc = services.record_roll_call(facility=facility, counted=int(request.data.get("counted", -1)),
                                                 user=request.user, block=str(request.data.get("block", "")))
        except RuleError as exc:
            return _rule_response(exc)
        return Response({"counted": rc.counted, "expected": rc.expected, "discrepancy": disc.pk if disc else None},
                        status=status.HTTP_201_CREATED)


class DiscrepancySerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Discrepancy
        fields = ["id", "kind", "person", "facility", "manifest", "details", "raised_at", "expected", "counted",
                  "resolved_at", "resolution"]


class DiscrepancyViewSet(RestrictedReadOnlyViewSet):
    queryset = Discrepancy.objects.select_related("person", "facility")
    serializer_class = DiscrepancySerializer

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        return qs.filter(resolved_at__isnull=True) if self.request.query_params.get("open") else qs

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        if not can(request.user, "approve"):
            raise PermissionDenied
        d = get_restricted(Discrepancy.objects.all(), request.user, request=request._request, pk=pk)
        try:
            services.resolve_discrepancy(d, user=request.user, resolution=str(request.data.get("resolution", "")))
        except RuleError as exc:
            return _rule_response(exc)
        return Response(DiscrepancySerializer(d).data)

    @action(detail=False, methods=["post"])
    def reconcile(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        return Response({"raised": services.reconcile()})


class HandoverItemSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    event = serializers.SlugRelatedField(slug_field="seq", read_only=True)

    class Meta:
        model = HandoverItem
        fields = ["person", "sender_confirmed_at", "receiver_confirmed_at", "identity_check", "event"]


class HandoverSerializer(serializers.ModelSerializer):
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)
    from_custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)
    items = HandoverItemSerializer(many=True, read_only=True)

    class Meta:
        model = Handover
        fields = ["reference", "facility", "from_custodian", "to_custodian", "manifest", "status", "items"]


class HandoverViewSet(RestrictedReadOnlyViewSet):
    queryset = Handover.objects.select_related("facility", "from_custodian", "to_custodian")
    serializer_class = HandoverSerializer
    lookup_field = "reference"

    def get_queryset(self) -> Any:
        # The nested items are restricted like the handover: only the people the caller may see.
        items = restrict(HandoverItem.objects.select_related("person", "event"), self.request.user)
        return super().get_queryset().prefetch_related(Prefetch("items", queryset=items))

    def create(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        from custody.accounts.models import Agency
        from custody.registry.models import Facility, Person

        facility = get_restricted(Facility.objects.all(), request.user, request=request._request, code=request.data.get("facility", ""))
        refs = list(request.data.get("people", []))
        people = list(restrict(Person.objects.filter(ref__in=refs), request.user))
        if len(people) != len(set(refs)) or not people:
            return Response({"detail": "unknown or hidden people"}, status=status.HTTP_400_BAD_REQUEST)
        try:
            h = services.create_handover(facility=facility, from_custodian=get_object_or_404(Agency, code=request.data.get("from")),
                                         to_custodian=get_object_or_404(Agency, code=request.data.get("to")), people=people,
                                         user=request.user, manifest=str(request.data.get("manifest", "")))
        except RuleError as exc:
            return _rule_response(exc)
        return Response(HandoverSerializer(h).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, reference: str) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        h = self.get_object()
        item = get_object_or_404(HandoverItem.objects.select_related("handover", "person"), handover=h,
                                 person__ref=request.data.get("person", ""))
        try:
            rec = services.confirm_handover_item(item, user=request.user, side=str(request.data.get("side", "")),
                                                 wristband=str(request.data.get("wristband", "")),
                                                 identity_check=str(request.data.get("identity_check", "")))
        except RuleError as exc:
            return _rule_response(exc)
        audit.record(request._request, "ledger_handover_confirm", obj=item.person, handover=h.reference)
        return Response({"person": item.person.ref, "event": rec.event.seq if rec else None})

    @action(detail=True, methods=["get"])
    def bundle(self, request: Request, reference: str) -> HttpResponse:
        h = self.get_object()
        try:
            data = services.handover_bundle(h.reference, request.user)
        except RuleError as exc:
            return _rule_response(exc)
        audit.record(request._request, "ledger_bundle_export", obj=h)
        return HttpResponse(data, content_type="application/json")


class EventFileViewSet(RestrictedReadOnlyViewSet):
    """Files attached to custody events. Upload first, then list the answered sha256 in the event's
    `attachments`; a file is visible to whoever may see an event listing it, and to its uploader."""

    queryset = EventFile.objects.order_by("id")
    serializer_class = EventFileSerializer
    lookup_field = "sha256"
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a file to attach to custody events",
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                                         "required": ["file"]}},
        responses={201: EventFileSerializer, 200: EventFileSerializer},
    )
    def create(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        upload = request.FILES.get("file")
        if upload is None:
            return Response({"detail": "send the file as multipart field `file`", "field": "file"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            f, created = store_file(request.user, *read_upload(upload))
        except RuleError as exc:
            audit.record(request._request, "ledger_file_upload", object_type="ledger.eventfile", outcome="failed",
                         reason=exc.message)
            return Response({"detail": exc.message, "field": "file"}, status=status.HTTP_400_BAD_REQUEST)
        audit.record(request._request, "ledger_file_upload", obj=f, sha256=f.sha256, created=created)
        return Response(EventFileSerializer(f).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(summary="The file's bytes", responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def content(self, request: Request, sha256: str) -> FileResponse:
        f = self.get_object()
        return audited_download(request._request, f.file, f.content_type, f.original_name, f.sha256, "ledger_file_read", f,
                                people=people_of(f, request.user))


class VerificationRunSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = VerificationRun
        fields = ["id", "trigger", "requested_by", "requested_at", "started_at", "finished_at", "status", "progress",
                  "size", "checkpoints", "first_bad_event", "problems"]


class VerificationRunViewSet(RestrictedReadOnlyViewSet):
    """Recorded runs of the whole-log verification. POST queues one on the task queue (202) and answers
    the run to poll; while one is waiting or running, POST answers that one (200)."""

    queryset = VerificationRun.objects.select_related("requested_by")
    serializer_class = VerificationRunSerializer

    @extend_schema(summary="Queue a verification of the whole log", request=None,
                   responses={202: VerificationRunSerializer, 200: VerificationRunSerializer})
    def create(self, request: Request) -> Response:
        if not can(request.user, "approve"):
            raise PermissionDenied
        run, created = integrity.request_verification(request.user, "api")
        audit.record(request._request, "ledger_verify_requested", obj=run, created=created)
        run.refresh_from_db()
        return Response(VerificationRunSerializer(run).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


def register(router: Any) -> None:
    router.register("ledger/verifications", VerificationRunViewSet, basename="ledger-verification")
    router.register("ledger/events", EventViewSet, basename="ledger-event")
    router.register("ledger/files", EventFileViewSet, basename="ledger-file")
    router.register("ledger/discrepancies", DiscrepancyViewSet, basename="ledger-discrepancy")
    router.register("ledger/handovers", HandoverViewSet, basename="ledger-handover")
    router.register("ledger", LedgerViewSet, basename="ledger")
