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
GET/POST /api/ledger/delegations/     who may record for whom ... POST {id}/revoke/ {reason}
GET  /api/ledger/handovers/{reference}/bundle/
POST /api/ledger/roll-calls/          {facility, counted, block}
POST /api/ledger/files/               upload a file (multipart `file`); answer its sha256 to list in an
                                      event's `attachments` (201 new, 200 when the same bytes are held)
GET  /api/ledger/files/{sha256}/      its description; .../content/ its bytes (both audited)

Every POST calls one action of custody.ledger.services (the one door: capability, restriction, the
custodian rule, one audit row); a refusal is answered by DRF's exception handler (403, 404, 409, 400
naming the field). The viewsets below therefore let any signed-in user reach a POST (`required_action =
"view"`): the action decides, and audits the refusal.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.db.models import Prefetch
from django.http import FileResponse, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import restrict
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.downloads import audited_download
from custody.core.errors import BadInput
from custody.core.pagination import int_param
from custody.engines.ledger.checkpoint import b64

from . import services
from .files import do_store_file, people_of, read_upload
from .models import (
    CustodyState,
    Delegation,
    Discrepancy,
    EventFile,
    Handover,
    HandoverItem,
    LedgerEvent,
    VerificationRun,
)
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


class EventViewSet(RestrictedReadOnlyViewSet):
    queryset = LedgerEvent.objects.select_related("person", "facility", "custodian").order_by("seq")
    required_action = "view"  # POST: the action checks and audits
    serializer_class = EventSerializer
    lookup_field = "seq"

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        person = self.request.query_params.get("person")
        return qs.filter(person__ref=person) if person else qs

    def create(self, request: Request) -> Response:
        s = RecordSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        # Refs and codes as typed: the action looks each up through the caller's restriction.
        spec = EventSpec(v["kind"], v["person"], v["occurred_at"], facility=v.get("facility") or None,
                         custodian=v.get("custodian") or None, manifest=v["manifest"],
                         to_facility=v.get("to_facility") or None, expected_arrival=v.get("expected_arrival"),
                         country=v["country"], reason=v["reason"], corrects=v.get("corrects"),
                         idempotency_id=v["idempotency_id"] or f"api-{uuid.uuid4()}",
                         attachments=tuple(v["attachments"]), data=v["data"])
        rec = services.do_record_event(request.user, spec)
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

    required_action = "view"  # POST: the action checks and audits

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
        run = services.do_verify_now(request.user, "api")
        return Response({"ok": run.status == "ok", "size": run.size, "checkpoints": run.checkpoints,
                         "first_bad_event": run.first_bad_event, "problems": run.problems, "run": run.pk})

    @action(detail=False, methods=["post"], url_path="roll-calls")
    def roll_calls(self, request: Request) -> Response:
        rc, disc = services.do_record_roll_call(request.user, facility=str(request.data.get("facility", "")),
                                                counted=request.data.get("counted"), block=str(request.data.get("block", "")),
                                                remark=str(request.data.get("note", "")))
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
    required_action = "view"  # POST: the action checks and audits

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        return qs.filter(resolved_at__isnull=True) if self.request.query_params.get("open") else qs

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        if not str(pk).isdigit():
            raise BadInput("the discrepancy id is a number", field="id")
        d = services.do_resolve_discrepancy(request.user, int(pk), resolution=str(request.data.get("resolution", "")))
        return Response(DiscrepancySerializer(d).data)

    @action(detail=False, methods=["post"])
    def reconcile(self, request: Request) -> Response:
        return Response({"raised": services.do_reconcile(request.user)})


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
    required_action = "view"  # POST: the action checks and audits

    def get_queryset(self) -> Any:
        # The nested items are restricted like the handover: only the people the caller may see.
        items = restrict(HandoverItem.objects.select_related("person", "event"), self.request.user)
        return super().get_queryset().prefetch_related(Prefetch("items", queryset=items))

    def create(self, request: Request) -> Response:
        people = request.data.get("people", [])
        if isinstance(people, str):
            people = people.replace(",", " ").split()
        h = services.do_create_handover(request.user, facility=str(request.data.get("facility", "")),
                                        from_custodian=str(request.data.get("from", "")),
                                        to_custodian=str(request.data.get("to", "")),
                                        people=[str(p) for p in people], manifest=str(request.data.get("manifest", "")))
        h = self.get_queryset().get(pk=h.pk)
        return Response(HandoverSerializer(h).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def confirm(self, request: Request, reference: str) -> Response:
        person = str(request.data.get("person", ""))
        rec = services.do_confirm_handover(request.user, reference=reference, person=person,
                                           side=str(request.data.get("side", "")),
                                           wristband=str(request.data.get("wristband", "")),
                                           identity_check=str(request.data.get("identity_check", "")))
        return Response({"person": person, "event": rec.event.seq if rec else None})

    @action(detail=True, methods=["get"])
    def bundle(self, request: Request, reference: str) -> HttpResponse:
        h = self.get_object()
        data = services.handover_bundle(h.reference, request.user)
        audit.record(request._request, "ledger_bundle_export", obj=h)
        return HttpResponse(data, content_type="application/json")


class EventFileViewSet(RestrictedReadOnlyViewSet):
    """Files attached to custody events. Upload first, then list the answered sha256 in the event's
    `attachments`; a file is visible to whoever may see an event listing it, and to its uploader."""

    queryset = EventFile.objects.order_by("id")
    serializer_class = EventFileSerializer
    lookup_field = "sha256"
    required_action = "view"  # POST: the action checks and audits
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        summary="Upload a file to attach to custody events",
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                                         "required": ["file"]}},
        responses={201: EventFileSerializer, 200: EventFileSerializer},
    )
    def create(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        name, data = read_upload(upload) if upload is not None else ("", b"")
        f, created = do_store_file(request.user, name, data)
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
    required_action = "view"  # POST: the action checks and audits

    @extend_schema(summary="Queue a verification of the whole log", request=None,
                   responses={202: VerificationRunSerializer, 200: VerificationRunSerializer})
    def create(self, request: Request) -> Response:
        run, created = services.do_request_verification(request.user, "api")
        run.refresh_from_db()
        return Response(VerificationRunSerializer(run).data,
                        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK)


class DelegationSerializer(serializers.ModelSerializer):
    from_agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    facility = serializers.SlugRelatedField(slug_field="code", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    revoked_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Delegation
        fields = ["id", "from_agency", "to_agency", "facility", "valid_from", "valid_until", "reason", "created_at",
                  "created_by", "revoked_at", "revoked_by", "revoke_reason"]


class DelegationInput(serializers.Serializer):
    to_agency = serializers.CharField(help_text="agency code recording for the caller's agency")
    facility = serializers.CharField(required=False, allow_blank=True, default="", help_text="only at this facility")
    valid_from = serializers.DateField(required=False, allow_null=True, default=None)
    valid_until = serializers.DateField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(allow_blank=True)


class DelegationViewSet(RestrictedReadOnlyViewSet):
    """Who may record custody events for whose people: granted by a supervisor of the custodian agency
    (POST), revoked by one (POST {id}/revoke/ {reason}); visible to everyone (custody.ledger.authority)."""

    queryset = Delegation.objects.select_related("from_agency", "to_agency", "facility", "created_by", "revoked_by")
    serializer_class = DelegationSerializer
    required_action = "view"  # POST: the action checks and audits

    @extend_schema(request=DelegationInput, responses={201: DelegationSerializer})
    def create(self, request: Request) -> Response:
        s = DelegationInput(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        d = services.do_delegate(request.user, to_agency=v["to_agency"], facility=v["facility"] or None,
                                 valid_from=v["valid_from"], valid_until=v["valid_until"], reason=v["reason"])
        return Response(DelegationSerializer(d).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"application/json": {"type": "object", "properties": {"reason": {"type": "string"}}}},
                   responses={200: DelegationSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        if not str(pk).isdigit():
            raise BadInput("the delegation id is a number", field="id")
        d = services.do_revoke_delegation(request.user, int(pk), reason=str(request.data.get("reason", "")))
        return Response(DelegationSerializer(d).data)


def register(router: Any) -> None:
    router.register("ledger/delegations", DelegationViewSet, basename="ledger-delegation")
    router.register("ledger/verifications", VerificationRunViewSet, basename="ledger-verification")
    router.register("ledger/events", EventViewSet, basename="ledger-event")
    router.register("ledger/files", EventFileViewSet, basename="ledger-file")
    router.register("ledger/discrepancies", DiscrepancyViewSet, basename="ledger-discrepancy")
    router.register("ledger/handovers", HandoverViewSet, basename="ledger-handover")
    from .witness_api import register as register_witness  # partner witnesses (issue 14)

    register_witness(router)
    router.register("ledger", LedgerViewSet, basename="ledger")
