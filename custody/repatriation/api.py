"""Repatriation API: the board, a country (position, contacts, outreach, nationals, export) and a
person's records per country (steps, overrides). Every change is an action of services (checked and
audited there; its refusal answered by DRF's exception handler); reads and exports are audited here."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import restrict
from custody.core.api import RestrictedViewSetMixin
from custody.core.errors import BadInput, Refusal
from custody.registry.models import Person
from custody.repatriation import exports, services
from custody.repatriation.models import Contact, CountryFile, Outreach, Repatriation


class RepatriationContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ["id", "name", "title", "organisation", "email", "phone", "notes", "active"]


class RepatriationOutreachSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Outreach
        fields = ["id", "kind", "on", "reference", "subject", "summary", "in_reply_to", "contact", "user", "at"]


class RepatriationPositionIn(serializers.Serializer):
    position = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    on = serializers.DateField(required=False, allow_null=True, default=None)


class RepatriationContactIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    organisation = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    phone = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class RepatriationOutreachIn(serializers.Serializer):
    kind = serializers.CharField()
    on = serializers.DateField()
    subject = serializers.CharField(max_length=300)
    summary = serializers.CharField(required=False, allow_blank=True, default="")
    reference = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    in_reply_to = serializers.IntegerField(required=False, allow_null=True, default=None)
    contact = serializers.IntegerField(required=False, allow_null=True, default=None)


class RepatriationStepIn(serializers.Serializer):
    country = serializers.CharField(max_length=2)
    kind = serializers.CharField()
    on = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    officials = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class RepatriationOverrideIn(serializers.Serializer):
    country = serializers.CharField(max_length=2)
    kind = serializers.CharField()
    reason = serializers.CharField()


def _person_out(p: Any, code: str) -> dict[str, Any]:
    nats = sorted(n.country for n in p.nationalities.all())
    return {"ref": p.ref, "display_name": p.display_name, "display_name_ar": p.display_name_ar, "nationalities": nats,
            "dual_national": len(nats) > 1, "is_minor": p.is_minor, "facility": p.current_facility.code if p.current_facility_id else None,
            "custody_status": p.custody_status}


def _rep_out(r: Repatriation) -> dict[str, Any]:
    return {"country": r.country, "stage": r.stage, "scheduled_for": r.scheduled_for, "refusal_reason": r.refusal_reason,
            "ledger_seq": r.ledger_seq,
            "steps": [{"kind": s.kind, "on": s.on, "note": s.note, "user": s.user.username, "override": s.override_id} for s in r.steps.all()],
            "overrides": [{"id": o.pk, "kind": o.kind, "reason": o.reason, "supervisor": o.supervisor.username, "at": o.at}
                          for o in r.overrides.all()]}


def _valid(cls: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    s = cls(data=request.data)
    s.is_valid(raise_exception=True)
    return dict(s.validated_data)


class CountryViewSet(RestrictedViewSetMixin, viewsets.GenericViewSet):
    """Countries of origin. `list` is the board; `retrieve` a country's file, contacts and outreach."""

    queryset = CountryFile.objects.all()
    lookup_field = "code"
    serializer_class = RepatriationContactSerializer  # schema placeholder; responses are described per action

    def get_queryset(self) -> Any:
        return restrict(CountryFile.objects.all(), self.request.user, "view")

    def _code(self, code: str | None) -> str:
        try:
            return services.normalise_code(code or "")
        except Refusal as exc:
            raise Http404("not found") from exc

    @extend_schema(responses=OpenApiTypes.OBJECT, operation_id="repatriation_board")
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = services.board(request.user)
        audit.record(request, "repatriation_board", object_type="repatriation.countryfile", object_id=f"{len(rows)} countries", via="api")
        return Response({"count": len(rows), "results": [{k: str(v) if k == "position" else v for k, v in r.items()} for r in rows]})

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, code: str | None = None, **kwargs: Any) -> Response:
        code = self._code(code)
        cf = self.get_queryset().filter(code=code).first()
        audit.record(request, "repatriation_country", object_type="repatriation.countryfile", object_id=code, via="api")
        return Response({
            "code": code, "position": cf.position if cf else "unknown", "position_note": cf.position_note if cf else "",
            "position_on": cf.position_on if cf else None,
            "contacts": RepatriationContactSerializer(restrict(Contact.objects.filter(country__code=code), request.user), many=True).data,
            "outreach": RepatriationOutreachSerializer(restrict(Outreach.objects.filter(country__code=code), request.user).select_related("user"),
                                           many=True).data,
            "nationals": services.nationals(request.user, code).count(),
        })

    @extend_schema(parameters=[OpenApiParameter("dual", bool)], responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["get"])
    def nationals(self, request: Request, code: str | None = None, **kwargs: Any) -> Response:
        code = self._code(code)
        qs = services.nationals(request.user, code).select_related("current_facility").prefetch_related("nationalities").order_by("ref")
        if request.query_params.get("dual") in ("1", "true"):
            qs = qs.filter(n_nationalities__gt=1)
        people = list(qs[:1000])
        audit.record_many(request, "repatriation_country", people, country=code, via="api")
        return Response({"count": len(people), "results": [_person_out(p, code) for p in people]})

    @extend_schema(request=RepatriationPositionIn, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def position(self, request: Request, code: str | None = None, **kwargs: Any) -> Response:
        code = self._code(code)
        d = _valid(RepatriationPositionIn, request)

        cf = services.do_set_position(request.user, code, d["position"], d["note"], d["on"])
        return Response({"code": cf.code, "position": cf.position, "position_note": cf.position_note, "position_on": cf.position_on})

    @extend_schema(request=RepatriationContactIn, responses=RepatriationContactSerializer)
    @action(detail=True, methods=["post"])
    def contacts(self, request: Request, code: str | None = None, **kwargs: Any) -> Response:
        code = self._code(code)
        d = _valid(RepatriationContactIn, request)

        c = services.do_add_contact(request.user, code, **d)
        return Response(RepatriationContactSerializer(c).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RepatriationOutreachIn, responses=RepatriationOutreachSerializer)
    @action(detail=True, methods=["post"])
    def outreach(self, request: Request, code: str | None = None, **kwargs: Any) -> Response:
        code = self._code(code)
        d = _valid(RepatriationOutreachIn, request)

        o = services.do_log_outreach(request.user, code, **d)
        return Response(RepatriationOutreachSerializer(o).data, status=status.HTTP_201_CREATED)

    # `fmt`, not `format`: DRF reserves ?format= for choosing its own renderer.
    @extend_schema(parameters=[OpenApiParameter("fmt", str, enum=["csv", "xlsx", "pdf"]), OpenApiParameter("lang", str)])
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request: Request, code: str | None = None, **kwargs: Any) -> Any:
        code = self._code(code)
        fmt = request.query_params.get("fmt", "csv")
        lang = "ar" if request.query_params.get("lang", "en").startswith("ar") else "en"
        try:
            if fmt not in exports.FORMATS:  # named as the caller wrote it (?fmt=), not as render() calls it
                raise BadInput(_("Format must be csv, xlsx or pdf."), field="fmt")
            data, ctype, name, exp = exports.render(request.user, code, fmt, lang)
        except Refusal:
            # An export is a read: refused, it is audited here (no transaction to roll back); DRF's handler answers.
            audit.record(request, "repatriation_export", outcome="denied", via="api", object_type="repatriation.countryfile",
                         object_id=code, fmt=fmt)
            raise
        digest = exports.sha256(data)
        audit.record(request, "repatriation_export", object_type="repatriation.countryfile", object_id=code, fmt=fmt,
                     ids=[p.pk for p in exp.people], withheld=exp.withheld, sha256=digest, via="api")
        resp = HttpResponse(data, content_type=ctype)
        resp["Content-Disposition"] = f'attachment; filename="{name}"'
        resp["X-Content-SHA256"] = digest
        return resp


class PersonRepatriationViewSet(RestrictedViewSetMixin, viewsets.GenericViewSet):
    """A person's repatriation records, one per nationality."""

    queryset = Person.objects.all()
    lookup_field = "ref"
    serializer_class = RepatriationStepIn  # schema placeholder

    def get_queryset(self) -> Any:
        return restrict(Person.objects.all(), self.request.user, "view")

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        p = self.get_object()
        audit.record(request, "repatriation_person", obj=p, via="api")
        reps = restrict(Repatriation.objects.filter(person=p), request.user).prefetch_related("steps__user", "overrides__supervisor")
        return Response({**_person_out(p, ""), "needs_override": services.needed_overrides(p), "repatriations": [_rep_out(r) for r in reps]})

    @extend_schema(request=RepatriationStepIn, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def steps(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        p = self.get_object()
        d = _valid(RepatriationStepIn, request)

        step = services.do_record_step(request.user, p.ref, d["country"], d["kind"], on=d["on"], note=d["note"], officials=d["officials"])
        rep = Repatriation.objects.prefetch_related("steps__user", "overrides__supervisor").get(pk=step.repatriation_id)
        return Response(_rep_out(rep), status=status.HTTP_201_CREATED)

    @extend_schema(request=RepatriationOverrideIn, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def overrides(self, request: Request, ref: str | None = None, **kwargs: Any) -> Response:
        p = self.get_object()
        d = _valid(RepatriationOverrideIn, request)

        ov = services.do_record_override(request.user, p.ref, d["country"], d["kind"], d["reason"])
        return Response({"id": ov.pk, "kind": ov.kind, "reason": ov.reason, "supervisor": ov.supervisor.username},
                        status=status.HTTP_201_CREATED)


def register(router: Any) -> None:
    router.register("repatriation/countries", CountryViewSet, basename="repatriation-country")
    router.register("repatriation/people", PersonRepatriationViewSet, basename="repatriation-person")
