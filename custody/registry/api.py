from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.api import RestrictedModelViewSet, RestrictedReadOnlyViewSet
from custody.core.idempotency import idempotent
from custody.registry.models import Facility, Person
from custody.registry.search import find_people
from custody.registry.serializers import FacilitySerializer, PersonSerializer


class PersonViewSet(RestrictedModelViewSet):
    """People the caller may see. `?q=` searches names in both scripts and identifiers."""

    serializer_class = PersonSerializer
    queryset = Person.objects.select_related("current_facility", "current_custodian").prefetch_related("names", "identifiers__authority", "nationalities").order_by("ref")
    lookup_field = "ref"
    http_method_names = ["get", "post", "patch", "head", "options"]

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

    @idempotent
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().create(request, *args, **kwargs)
        audit.record(request, "person_create", object_type="registry.person", object_id=response.data.get("ref", ""))
        return response

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().partial_update(request, *args, **kwargs)
        audit.record(request, "person_change", object_type="registry.person", object_id=kwargs.get("ref", ""), fields=sorted(request.data.keys()))
        return response


class FacilityViewSet(RestrictedReadOnlyViewSet):
    serializer_class = FacilitySerializer
    queryset = Facility.objects.select_related("custodian")
    lookup_field = "code"
    audit_reads = False


def register(router: Any) -> None:
    router.register("registry/people", PersonViewSet, basename="registry-person")
    router.register("registry/facilities", FacilityViewSet, basename="registry-facility")
