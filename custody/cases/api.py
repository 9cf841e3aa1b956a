"""Cases API: items, disclosure requests and their decisions, prosecution files, case status, recipients.
Every state change is an action of custody.cases.services (one door: checked, written and audited
there); a refusal is answered by DRF's exception handler (400, 403, 404 or 409, with the rule's message)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.cases import services
from custody.cases.models import (
    Case,
    DisclosureEvent,
    DisclosureRequest,
    Item,
    ProsecutionFile,
    Recipient,
    RedactedCopy,
)
from custody.core import audit
from custody.core.access import restrict
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.downloads import audited_download
from custody.core.errors import BadInput

# ---------------------------------------------------------------- serializers


class CasesAttachmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    original_name = serializers.CharField()
    content_type = serializers.CharField()
    sha256 = serializers.CharField()
    size = serializers.IntegerField()


class CasesItemSerializer(serializers.ModelSerializer):
    people = serializers.SlugRelatedField(slug_field="ref", many=True, read_only=True)
    releasable_to = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    originating_agency = serializers.SlugRelatedField(slug_field="code", read_only=True)
    nations = serializers.SerializerMethodField()
    attachments = CasesAttachmentOut(many=True, read_only=True)

    class Meta:
        model = Item
        fields = ["ref", "kind", "title", "body", "source", "item_date", "people", "classification", "release_all", "releasable_to",
                  "nations", "originating_agency", "attachments", "created_at"]

    def get_nations(self, obj: Item) -> list[str]:
        return obj.nations()


class CasesFileIn(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    content_base64 = serializers.CharField()


class CasesItemIn(serializers.Serializer):
    kind = serializers.CharField()
    title = serializers.CharField(max_length=300)
    source = serializers.CharField(max_length=200)
    body = serializers.CharField(required=False, allow_blank=True, default="")
    item_date = serializers.DateField(required=False, allow_null=True, default=None)
    people = serializers.ListField(child=serializers.CharField(max_length=20), min_length=1)
    classification = serializers.IntegerField(default=1)
    release_all = serializers.BooleanField(default=False)
    releasable_to = serializers.ListField(child=serializers.CharField(max_length=8), default=list)
    nations = serializers.ListField(child=serializers.CharField(max_length=2), default=list)
    attachments = CasesFileIn(many=True, required=False, default=list)


class CasesReleasabilityIn(serializers.Serializer):
    release_all = serializers.BooleanField()
    releasable_to = serializers.ListField(child=serializers.CharField(max_length=8), default=list)
    nations = serializers.ListField(child=serializers.CharField(max_length=2), default=list)
    classification = serializers.IntegerField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=500)


class CasesRedactIn(serializers.Serializer):
    attachment = serializers.IntegerField(required=False, allow_null=True, default=None)
    spans = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2), default=list)
    regions = serializers.ListField(child=serializers.ListField(child=serializers.IntegerField(), min_length=4, max_length=4), default=list)
    reason = serializers.CharField(max_length=500)


class CasesRedactionSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = RedactedCopy
        fields = ["id", "item", "attachment", "kind", "spans", "regions", "source_sha256", "sha256", "reason", "created_at"]


class CasesEventSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DisclosureEvent
        fields = ["at", "user", "action", "from_state", "to_state", "note"]


class CasesDisclosureSerializer(serializers.ModelSerializer):
    item = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    recipient = serializers.SlugRelatedField(slug_field="code", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    first_approver = serializers.SlugRelatedField(slug_field="username", read_only=True)
    second_approver = serializers.SlugRelatedField(slug_field="username", read_only=True)
    redactions = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    events = CasesEventSerializer(many=True, read_only=True)

    class Meta:
        model = DisclosureRequest
        fields = ["id", "item", "recipient", "state", "justification", "requested_by", "requested_at", "reviewer", "first_approver",
                  "first_approved_at", "second_approver", "redactions", "decision_reason", "decided_at", "events"]


class CasesDisclosureIn(serializers.Serializer):
    item = serializers.CharField(max_length=20)
    recipient = serializers.CharField(max_length=24)
    justification = serializers.CharField()


class CasesDecisionIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    redactions = serializers.ListField(child=serializers.IntegerField(), default=list)


class CasesFileSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    recipient = serializers.SlugRelatedField(slug_field="code", read_only=True)
    generated_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ProsecutionFile
        fields = ["id", "person", "recipient", "language", "generated_by", "generated_at", "item_refs", "disclosure_ids", "pdf_sha256",
                  "bundle_sha256"]


class CasesGenerateIn(serializers.Serializer):
    person = serializers.CharField(max_length=20)
    recipient = serializers.CharField(max_length=24)
    language = serializers.ChoiceField(choices=["en", "ar"], default="en")
    items = serializers.ListField(child=serializers.CharField(max_length=20), required=False, allow_null=True, default=None)


class CasesCaseSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = Case
        fields = ["person", "stage", "court", "opened_on", "referred_on", "charged_on", "trial_on", "verdict_on", "verdict", "sentence",
                  "sentence_on", "next_hearing", "updated_at"]


class CasesCaseIn(serializers.Serializer):
    person = serializers.CharField(max_length=20)
    stage = serializers.CharField()
    on = serializers.DateField()
    court = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="")
    verdict = serializers.CharField(required=False, allow_blank=True, default="")
    sentence = serializers.CharField(required=False, allow_blank=True, default="")
    next_hearing = serializers.DateField(required=False, allow_null=True, default=None)


class CasesRecipientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Recipient
        fields = ["code", "name", "name_ar", "kind", "country"]


# ---------------------------------------------------------------- helpers


def _valid(serializer_cls: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    s = serializer_cls(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


def _base64(name: str, text: str, field: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadInput(_("Attachment “%(name)s”: content_base64 is not valid base64.") % {"name": name}, field=field) from exc


class _ViewRestricted(RestrictedReadOnlyViewSet):
    """Objects are found among what the caller may VIEW, also for POST actions: the services decide
    whether the caller may act on them (the originating agency rule, reviewers, requesters)."""

    def get_queryset(self) -> Any:
        return restrict(self.queryset.all(), self.request.user, "view")


# ---------------------------------------------------------------- viewsets


class ItemViewSet(_ViewRestricted):
    serializer_class = CasesItemSerializer
    queryset = Item.objects.select_related("originating_agency").prefetch_related("people", "releasable_to", "attachments", "release_nations")
    lookup_field = "ref"

    @extend_schema(parameters=[OpenApiParameter("person", str), OpenApiParameter("kind", str)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "item_list", object_type="cases.item", object_id="api list", via="api")
        return response

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        p = self.request.query_params
        if p.get("person"):
            qs = qs.filter(people__ref=p["person"])
        if p.get("kind"):
            qs = qs.filter(kind=p["kind"])
        return qs.distinct()

    @extend_schema(request=CasesItemIn, responses=CasesItemSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = _valid(CasesItemIn, request)
        files = [(f["name"], _base64(f["name"], f["content_base64"], "attachments")) for f in d["attachments"]]
        item = services.do_create_item(request.user, kind=d["kind"], title=d["title"], source=d["source"], people=d["people"],
                                       body=d["body"], item_date=d["item_date"], classification=d["classification"],
                                       release_all=d["release_all"], releasable_to=d["releasable_to"], nations=d["nations"],
                                       attachments=files)
        return Response(CasesItemSerializer(item, context={"request": request}).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CasesReleasabilityIn, responses=CasesItemSerializer)
    @action(detail=True, methods=["post"])
    def releasability(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        item = self.get_object()
        d = _valid(CasesReleasabilityIn, request)
        services.do_set_releasability(request.user, item.ref, release_all=d["release_all"], agencies=d["releasable_to"],
                                      nations=d["nations"], reason=d["reason"], classification=d["classification"])
        item = self.get_queryset().get(pk=item.pk)
        return Response(CasesItemSerializer(item, context={"request": request}).data)

    @extend_schema(request=CasesFileIn, responses=CasesAttachmentOut)
    @action(detail=True, methods=["post"])
    def attachments(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        item = self.get_object()
        upload = request.FILES.get("file")
        if upload is not None:
            name, data = upload.name, upload.read()
        else:
            d = _valid(CasesFileIn, request)
            name, data = d["name"], _base64(d["name"], d["content_base64"], "content_base64")
        att = services.do_add_attachment(request.user, item.ref, name, data)
        return Response(CasesAttachmentOut(att).data, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<att_id>\d+)")
    def attachment(self, request: Request, ref: str | None = None, att_id: str = "", **kwargs: Any) -> Any:
        item = self.get_object()
        att = item.attachments.filter(pk=int(att_id)).first()
        if att is None:
            raise Http404("not found")
        return audited_download(request, att.file, att.content_type, att.original_name, att.sha256, "attachment_read", att,
                                item=item.ref, via="api")

    @extend_schema(request=CasesRedactIn, responses=CasesRedactionSerializer)
    @action(detail=True, methods=["post"])
    def redact(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        item = self.get_object()
        d = _valid(CasesRedactIn, request)
        copy = services.do_redact(request.user, item.ref, attachment=d["attachment"], spans=d["spans"], regions=d["regions"],
                                  reason=d["reason"])
        return Response(CasesRedactionSerializer(copy).data, status=status.HTTP_201_CREATED)


class DisclosureViewSet(_ViewRestricted):
    serializer_class = CasesDisclosureSerializer
    lookup_value_regex = r"\d+"
    queryset = DisclosureRequest.objects.select_related("item", "recipient", "requested_by", "reviewer", "first_approver",
                                                        "second_approver").prefetch_related("redactions", "events__user")

    @extend_schema(parameters=[OpenApiParameter("state", str), OpenApiParameter("recipient", str)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "disclosure_list", object_type="cases.disclosurerequest", object_id="api list", via="api")
        return response

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        p = self.request.query_params
        if p.get("state"):
            qs = qs.filter(state=p["state"])
        if p.get("recipient"):
            qs = qs.filter(recipient__code=p["recipient"])
        return qs

    @extend_schema(request=CasesDisclosureIn, responses=CasesDisclosureSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = _valid(CasesDisclosureIn, request)
        req = services.do_request_disclosure(request.user, d["item"], d["recipient"], d["justification"])
        return Response(CasesDisclosureSerializer(req).data, status=status.HTTP_201_CREATED)

    def _decide(self, request: Request, fn: Callable[[DisclosureRequest, dict[str, Any]], DisclosureRequest]) -> Response:
        req = self.get_object()
        out = fn(req, _valid(CasesDecisionIn, request))
        return Response(CasesDisclosureSerializer(self.get_queryset().get(pk=out.pk)).data)

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, lambda r, d: services.do_start_review(request.user, r.pk, d["reason"]))

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, lambda r, d: services.do_approve(request.user, r.pk, d["reason"], d["redactions"]))

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, lambda r, d: services.do_refuse(request.user, r.pk, d["reason"]))

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, lambda r, d: services.do_withdraw(request.user, r.pk, d["reason"]))


class ProsecutionFileViewSet(_ViewRestricted):
    serializer_class = CasesFileSerializer
    lookup_value_regex = r"\d+"
    queryset = ProsecutionFile.objects.select_related("person", "recipient", "generated_by")

    @extend_schema(request=CasesGenerateIn, responses=CasesFileSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = _valid(CasesGenerateIn, request)
        pf = services.do_generate_file(request.user, d["person"], d["recipient"], language=d["language"], item_refs=d["items"])
        return Response(CasesFileSerializer(pf).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["pdf", "json"])])
    @action(detail=True, methods=["get"], url_path=r"download/(?P<fmt>[^/.]+)")
    def download(self, request: Request, pk: str | None = None, fmt: str = "pdf", **kwargs: Any) -> Any:
        if fmt not in ("pdf", "json"):
            raise Http404("not found")
        pf = self.get_object()
        field, sha, ctype = (pf.pdf, pf.pdf_sha256, "application/pdf") if fmt == "pdf" else (pf.bundle, pf.bundle_sha256, "application/json")
        return audited_download(request, field, ctype, field.name.rsplit("/", 1)[-1], sha, "case_file_read", pf, fmt=fmt,
                                via="api")


class CaseViewSet(_ViewRestricted):
    serializer_class = CasesCaseSerializer
    queryset = Case.objects.select_related("person")
    lookup_field = "person__ref"
    lookup_url_kwarg = "ref"

    @extend_schema(parameters=[OpenApiParameter("status", str), OpenApiParameter("nationality", str), OpenApiParameter("facility", str)])
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "case_list", object_type="cases.case", object_id="api list", via="api")
        return response

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        p = self.request.query_params
        if p.get("status"):
            qs = qs.filter(stage=p["status"])
        if p.get("nationality"):
            qs = qs.filter(person__nationalities__country=p["nationality"].upper())
        if p.get("facility"):
            qs = qs.filter(person__current_facility__code=p["facility"])
        return qs.distinct()

    @extend_schema(request=CasesCaseIn, responses=CasesCaseSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = _valid(CasesCaseIn, request)
        case = services.do_set_case_status(request.user, d["person"], stage=d["stage"], on=d["on"], court=d["court"], note_text=d["note"],
                                           verdict=d["verdict"], sentence=d["sentence"], next_hearing=d["next_hearing"])
        return Response(CasesCaseSerializer(case).data, status=status.HTTP_201_CREATED)


class RecipientViewSet(_ViewRestricted):
    serializer_class = CasesRecipientSerializer
    queryset = Recipient.objects.all()
    lookup_field = "code"
    audit_reads = False


def register(router: Any) -> None:
    router.register("cases/items", ItemViewSet, basename="cases-item")
    router.register("cases/disclosures", DisclosureViewSet, basename="cases-disclosure")
    router.register("cases/files", ProsecutionFileViewSet, basename="cases-file")
    router.register("cases/status", CaseViewSet, basename="cases-status")
    router.register("cases/recipients", RecipientViewSet, basename="cases-recipient")
