"""Coordination API: meetings, decisions, actions, incidents, danger estimates (and the series the
planner reads), situation reports generated on demand and the ones produced."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.coordination import services
from custody.coordination.models import (
    Action,
    ActionStatus,
    DangerEstimate,
    Decision,
    Incident,
    Meeting,
    SitRep,
)
from custody.core import audit
from custody.core.access import can
from custody.core.api import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from custody.core.errors import BadInput
from custody.core.pagination import date_param, int_param, parse_day


def _date(value: Any, field: str, default: Any = None) -> Any:
    """A YYYY-MM-DD field, the default when absent; a malformed one is refused by name (400)."""
    if value in (None, "") and default is not None:
        return default
    day = parse_day(value)  # None for 2024-13-01 too, which parse_date raised on (a 500)
    if day is None:
        raise BadInput(f"{field}: “{value or ''}” is not a date (use YYYY-MM-DD).", field=field)
    return day


class WritesThroughActions:
    """Writes are actions (custody.coordination.services): they check the capability, restrict and audit,
    and their refusals become 400/403/404/409 in DRF's exception handler. So the edge lets every signed-in
    user reach them, and a refused write is audited by the one door."""

    required_action = "view"


class DecisionSerializer(serializers.ModelSerializer):
    people = serializers.SerializerMethodField()
    facilities = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Decision
        fields = ["id", "meeting", "text", "people", "facilities", "other_records"]

    def get_people(self, d: Decision) -> list[str]:
        from custody.core.access import restrict
        from custody.registry.models import Person

        user = self.context["request"].user
        return list(restrict(Person.objects.filter(pk__in=d.people.values("pk")), user).values_list("ref", flat=True))


class ActionSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="code", read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Action
        fields = ["id", "meeting", "decision", "text", "owner", "due_on", "status", "closed_on", "overdue"]
        read_only_fields = ["meeting", "decision", "text", "due_on", "closed_on"]

    def get_overdue(self, a: Action) -> bool:
        return a.is_overdue()


class MeetingSerializer(serializers.ModelSerializer):
    attendees = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    decisions = serializers.SerializerMethodField()
    actions = ActionSerializer(many=True, read_only=True)

    class Meta:
        model = Meeting
        fields = ["id", "held_on", "title", "attendees", "notes", "classification", "decisions", "actions"]

    def get_decisions(self, m: Meeting) -> list[dict[str, Any]]:
        return DecisionSerializer(m.decisions.all(), many=True, context=self.context).data


class MeetingViewSet(WritesThroughActions, RestrictedModelViewSet):
    """Working group meetings with their decisions (linked to records) and actions."""

    serializer_class = MeetingSerializer
    queryset = Meeting.objects.prefetch_related("attendees", "decisions__facilities", "actions__owner")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        m = services.do_create_meeting(request.user, _date(d.get("held_on"), "held_on", timezone.localdate()), str(d.get("title", "")),
                                       list(d.get("attendees", [])), notes=str(d.get("notes", "")), classification=d.get("classification", 1),
                                       releasable_to=list(d.get("releasable_to", [])))
        return Response(self.get_serializer(m).data, status=201)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def decisions(self, request: Request, pk: str | None = None) -> Response:
        d = request.data
        dec = services.do_add_decision(request.user, pk or "", str(d.get("text", "")), person_refs=list(d.get("people", [])),
                                       facility_codes=list(d.get("facilities", [])), other_records=list(d.get("other_records", [])))
        return Response(DecisionSerializer(dec, context={"request": request}).data, status=201)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def actions(self, request: Request, pk: str | None = None) -> Response:
        d = request.data
        a = services.do_add_action(request.user, pk or "", str(d.get("text", "")), str(d.get("owner", "")), _date(d.get("due_on"), "due_on"),
                                   decision=d.get("decision") or None)
        return Response(ActionSerializer(a).data, status=201)


class ActionViewSet(WritesThroughActions, RestrictedModelViewSet):
    """Actions across meetings; `?overdue=1` for the overdue ones; PATCH {"status": ...} to update (the
    owner agency only)."""

    serializer_class = ActionSerializer
    queryset = Action.objects.select_related("owner").order_by("due_on", "id")
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        p = self.request.query_params
        if p.get("owner"):
            qs = qs.filter(owner__code=p["owner"])
        if p.get("status"):
            qs = qs.filter(status=p["status"])
        if p.get("overdue"):
            qs = qs.filter(status__in=[ActionStatus.OPEN, ActionStatus.IN_PROGRESS], due_on__lt=timezone.localdate())
        return qs

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        a = services.do_set_action_status(request.user, kwargs.get("pk", ""), str(request.data.get("status", "")))
        return Response(self.get_serializer(a).data)


class IncidentSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "occurred_on", "site", "kind", "severity", "source", "description", "classification"]


class IncidentViewSet(WritesThroughActions, RestrictedModelViewSet):
    serializer_class = IncidentSerializer
    queryset = Incident.objects.select_related("site")
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "incident_list", object_type="coordination.incident", object_id="api list", via="api")
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        i = services.do_record_incident(request.user, str(d.get("site", "")), _date(d.get("occurred_on"), "occurred_on"), str(d.get("kind", "")),
                                        d.get("severity", ""), str(d.get("source", "")), description=str(d.get("description", "")),
                                        classification=d.get("classification", 1))
        return Response(self.get_serializer(i).data, status=201)


class DangerSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = DangerEstimate
        fields = ["id", "site", "as_of", "probability", "rationale"]


class DangerViewSet(WritesThroughActions, RestrictedModelViewSet):
    """Analysts' danger estimates per site; `series` gives the daily values the planner reads."""

    serializer_class = DangerSerializer
    queryset = DangerEstimate.objects.select_related("site")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        e = services.do_set_danger_estimate(request.user, str(d.get("site", "")), _date(d.get("as_of"), "as_of", timezone.localdate()),
                                            d.get("probability", ""), rationale=str(d.get("rationale", "")))
        return Response(self.get_serializer(e).data, status=201)

    @extend_schema(parameters=[OpenApiParameter("sites", str, description="comma-separated site codes"),
                               OpenApiParameter("start", str), OpenApiParameter("days", int)])
    @action(detail=False)
    def series(self, request: Request) -> Response:
        if not can(request.user, "intelligence"):
            return Response({"detail": "Danger estimates are intelligence assessments."}, status=403)
        p = request.query_params
        # A bad start or days is a 400 naming it; days is bounded, each day is computed.
        start = date_param(request, "start", default=timezone.localdate())
        days = int_param(request, "days", default=30, minimum=0, maximum=366)
        codes = [c for c in p.get("sites", "").split(",") if c]
        try:
            out = services.danger_estimates(codes, start, days)
        except BadInput as exc:
            exc.field = {"site_codes": "sites"}.get(exc.field, exc.field)  # named as the query names it
            raise
        audit.record(request, "danger_series", object_type="coordination.dangerestimate", object_id=",".join(codes)[:64])
        return Response({"start": start, "days": days, "series": out})


class SitRepSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SitRep
        fields = ["id", "report_date", "audience", "language", "classification", "trigger", "generated_at", "sha256", "figures"]


class SitRepViewSet(WritesThroughActions, RestrictedReadOnlyViewSet):
    """Reports produced for the caller's agency; POST `generate` computes one now."""

    serializer_class = SitRepSerializer
    queryset = SitRep.objects.select_related("audience")

    @extend_schema(request=None, parameters=[OpenApiParameter("date", str), OpenApiParameter("audience", str),
                                             OpenApiParameter("lang", str), OpenApiParameter("pdf", bool)])
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        d = {**request.query_params.dict(), **(request.data if isinstance(request.data, dict) else {})}
        day = _date(d.get("date"), "date", timezone.localdate())
        audience = str(d.get("audience") or (request.user.agency.code if request.user.agency_id else ""))
        rec, _pdf = services.do_produce_sitrep(request.user, day, audience, str(d.get("lang", "en")),
                                               with_pdf=str(d.get("pdf", "1")).lower() not in ("0", "false", "no"))
        return Response(SitRepSerializer(rec).data, status=201)

    @action(detail=True)
    def pdf(self, request: Request, pk: str | None = None) -> Any:
        rec = self.get_object()
        audit.record(request, "sitrep_read", obj=rec, via="api")
        if not rec.pdf:
            return Response({"detail": "stored without a PDF"}, status=404)
        return FileResponse(rec.pdf.open("rb"), content_type="application/pdf")


def register(router: Any) -> None:
    router.register("coordination/meetings", MeetingViewSet, basename="coordination-meeting")
    router.register("coordination/actions", ActionViewSet, basename="coordination-action")
    router.register("coordination/incidents", IncidentViewSet, basename="coordination-incident")
    router.register("coordination/danger", DangerViewSet, basename="coordination-danger")
    router.register("coordination/sitreps", SitRepViewSet, basename="coordination-sitrep")
