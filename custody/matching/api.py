"""Matching API: candidate pairs with their explanations, decisions, merges and un-merges, the
registration check, reference list entries. Every change is an action of services (checked and audited
there); a refusal is answered by DRF's exception handler."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import can
from custody.core.api import CustodyPermission, RestrictedReadOnlyViewSet
from custody.matching import services
from custody.matching.labels import localise_reasons
from custody.matching.models import CandidatePair, Decision, LinkageRun, Merge, ReferenceEntry


class PairSerializer(serializers.ModelSerializer):
    person_a = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    person_b = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    name_a = serializers.CharField(source="person_a.display_name", read_only=True)
    name_b = serializers.CharField(source="person_b.display_name", read_only=True)
    decisions = serializers.SerializerMethodField()

    class Meta:
        model = CandidatePair
        fields = ["id", "person_a", "name_a", "person_b", "name_b", "weight", "probability", "status", "found_by",
                  "outcome", "stakes", "reasons", "reasons_local", "explanation", "decisions", "run", "created_at",
                  "updated_at"]

    reasons_local = serializers.SerializerMethodField()

    def get_reasons_local(self, obj: CandidatePair) -> list[dict[str, str]]:
        return localise_reasons(obj.reasons or [])

    def get_decisions(self, obj: CandidatePair) -> list[dict[str, Any]]:
        return [{"decision": d.decision, "user": d.user.username, "decided_at": d.decided_at, "weight": d.weight,
                 "probability": d.probability, "note": d.note} for d in obj.decisions.select_related("user")]


class DecisionIn(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Decision.choices)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class MergeSerializer(serializers.ModelSerializer):
    survivor = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    merged = serializers.SlugRelatedField(slug_field="ref", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    undone_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Merge
        fields = ["id", "survivor", "merged", "pair", "automatic", "run", "reasons", "user", "created_at", "undone_at",
                  "undone_by", "undo_reason"]


class UndoIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


# Planning has a Run too: name the component so the schema keeps both.
@extend_schema_serializer(component_name="MatchRun")
class RunSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    undone_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = LinkageRun
        fields = ["id", "created_at", "user", "records", "candidate_pairs", "threshold", "review_threshold", "merged",
                  "queued", "kept_apart", "summary", "undone_at", "undone_by", "undo_reason"]


class ScanIn(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


class CheckIn(serializers.Serializer):
    name = serializers.CharField(max_length=300, allow_blank=True)
    name_ar = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    aliases = serializers.ListField(child=serializers.CharField(max_length=300), required=False, default=list)
    dob = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    sex = serializers.CharField(max_length=10, required=False, allow_blank=True, default="")
    nationality = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    mother_name = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    place_of_birth = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=50)


class ReferenceEntrySerializer(serializers.ModelSerializer):
    list_name = serializers.CharField(source="ref_list.name", read_only=True)

    class Meta:
        model = ReferenceEntry
        fields = ["id", "list_name", "reference", "name", "other_names", "dob", "nationality", "listed_on"]


class CandidatePairViewSet(RestrictedReadOnlyViewSet):
    queryset = CandidatePair.objects.select_related("person_a", "person_b").order_by("-weight", "pk")
    serializer_class = PairSerializer
    permission_classes = [CustodyPermission]

    def get_queryset(self) -> Any:
        qs = super().get_queryset()
        st = self.request.query_params.get("status")
        return qs.filter(status=st) if st else qs

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().list(request, *args, **kwargs)
        rows = response.data["results"] if isinstance(response.data, dict) else response.data
        audit.record(request, "match_list", count=len(rows))
        return response

    @extend_schema(request=DecisionIn, responses=PairSerializer)
    @action(detail=True, methods=["post"])
    def decide(self, request: Request, pk: str | None = None) -> Response:
        pair = self.get_object()
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.do_decide(request.user, pair.pk, data.validated_data["decision"], note=data.validated_data["note"])
        pair.refresh_from_db()
        return Response(PairSerializer(pair).data)


class MergeViewSet(RestrictedReadOnlyViewSet):
    queryset = Merge.objects.select_related("survivor", "merged", "user", "undone_by")
    serializer_class = MergeSerializer
    permission_classes = [CustodyPermission]

    @extend_schema(request=UndoIn, responses=MergeSerializer)
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        merge = self.get_object()
        data = UndoIn(data=request.data)
        data.is_valid(raise_exception=True)
        merge = services.do_undo_merge(request.user, merge.pk, reason=data.validated_data["reason"])
        return Response(MergeSerializer(merge).data)


class RunViewSet(RestrictedReadOnlyViewSet):
    """Scans (matching.scan): list and read them; POST runs one (`dry_run: true` lists what would be merged
    and queued, with the reasons, and changes nothing); POST .../undo/ undoes every merge of one."""

    queryset = LinkageRun.objects.select_related("user", "undone_by")
    serializer_class = RunSerializer
    permission_classes = [CustodyPermission]

    @extend_schema(request=ScanIn, responses=RunSerializer)
    def create(self, request: Request) -> Response:
        data = ScanIn(data=request.data)
        data.is_valid(raise_exception=True)
        report = services.do_scan(request.user, dry_run=data.validated_data["dry_run"])
        body: dict[str, Any] = {"dry_run": report.dry_run, **report.summary(),
                                "merges": [vars(m) for m in report.merges], "queue": [vars(q) for q in report.queue]}
        if report.run is not None:
            body["run"] = RunSerializer(report.run).data
        return Response(body, status=status.HTTP_200_OK if report.dry_run else status.HTTP_201_CREATED)

    @extend_schema(request=UndoIn, responses=RunSerializer)
    @action(detail=True, methods=["post"])
    def undo(self, request: Request, pk: str | None = None) -> Response:
        data = UndoIn(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.do_undo_run(request.user, pk, reason=data.validated_data["reason"])
        return Response(RunSerializer(run).data)


class ReferenceEntryViewSet(RestrictedReadOnlyViewSet):
    queryset = ReferenceEntry.objects.select_related("ref_list")
    serializer_class = ReferenceEntrySerializer
    permission_classes = [CustodyPermission]


class CheckViewSet(viewsets.ViewSet):
    """The registration check: POST a new person's particulars, get the people already known who may
    be the same, each with its explanation (nothing is stored)."""

    permission_classes = [CustodyPermission]
    required_action = "view"

    @extend_schema(request=CheckIn)
    def create(self, request: Request) -> Response:
        if not can(request.user, "view"):
            return Response({"detail": "not allowed"}, status=status.HTTP_403_FORBIDDEN)
        data = CheckIn(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        limit = v.pop("limit")
        found, problems = services.check_new_person(request.user, request=request, limit=limit, **v)
        return Response({
            "problems": problems,
            "matches": [{"person": m.person.ref, "name": m.person.display_name, "weight": round(m.weight, 3),
                         "probability": round(m.probability, 4), "explanation": m.explanation} for m in found],
        })


def register(router: Any) -> None:
    router.register("matching/pairs", CandidatePairViewSet, basename="matching-pair")
    router.register("matching/merges", MergeViewSet, basename="matching-merge")
    router.register("matching/runs", RunViewSet, basename="matching-run")
    router.register("matching/reference-entries", ReferenceEntryViewSet, basename="matching-reference-entry")
    router.register("matching/check", CheckViewSet, basename="matching-check")
