"""Cases API: items, disclosure requests and their decisions, prosecution files, case status, recipients.
Every state change goes through services; a refused action answers 400 with the rule's message and is
audited as denied."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import date
from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.cases import prosecution, services
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
from custody.core.errors import RuleError
from custody.registry.models import Person

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


def _run(request: Request, audit_action: str, obj: Any, fn: Callable[[], Any], **detail: Any) -> Any:
    """Run a service call; a RuleError becomes a 400 naming the rule, audited as denied."""
    try:
        return fn()
    except RuleError as exc:
        audit.record(request, audit_action, obj=obj, outcome="denied", message=exc.message, via="api", **detail)
        return Response({"detail": exc.message, "rule": exc.rule, "field": exc.field}, status=status.HTTP_400_BAD_REQUEST)


def _person(request: Request, ref: str) -> Person:
    p = restrict(Person.objects.all(), request.user).filter(ref=ref).first()
    if p is None:
        raise Http404("not found")
    return p


def _recipient(code: str) -> Recipient:
    r = Recipient.objects.filter(code=code).first()
    if r is None:
        raise RuleError(_("No recipient has the code %(code)s.") % {"code": code}, field="recipient")
    return r


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

        def go() -> Response:
            people = list(restrict(Person.objects.filter(ref__in=d["people"]), request.user))
            missing = sorted(set(d["people"]) - {p.ref for p in people})
            if missing:
                raise RuleError(_("No person you may see has the reference(s) %(refs)s.") % {"refs": ", ".join(missing)}, field="people")
            files = []
            for f in d["attachments"]:
                try:
                    files.append((f["name"], base64.b64decode(f["content_base64"], validate=True)))
                except (binascii.Error, ValueError) as exc:
                    raise RuleError(_("Attachment “%(name)s”: content_base64 is not valid base64.") % {"name": f["name"]},
                                    field="attachments") from exc
            item = services.create_item(request.user, kind=d["kind"], title=d["title"], source=d["source"], people=people, body=d["body"],
                                        item_date=d["item_date"], classification=d["classification"], release_all=d["release_all"],
                                        releasable_to=d["releasable_to"], nations=d["nations"], attachments=files)
            audit.record(request, "item_create", obj=item, ref=item.ref, via="api")
            return Response(CasesItemSerializer(item, context={"request": request}).data, status=status.HTTP_201_CREATED)

        return _run(request, "item_create", None, go)

    @extend_schema(request=CasesReleasabilityIn, responses=CasesItemSerializer)
    @action(detail=True, methods=["post"])
    def releasability(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        item = self.get_object()
        d = _valid(CasesReleasabilityIn, request)

        def go() -> Response:
            change = services.set_releasability(request.user, item, release_all=d["release_all"], agencies=d["releasable_to"],
                                                nations=d["nations"], reason=d["reason"], classification=d["classification"])
            audit.record(request, "releasability_change", obj=item, before=change.before, after=change.after, via="api")
            item.refresh_from_db()
            return Response(CasesItemSerializer(item, context={"request": request}).data)

        return _run(request, "releasability_change", item, go)

    @extend_schema(request=CasesFileIn, responses=CasesAttachmentOut)
    @action(detail=True, methods=["post"])
    def attachments(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        item = self.get_object()
        upload = request.FILES.get("file")

        def go() -> Response:
            if upload is not None:
                name, data = upload.name, upload.read()
            else:
                d = _valid(CasesFileIn, request)
                try:
                    name, data = d["name"], base64.b64decode(d["content_base64"], validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise RuleError(_("Attachment “%(name)s”: content_base64 is not valid base64.") % {"name": d["name"]},
                                    field="content_base64") from exc
            att = services.add_attachment(request.user, item, name, data)
            audit.record(request, "attachment_add", obj=att, item=item.ref, sha256=att.sha256, via="api")
            return Response(CasesAttachmentOut(att).data, status=status.HTTP_201_CREATED)

        return _run(request, "attachment_add", item, go)

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

        def go() -> Response:
            att = None
            if d["attachment"]:
                att = item.attachments.filter(pk=d["attachment"]).first()
                if att is None:
                    raise RuleError(_("Item %(ref)s has no file #%(id)s.") % {"ref": item.ref, "id": d["attachment"]}, field="attachment")
            if att is not None and att.is_image:
                copy = services.redact_image(request.user, item, att, [tuple(r) for r in d["regions"]], reason=d["reason"])
            else:
                copy = services.redact_text(request.user, item, [tuple(s) for s in d["spans"]], attachment=att, reason=d["reason"])
            audit.record(request, "redaction_create", obj=copy, item=item.ref, sha256=copy.sha256, via="api")
            return Response(CasesRedactionSerializer(copy).data, status=status.HTTP_201_CREATED)

        return _run(request, "redaction_create", item, go)


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
        item = restrict(Item.objects.all(), request.user).filter(ref=d["item"]).first()
        if item is None:
            raise Http404("not found")

        def go() -> Response:
            req = services.request_disclosure(request.user, item, _recipient(d["recipient"]), d["justification"])
            audit.record(request, "disclosure_request", obj=req, item=item.ref, recipient=d["recipient"], via="api")
            return Response(CasesDisclosureSerializer(req).data, status=status.HTTP_201_CREATED)

        return _run(request, "disclosure_request", item, go)

    def _decide(self, request: Request, name: str, fn: Callable[[DisclosureRequest, dict[str, Any]], DisclosureRequest]) -> Response:
        req = self.get_object()
        d = _valid(CasesDecisionIn, request)

        def go() -> Response:
            out = fn(req, d)
            audit.record(request, f"disclosure_{name}", obj=out, item=out.item.ref, state=out.state, via="api")
            out = self.get_queryset().get(pk=out.pk)
            return Response(CasesDisclosureSerializer(out).data)

        return _run(request, f"disclosure_{name}", req, go)

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def review(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, "review", lambda r, d: services.start_review(request.user, r, d["reason"]))

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        def fn(r: DisclosureRequest, d: dict[str, Any]) -> DisclosureRequest:
            copies = list(restrict(RedactedCopy.objects.filter(pk__in=d["redactions"], item=r.item), request.user))
            if len(copies) != len(set(d["redactions"])):
                raise RuleError(_("Some redacted copies are not copies of item %(ref)s.") % {"ref": r.item.ref}, field="redactions")
            return services.approve(request.user, r, d["reason"], copies)

        return self._decide(request, "approve", fn)

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, "refuse", lambda r, d: services.refuse(request.user, r, d["reason"]))

    @extend_schema(request=CasesDecisionIn, responses=CasesDisclosureSerializer)
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        return self._decide(request, "withdraw", lambda r, d: services.withdraw(request.user, r, d["reason"]))


class ProsecutionFileViewSet(_ViewRestricted):
    serializer_class = CasesFileSerializer
    lookup_value_regex = r"\d+"
    queryset = ProsecutionFile.objects.select_related("person", "recipient", "generated_by")

    @extend_schema(request=CasesGenerateIn, responses=CasesFileSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = _valid(CasesGenerateIn, request)
        person = _person(request, d["person"])

        def go() -> Response:
            pf = prosecution.generate(request.user, person, _recipient(d["recipient"]), language=d["language"], item_refs=d["items"])
            audit.record(request, "case_file_generate", obj=pf, person=person.ref, recipient=d["recipient"], items=pf.item_refs,
                         pdf_sha256=pf.pdf_sha256, bundle_sha256=pf.bundle_sha256, via="api")
            return Response(CasesFileSerializer(pf).data, status=status.HTTP_201_CREATED)

        return _run(request, "case_file_generate", person, go, recipient=d["recipient"])

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
        person = _person(request, d["person"])

        def go() -> Response:
            on: date = d["on"]
            case = services.set_case_status(request.user, person, stage=d["stage"], on=on, court=d["court"], note=d["note"],
                                            verdict=d["verdict"], sentence=d["sentence"], next_hearing=d["next_hearing"])
            audit.record(request, "case_status", obj=case, person=person.ref, stage=case.stage, via="api")
            return Response(CasesCaseSerializer(case).data, status=status.HTTP_201_CREATED)

        return _run(request, "case_status", person, go)


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
