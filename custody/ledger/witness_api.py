"""`/api/ledger/witness/`: partner agencies fetch checkpoints to keep, and send back countersignatures.

    GET  /api/ledger/witness/?from=N   the latest checkpoint, our public key and key id, and an RFC 9162
                                       consistency proof from size N (the last checkpoint the partner kept)
    POST /api/ledger/witness/          {"checkpoint": {...}, "cosignature": {...}}: stored when the
                                       checkpoint is ours and the signature verifies (201; 200 again)

Checkpoints are public commitments (partners receive them in bundles): any signed-in user may fetch
them; countersigning takes a clerk or above, and is audited under the user's agency.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from custody.core import audit
from custody.core.access import can
from custody.core.errors import RuleError

from . import witnessing


def _refused(exc: RuleError, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"detail": exc.message, "rule": exc.rule}, status=code)


class WitnessViewSet(viewsets.ViewSet):
    @extend_schema(summary="The latest checkpoint to witness, with a consistency proof from the one you kept",
                   parameters=[OpenApiParameter("from", int, description="size of the last checkpoint you kept")],
                   responses={200: OpenApiTypes.OBJECT})
    def list(self, request: Request) -> Response:
        if not can(request.user, "view"):
            raise PermissionDenied
        raw = request.query_params.get("from")
        try:
            from_size = int(raw) if raw not in (None, "") else None
        except ValueError:
            return Response({"detail": "'from' must be a whole number of events", "rule": "from"},
                            status=status.HTTP_400_BAD_REQUEST)
        try:
            out = witnessing.offer(from_size)
        except RuleError as exc:
            return _refused(exc, status.HTTP_404_NOT_FOUND if exc.rule == "witness" else status.HTTP_400_BAD_REQUEST)
        audit.record(request._request, "ledger_witness_fetch", object_type="ledger.signedcheckpoint",
                     object_id=str(out["checkpoint"]["tree_size"]), from_size=from_size)
        return Response(out)

    @extend_schema(summary="Send a countersignature of one of our checkpoints", request=OpenApiTypes.OBJECT,
                   responses={201: OpenApiTypes.OBJECT, 200: OpenApiTypes.OBJECT})
    def create(self, request: Request) -> Response:
        if not can(request.user, "change"):
            raise PermissionDenied
        try:
            row, created = witnessing.receive_cosignature(request.data, user=request.user)
        except RuleError as exc:
            audit.record(request._request, "ledger_checkpoint_cosigned", outcome="failed", reason=exc.message)
            return _refused(exc)
        audit.record(request._request, "ledger_checkpoint_cosigned", obj=row, tree_size=row.tree_size,
                     witness=row.witness, key_id=row.key_id)
        body: dict[str, Any] = {"tree_size": row.tree_size, "witness": row.witness, "key_id": row.key_id,
                                "received_at": row.received_at}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def register(router: Any) -> None:
    router.register("ledger/witness", WitnessViewSet, basename="ledger-witness")
