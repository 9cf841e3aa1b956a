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
from custody.core.access import can, get_restricted
from custody.core.api import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from custody.core.errors import RuleError
from custody.core.pagination import parse_day


def refused(exc: RuleError, status: int = 400) -> Response:
    return Response({"detail": exc.message, "rule": exc.rule, "field": exc.field}, status=status)


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


class MeetingViewSet(RestrictedModelViewSet):
    """Working group meetings with their decisions (linked to records) and actions."""

    serializer_class = MeetingSerializer
    queryset = Meeting.objects.prefetch_related("attendees", "decisions__facilities", "actions__owner")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        try:
            held_on = parse_day(str(d.get("held_on", ""))) or timezone.localdate()
            m = services.create_meeting(request.user, held_on, str(d.get("title", "")), list(d.get("attendees", [])),
                                        notes=str(d.get("notes", "")), classification=int(d.get("classification", 1)),
                                        releasable_to=list(d.get("releasable_to", [])))
        except RuleError as exc:
            audit.record(request, "meeting_create", object_type="coordination.meeting", outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "meeting_create", obj=m)
        return Response(self.get_serializer(m).data, status=201)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def decisions(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        d = request.data
        try:
            dec = services.add_decision(request.user, meeting, str(d.get("text", "")), person_refs=list(d.get("people", [])),
                                        facility_codes=list(d.get("facilities", [])), other_records=list(d.get("other_records", [])))
        except RuleError as exc:
            audit.record(request, "decision_create", obj=meeting, outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "decision_create", obj=dec, meeting=meeting.pk)
        return Response(DecisionSerializer(dec, context={"request": request}).data, status=201)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def actions(self, request: Request, pk: str | None = None) -> Response:
        meeting = self.get_object()
        d = request.data
        try:
            due = parse_day(str(d.get("due_on", "")))
            if due is None:
                raise RuleError(f"due_on: “{d.get('due_on', '')}” is not a date (use YYYY-MM-DD).", field="due_on")
            decision = None
            if d.get("decision"):
                decision = get_restricted(Decision.objects.all(), request.user, request=request, pk=int(d["decision"]))
            a = services.add_action(request.user, meeting, str(d.get("text", "")), str(d.get("owner", "")), due, decision=decision)
        except RuleError as exc:
            audit.record(request, "action_create", obj=meeting, outcome="failed", reason=exc.message)
            return refused(exc)
        audit.record(request, "action_create", obj=a, meeting=meeting.pk)
        return Response(ActionSerializer(a).data, status=201)


class ActionViewSet(RestrictedModelViewSet):
    """Actions across meetings; `?overdue=1` for the overdue ones; PATCH {"status": ...} to update."""

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
        a = self.get_object()
        try:
            services.set_action_status(request.user, a, str(request.data.get("status", "")))
        except RuleError as exc:
            return refused(exc)
        audit.record(request, "action_change", obj=a, status=a.status)
        return Response(self.get_serializer(a).data)


class IncidentSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Incident
        fields = ["id", "occurred_on", "site", "kind", "severity", "source", "description", "classification"]


class IncidentViewSet(RestrictedModelViewSet):
    serializer_class = IncidentSerializer
    queryset = Incident.objects.select_related("site")
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "incident_list", object_type="coordination.incident", object_id="api list", via="api")
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        try:
            day = parse_day(str(d.get("occurred_on", "")))
            if day is None:
                raise RuleError(f"occurred_on: “{d.get('occurred_on', '')}” is not a date (use YYYY-MM-DD).", field="occurred_on")
            i = services.record_incident(request.user, str(d.get("site", "")), day, str(d.get("kind", "")), int(d.get("severity", 0)),
                                         str(d.get("source", "")), description=str(d.get("description", "")),
                                         classification=int(d.get("classification", 1)))
        except (RuleError, ValueError) as exc:
            err = exc if isinstance(exc, RuleError) else RuleError(f"severity: {exc}", field="severity")
            audit.record(request, "incident_create", object_type="coordination.incident", outcome="failed", reason=err.message)
            return refused(err)
        audit.record(request, "incident_create", obj=i)
        return Response(self.get_serializer(i).data, status=201)


class DangerSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = DangerEstimate
        fields = ["id", "site", "as_of", "probability", "rationale"]


class DangerViewSet(RestrictedModelViewSet):
    """Analysts' danger estimates per site; `series` gives the daily values the planner reads."""

    serializer_class = DangerSerializer
    queryset = DangerEstimate.objects.select_related("site")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        d = request.data
        try:
            day = parse_day(str(d.get("as_of", ""))) or timezone.localdate()
            e = services.set_danger_estimate(request.user, str(d.get("site", "")), day, float(d.get("probability", "nan")),
                                             rationale=str(d.get("rationale", "")))
        except ValueError:
            return Response({"detail": "probability must be a number between 0 and 1", "field": "probability"}, status=400)
        except RuleError as exc:
            audit.record(request, "danger_estimate_set", object_type="coordination.dangerestimate", outcome="failed", reason=exc.message)
            return refused(exc, 403 if exc.rule in ("role", "intelligence") else 400)
        audit.record(request, "danger_estimate_set", obj=e, probability=e.probability)
        return Response(self.get_serializer(e).data, status=201)

    @extend_schema(parameters=[OpenApiParameter("sites", str, description="comma-separated site codes"),
                               OpenApiParameter("start", str), OpenApiParameter("days", int)])
    @action(detail=False)
    def series(self, request: Request) -> Response:
        if not can(request.user, "intelligence"):
            return Response({"detail": "Danger estimates are intelligence assessments."}, status=403)
        p = request.query_params
        start = parse_day(p.get("start", "")) or timezone.localdate()
        try:
            days = int(p.get("days", "30"))
            codes = [c for c in p.get("sites", "").split(",") if c]
            out = services.danger_estimates(codes, start, days)
        except ValueError:
            return Response({"detail": "days must be a whole number"}, status=400)
        except RuleError as exc:
            return refused(exc)
        audit.record(request, "danger_series", object_type="coordination.dangerestimate", object_id=",".join(codes)[:64])
        return Response({"start": start, "days": days, "series": out})


class SitRepSerializer(serializers.ModelSerializer):
    audience = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SitRep
        fields = ["id", "report_date", "audience", "language", "classification", "trigger", "generated_at", "sha256", "figures"]


class SitRepViewSet(RestrictedReadOnlyViewSet):
    """Reports produced for the caller's agency; POST `generate` computes one now."""

    serializer_class = SitRepSerializer
    queryset = SitRep.objects.select_related("audience")

    @extend_schema(request=None, parameters=[OpenApiParameter("date", str), OpenApiParameter("audience", str),
                                             OpenApiParameter("lang", str), OpenApiParameter("pdf", bool)])
    @action(detail=False, methods=["post"])
    def generate(self, request: Request) -> Response:
        d = {**request.query_params.dict(), **(request.data if isinstance(request.data, dict) else {})}
        day = parse_day(str(d.get("date", ""))) if d.get("date") else timezone.localdate()
        if day is None:
            return Response({"detail": f"date: “{d.get('date')}” is not a date (use YYYY-MM-DD).", "field": "date"}, status=400)
        audience = str(d.get("audience") or (request.user.agency.code if request.user.agency_id else ""))
        try:
            rec, _pdf = services.produce_sitrep(day, audience, str(d.get("lang", "en")), requester=request.user,
                                                with_pdf=str(d.get("pdf", "1")).lower() not in ("0", "false", "no"))
        except RuleError as exc:
            audit.record(request, "sitrep_generate", object_type="coordination.sitrep", outcome="failed", reason=exc.message, via="api")
            return refused(exc, 403 if exc.rule == "audience" else 400)
        audit.record(request, "sitrep_generate", obj=rec, classification=rec.classification, via="api")
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
