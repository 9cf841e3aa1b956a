"""Planning API under /api/planning/: scenarios (create from the registry, a file body or a seed),
runs (start one, read its figures), a run's days and vehicles with manifests, outcomes."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import get_restricted
from custody.core.api import RestrictedReadOnlyViewSet
from custody.core.pagination import body_number, int_param
from custody.planning import services
from custody.planning.models import PlanDay, PlannedVehicle, PlanningScenario, PlanRun


class ScenarioSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanningScenario
        fields = ["id", "name", "source", "digest", "people", "sites", "days", "created_at"]


def _reader(serializer: serializers.Serializer) -> Any:
    return serializer.context["request"].user


class ScenarioDetailSerializer(ScenarioSerializer):
    data = serializers.SerializerMethodField(help_text="the scenario document, without people the caller may not see")

    class Meta(ScenarioSerializer.Meta):
        fields = [*ScenarioSerializer.Meta.fields, "data"]

    def get_data(self, obj: PlanningScenario) -> dict[str, Any]:
        return services.visible_scenario(_reader(self), obj)


class RunSerializer(serializers.ModelSerializer):
    violations = serializers.SerializerMethodField()
    unmoved = serializers.SerializerMethodField()

    class Meta:
        model = PlanRun
        fields = ["id", "scenario", "parent", "first_day", "time_limit", "status", "stage", "note", "summary", "findings",
                  "violations", "unmoved", "created_at", "started_at", "finished_at"]

    def get_violations(self, obj: PlanRun) -> list[str]:
        return services.visible_violations(_reader(self), obj)

    def get_unmoved(self, obj: PlanRun) -> list[dict[str, Any]]:
        return services.visible_unmoved(_reader(self), obj)


class DaySerializer(serializers.ModelSerializer):
    class Meta:
        model = PlanDay
        fields = ["day", "departures", "arrivals", "intake", "sorties", "convoys", "binding", "remaining", "exposure",
                  "greedy_exposure", "replanned"]


class VehicleSerializer(serializers.ModelSerializer):
    outcome = serializers.SerializerMethodField()

    class Meta:
        model = PlannedVehicle
        fields = ["id", "vehicle_id", "day", "site", "mode", "airframe", "convoy", "people", "manifest", "outcome"]

    def get_outcome(self, obj: PlannedVehicle) -> dict[str, Any] | None:
        o = getattr(obj, "outcome", None)
        hidden = self.context.get("hidden", set())
        return {"status": o.status, "moved": services.visible_refs(o.moved, hidden), "note": o.note} if o else None

    def to_representation(self, obj: PlannedVehicle) -> dict[str, Any]:
        out = super().to_representation(obj)
        out["manifest"] = services.visible_refs(out["manifest"], self.context.get("hidden", set()))
        return out


class ScenarioViewSet(RestrictedReadOnlyViewSet):
    queryset = PlanningScenario.objects.all()
    required_action = None

    def get_serializer_class(self) -> Any:
        return ScenarioDetailSerializer if self.action == "retrieve" else ScenarioSerializer

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        return qs.defer("data") if self.action == "list" else qs

    @extend_schema(request=None, parameters=[OpenApiParameter("source", str, enum=["registry", "file", "synthetic"])],
                   responses=ScenarioSerializer)
    def create(self, request: Request) -> Response:
        """`{"source": "registry", "days": 30}`, `{"source": "synthetic", "scale": "small", "seed": 1}`, or
        `{"source": "file", "scenario": {...the documented format...}}`."""
        src = str(request.data.get("source") or "")
        sc = services.do_create_scenario(
            request.user, src, days=body_number(request.data, "days", 30, minimum=1, maximum=366),
            raw=json.dumps(request.data.get("scenario")) if src == "file" else None,
            scale=str(request.data.get("scale", "small")), seed=body_number(request.data, "seed", 1, minimum=0))
        return Response(ScenarioSerializer(sc).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def plan(self, request: Request, pk: str | None = None) -> Response:
        """Start a background solve; poll the run for its status."""
        sc = get_restricted(PlanningScenario.objects.all(), request.user, "view", request=request, pk=pk)
        run = services.do_start_run(request.user, sc.pk,
                                    time_limit=body_number(request.data, "time_limit", 60.0, kind=float, minimum=1, maximum=3600))
        return Response(RunSerializer(run, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


class RunViewSet(RestrictedReadOnlyViewSet):
    queryset = PlanRun.objects.select_related("scenario")
    serializer_class = RunSerializer

    @action(detail=True, methods=["get"])
    def days(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        return Response(DaySerializer(run.plan_days.all(), many=True).data)

    @extend_schema(parameters=[OpenApiParameter("day", int, description="day of the horizon, counted from 1")])
    @action(detail=True, methods=["get"])
    def vehicles(self, request: Request, pk: str | None = None) -> Response:
        run = self.get_object()
        qs = run.vehicles.select_related("outcome")
        day = int_param(request, "day", minimum=1)
        if day:
            qs = qs.filter(day=day - 1)
        audit.record(request, "planning_manifest_view", obj=run, via="api", day=request.query_params.get("day", "all"))
        vehicles = list(qs)
        hidden = services.hidden_people(request.user, (p for v in vehicles for p in v.manifest))
        return Response(VehicleSerializer(vehicles, many=True, context={"request": request, "hidden": hidden}).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def outcome(self, request: Request, pk: str | None = None) -> Response:
        """`{"vehicle_id": "...", "status": "flown|partial|cancelled", "moved": [...]}`"""
        run = self.get_object()
        vehicle = run.vehicles.filter(vehicle_id=request.data.get("vehicle_id", "")).first()
        if vehicle is None:
            return Response({"detail": "no such vehicle in this run", "field": "vehicle_id"}, status=status.HTTP_400_BAD_REQUEST)
        o = services.do_record_outcome(request.user, vehicle.pk, str(request.data.get("status", "")),
                                       moved=list(request.data.get("moved", [])), note=str(request.data.get("note", "")))
        return Response({"vehicle_id": vehicle.vehicle_id, "status": o.status, "moved": o.moved})

    @extend_schema(request=None, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def replan(self, request: Request, pk: str | None = None) -> Response:
        """`{"from_day": 4}` (counted from 1): keep what left before, plan the rest."""
        run = self.get_object()
        new = services.do_replan(request.user, run.pk, body_number(request.data, "from_day", 2, minimum=1) - 1,
                                 time_limit=body_number(request.data, "time_limit", 60.0, kind=float, minimum=1, maximum=3600))
        return Response(RunSerializer(new, context={"request": request}).data, status=status.HTTP_202_ACCEPTED)


def register(router: Any) -> None:
    router.register("planning/scenarios", ScenarioViewSet, basename="planning-scenario")
    router.register("planning/runs", RunViewSet, basename="planning-run")
