"""Camps API: households with members and family links, movements, control changes, censuses,
children reaching 15 and 18 and protection flags (protection users only), family tracing."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from custody.camps import services, tracing
from custody.camps.models import (
    Census,
    ControlChange,
    DepartureReason,
    Movement,
    MovementKind,
    ProtectionFlag,
)
from custody.core import audit
from custody.core.access import can, get_restricted, restrict
from custody.core.api import RestrictedModelViewSet, RestrictedViewSetMixin
from custody.core.errors import BadInput
from custody.core.pagination import date_param, parse_day
from custody.registry.models import Facility, FacilityKind, Household, Person, PopulationGroup, Relation


class WritesThroughActions:
    """Writes are actions (custody.camps.services): they check the capability, restrict and audit, and
    their refusals become 400/403/404/409 in DRF's exception handler. So the edge lets every signed-in
    user reach them, and a refused write is audited by the one door."""

    required_action = "view"


class AttributedViewSet(RestrictedViewSetMixin, viewsets.ViewSet):
    """A plain viewset whose changes are attributed to the caller in the change history, whatever the
    authentication (the mixin sets the change context once DRF has authenticated)."""


def _today() -> date:
    from django.utils import timezone

    return timezone.localdate()


class MemberSerializer(serializers.ModelSerializer):
    names = serializers.SerializerMethodField()
    nationalities = serializers.SerializerMethodField()
    documents = serializers.SerializerMethodField()
    family = serializers.SerializerMethodField()
    present = serializers.SerializerMethodField()

    class Meta:
        model = Person
        fields = ["ref", "display_name", "display_name_ar", "sex", "birth_precision", "birth_date", "birth_year_min", "birth_year_max",
                  "is_minor", "names", "nationalities", "documents", "family", "present"]

    def get_names(self, p: Person) -> list[dict[str, str]]:
        return [{"script": n.script, "full": n.full} for n in p.names.all()]

    def get_nationalities(self, p: Person) -> list[str]:
        return [n.country for n in p.nationalities.all()]

    def get_documents(self, p: Person) -> list[dict[str, str]]:
        return [{"kind": i.kind, "value": i.value} for i in p.identifiers.all()]

    def get_family(self, p: Person) -> list[dict[str, Any]]:
        user = self.context["request"].user
        return [{"ref": r["relative"].ref, "relation": r["relation"], "group": r["relative"].group, "conflict": r["conflict"]}
                for r in services.family_of(user, p)]

    def get_present(self, p: Person) -> bool:
        return services.is_present(p)


class HouseholdSerializer(serializers.ModelSerializer):
    camp = serializers.SlugRelatedField(slug_field="code", queryset=Facility.objects.filter(kind=FacilityKind.CAMP))
    head = serializers.CharField(source="head.ref", allow_null=True, required=False, allow_blank=True)
    members = serializers.SerializerMethodField()
    member_refs = serializers.ListField(child=serializers.CharField(), write_only=True, required=False)

    class Meta:
        model = Household
        fields = ["id", "camp", "ref", "sector", "tent", "head", "members", "member_refs"]

    def get_members(self, h: Household) -> list[dict[str, Any]]:
        request = self.context["request"]
        people = restrict(Person.objects.filter(household=h), request.user).prefetch_related("names", "nationalities", "identifiers").order_by("ref")
        return MemberSerializer(people, many=True, context=self.context).data


class HouseholdViewSet(WritesThroughActions, RestrictedModelViewSet):
    """Camp households; each member with names in both scripts, documents and family links (both sides)."""

    serializer_class = HouseholdSerializer
    queryset = Household.objects.filter(camp__kind=FacilityKind.CAMP).select_related("camp", "head").order_by("camp__code", "ref")
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        params = self.request.query_params
        if params.get("camp"):
            qs = qs.filter(camp__code=params["camp"])
        if params.get("sector"):
            qs = qs.filter(sector=params["sector"])
        return qs

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        audit.record(request, "household_list", object_type="registry.household", object_id="api list", via="api")
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data
        h = services.do_create_household(request.user, str(data.get("camp", "")), str(data.get("ref", "")), sector=data.get("sector", ""),
                                         tent=data.get("tent", ""), head=data.get("head") or None, members=list(data.get("member_refs", [])))
        return Response(self.get_serializer(h).data, status=201)


class MovementSerializer(serializers.ModelSerializer):
    camp = serializers.SlugRelatedField(slug_field="code", read_only=True)
    person = serializers.SlugRelatedField(slug_field="ref", read_only=True)

    class Meta:
        model = Movement
        fields = ["id", "camp", "person", "kind", "occurred_on", "reason", "destination", "note", "recorded_at"]


class MovementInput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MovementKind.choices)
    person = serializers.CharField()
    camp = serializers.CharField(required=False)
    household = serializers.CharField(required=False, help_text="household number, for an arrival")
    occurred_on = serializers.DateField()
    reason = serializers.ChoiceField(choices=DepartureReason.choices, required=False)
    destination = serializers.CharField(required=False, allow_blank=True)
    note = serializers.CharField(required=False, allow_blank=True)


class MovementViewSet(WritesThroughActions, RestrictedModelViewSet):
    serializer_class = MovementSerializer
    queryset = Movement.objects.select_related("camp", "person")
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        if self.request.query_params.get("camp"):
            qs = qs.filter(camp__code=self.request.query_params["camp"])
        return qs

    @extend_schema(request=MovementInput, responses=MovementSerializer)
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = MovementInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["kind"] == MovementKind.DEPARTURE:
            m = services.do_record_departure(request.user, v["person"], v.get("camp", ""), v["occurred_on"], v.get("reason", ""),
                                             destination=v.get("destination", ""), note=v.get("note", ""))
        else:
            m = services.do_record_arrival(request.user, v["person"], v.get("camp", ""), v.get("household", ""), v["occurred_on"],
                                           note=v.get("note", ""))
        return Response(MovementSerializer(m).data, status=201)


class ControlChangeSerializer(serializers.ModelSerializer):
    camp = serializers.SlugRelatedField(slug_field="code", queryset=Facility.objects.filter(kind=FacilityKind.CAMP))
    from_custodian = serializers.SlugRelatedField(slug_field="code", read_only=True)
    to_custodian = serializers.CharField(source="to_custodian.code")

    class Meta:
        model = ControlChange
        fields = ["id", "camp", "occurred_on", "from_custodian", "to_custodian", "residents_at_change", "note"]
        read_only_fields = ["residents_at_change"]


class ControlChangeInput(serializers.Serializer):
    camp = serializers.CharField()
    to_custodian = serializers.CharField()
    occurred_on = serializers.DateField()
    note = serializers.CharField(required=False, allow_blank=True)


class ControlChangeViewSet(WritesThroughActions, RestrictedModelViewSet):
    serializer_class = ControlChangeSerializer
    queryset = ControlChange.objects.select_related("camp", "from_custodian", "to_custodian")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The camp by its code, as the action restricts it (the model serializer would look it up unrestricted).
        s = ControlChangeInput(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        c = services.do_record_control_change(request.user, v["camp"], v["to_custodian"], v["occurred_on"], note=v.get("note", ""))
        return Response(self.get_serializer(c).data, status=201)


class CensusSerializer(serializers.ModelSerializer):
    camp = serializers.SlugRelatedField(slug_field="code", queryset=Facility.objects.filter(kind=FacilityKind.CAMP))
    counted = serializers.ListField(child=serializers.CharField(), write_only=True)
    counted_total = serializers.SerializerMethodField()
    unaccounted = serializers.SerializerMethodField()

    class Meta:
        model = Census
        fields = ["id", "camp", "taken_on", "note", "counted", "counted_total", "unaccounted"]

    def get_counted_total(self, c: Census) -> int:
        return c.counted.count()

    def get_unaccounted(self, c: Census) -> list[str] | None:
        """For the latest census of its camp: references of those unaccounted for since."""
        user = self.context["request"].user
        latest, missing = services.unaccounted(restrict(Person.objects.all(), user), c.camp)
        if latest is None or latest.pk != c.pk:
            return None
        return list(missing.values_list("ref", flat=True)[:5000])


class CensusInput(serializers.Serializer):
    camp = serializers.CharField()
    taken_on = serializers.DateField()
    counted = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(required=False, allow_blank=True)


class CensusViewSet(WritesThroughActions, RestrictedModelViewSet):
    serializer_class = CensusSerializer
    queryset = Census.objects.select_related("camp")
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        s = CensusInput(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        c = services.do_record_census(request.user, v["camp"], v["taken_on"], v["counted"], note=v.get("note", ""))
        return Response(self.get_serializer(c).data, status=201)


class FamilyLinkInput(serializers.Serializer):
    person = serializers.CharField()
    relative = serializers.CharField()
    relation = serializers.ChoiceField(choices=Relation.choices)
    source = serializers.CharField(required=False, allow_blank=True)


class FamilyLinkViewSet(WritesThroughActions, AttributedViewSet):
    """Record a family link (relative is person's <relation>); refused if a child would be older than a parent."""

    @extend_schema(request=FamilyLinkInput)
    def create(self, request: Request) -> Response:
        s = FamilyLinkInput(data=request.data)
        s.is_valid(raise_exception=True)
        v = s.validated_data
        link = services.do_add_family_link(request.user, v["person"], v["relative"], v["relation"], source=v.get("source", ""))
        return Response({"id": link.pk, "person": link.person.ref, "relative": link.relative.ref, "relation": link.relation}, status=201)


class ChildrenViewSet(AttributedViewSet):
    """Children present in the camps who reach 15 or 18 in [from, to]; protection users only."""

    @extend_schema(parameters=[OpenApiParameter("from", str), OpenApiParameter("to", str), OpenApiParameter("camp", str)])
    def list(self, request: Request) -> Response:
        if not can(request.user, "protection"):
            audit.record(request, "children_read", object_type="camps.children", outcome="denied", via="api")
            return Response({"detail": "Children's records are visible only to users with a protection purpose."}, status=403)
        p = request.query_params
        # A malformed or impossible date (2024-13-01) is a 400 naming `from` or `to`.
        start = date_param(request, "from", default=_today())
        end = date_param(request, "to", default=_today() + timedelta(days=365))
        camp = None
        if p.get("camp"):
            camp = get_restricted(Facility.objects.filter(kind=FacilityKind.CAMP), request.user, request=request, code=p["camp"])
        rows, unknown = services.children_reaching(restrict(Person.objects.all(), request.user), start, end, camp=camp, with_flags=True)
        audit.record_many(request, "children_read", [m.person for m in rows], start=start.isoformat(), end=end.isoformat(), via="api")
        return Response({"from": start, "to": end, "no_date_of_birth": unknown, "results": [{
            "ref": m.person.ref, "name": m.person.display_name, "name_ar": m.person.display_name_ar, "sex": m.person.sex,
            "household": str(m.person.household) if m.person.household else None, "birth": m.person.birth_display(),
            "birth_precision": m.person.birth_precision, "age": m.age, "reaches_from": m.earliest, "reaches_to": m.latest,
            "uncertainty_days": m.uncertainty_days, "certain": m.certain, "flags": m.flags} for m in rows]})


class FlagSerializer(serializers.ModelSerializer):
    person = serializers.SlugRelatedField(slug_field="ref", queryset=Person.objects.all())

    class Meta:
        model = ProtectionFlag
        fields = ["id", "person", "kind", "note", "raised_on", "closed_on"]


class FlagViewSet(WritesThroughActions, RestrictedModelViewSet):
    """Protection flags (unaccompanied, separated, medical): users with a protection purpose only."""

    serializer_class = FlagSerializer
    queryset = ProtectionFlag.objects.select_related("person")
    http_method_names = ["get", "post", "head", "options"]

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if not can(request.user, "protection"):
            audit.record(request, "protection_flags", object_type="camps.protectionflag", outcome="denied", via="api")
            return Response({"detail": "Protection flags are visible only to users with a protection purpose."}, status=403)
        response = super().list(request, *args, **kwargs)
        audit.record(request, "protection_flags", object_type="camps.protectionflag", object_id="api list", via="api")
        return response

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        f = services.do_raise_flag(request.user, str(request.data.get("person", "")), str(request.data.get("kind", "")),
                                   _parse_day(request.data.get("raised_on")) or _today(), note=request.data.get("note", ""))
        return Response(FlagSerializer(f).data, status=201)


def _parse_day(value: Any) -> date | None:
    if not value:
        return None
    day = parse_day(value)  # None for 2024-13-01 too, which parse_date raised on (a 500)
    if day is None:
        raise BadInput(f"“{value}” is not a date (use YYYY-MM-DD).", field="raised_on")
    return day


class TraceViewSet(AttributedViewSet):
    """Family tracing from a person: a detainee's family in the camps, or a resident's parent in custody."""

    lookup_field = "ref"

    @extend_schema(parameters=[OpenApiParameter("ref", str, OpenApiParameter.PATH, description="the person's reference")])
    def retrieve(self, request: Request, ref: str | None = None) -> Response:
        person = get_restricted(Person.objects.all(), request.user, request=request, ref=ref)
        if person.group == PopulationGroup.DETAINEE:
            leads, direction = tracing.trace_family_in_camps(request.user, person), "family_in_camps"
        else:
            leads, direction = tracing.trace_parents_in_custody(request.user, person), "parents_in_custody"
        audit.record(request, "family_trace", obj=person, direction=direction, found=[lead.person.pk for lead in leads], via="api")
        return Response({"person": person.ref, "direction": direction, "leads": [
            {"ref": lead.person.ref, "name": lead.person.display_name, "relation": lead.relation, "basis": lead.basis,
             "score": lead.score, "evidence": lead.evidence} for lead in leads]})


def register(router: Any) -> None:
    router.register("camps/households", HouseholdViewSet, basename="camps-household")
    router.register("camps/movements", MovementViewSet, basename="camps-movement")
    router.register("camps/control-changes", ControlChangeViewSet, basename="camps-control-change")
    router.register("camps/censuses", CensusViewSet, basename="camps-census")
    router.register("camps/family-links", FamilyLinkViewSet, basename="camps-family-link")
    router.register("camps/children", ChildrenViewSet, basename="camps-children")
    router.register("camps/flags", FlagViewSet, basename="camps-flag")
    router.register("camps/trace", TraceViewSet, basename="camps-trace")

