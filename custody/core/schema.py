"""OpenAPI generation for views that are not model-backed.

Action-style ViewSets (verify, check, export...) take and return JSON documents described in their
docstrings and in docs/; where no serializer says more, the schema states "a JSON object" instead of
dropping the route from the schema with an error.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from rest_framework.generics import GenericAPIView


class CustodyAutoSchema(AutoSchema):
    def _has_serializer(self) -> bool:
        view = self.view
        if isinstance(view, GenericAPIView):
            return True
        return any(callable(getattr(view, name, None)) for name in ("get_serializer", "get_serializer_class")) or hasattr(view, "serializer_class")

    def get_request_serializer(self) -> Any:
        if self._has_serializer():
            return super().get_request_serializer()
        return OpenApiTypes.OBJECT if self.method in ("POST", "PUT", "PATCH") else None

    def get_response_serializers(self) -> Any:
        if self._has_serializer():
            return super().get_response_serializers()
        return OpenApiTypes.OBJECT
