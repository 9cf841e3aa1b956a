"""Shared API pieces: the permission class every view uses and a base viewset that restricts, audits
and attributes."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import permissions, viewsets
from rest_framework.routers import DefaultRouter

from custody.core import audit
from custody.core.access import restrict
from custody.core.api_permissions import CustodyPermission  # noqa: E402,F401  (re-exported)
from custody.core.history import reset_change_context, set_change_context
from custody.core.idempotency import with_idempotency
from custody.core.pagination import choice_param, date_param, int_param  # noqa: F401  (re-exported)
from custody.core.parsers import TextGuardMixin


class RestrictedViewSetMixin:
    """Restricts the queryset to the caller, audits each record read, attributes each change."""

    audit_reads = True
    model_action_map = {"list": "view", "retrieve": "view"}

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        user = request.user
        self._ctx_token = set_change_context(
            {"source": "api", "request_id": getattr(request._request, "request_id", None), "user_id": user.pk,
             "username": user.username, "agency": user.agency.code if user.agency_id else None}
        )

    def finalize_response(self, request: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        token = getattr(self, "_ctx_token", None)
        if token is not None:
            reset_change_context(token)
            self._ctx_token = None
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]

    def get_queryset(self) -> Any:
        action = "view" if self.request.method in permissions.SAFE_METHODS else "change"
        return restrict(super().get_queryset(), self.request.user, action)  # type: ignore[misc]

    def get_object(self) -> Any:
        from django.http import Http404

        try:
            return super().get_object()  # type: ignore[misc]
        except Http404:
            lookup = self.kwargs.get(self.lookup_field if hasattr(self, "lookup_field") else "pk")  # type: ignore[attr-defined]
            model = super().get_queryset().model  # type: ignore[misc]
            field = getattr(self, "lookup_field", "pk")
            try:
                exists = lookup is not None and model._default_manager.filter(**{field: lookup}).exists()
            except (ValueError, TypeError, DjangoValidationError):
                exists = False  # "/people/json/" on an integer key: not a record, just a 404
            if exists:
                audit.record(self.request, "api_read", object_type=model._meta.label_lower, object_id=str(lookup), outcome="denied")
            raise



class AuditedRetrieveMixin:
    """Audits each record read. Kept out of RestrictedViewSetMixin: a `retrieve` there made the router
    add a detail route to every plain ViewSet/GenericViewSet using the mixin, which then failed with
    500 ('super' object has no attribute 'retrieve') and put phantom {id} paths in the schema."""

    def retrieve(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().retrieve(request, *args, **kwargs)  # type: ignore[misc]
        if self.audit_reads:  # type: ignore[attr-defined]
            audit.record(request, "api_read", obj=self.get_object())  # type: ignore[attr-defined]
        return response


class RestrictedReadOnlyViewSet(AuditedRetrieveMixin, RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass


class RestrictedModelViewSet(AuditedRetrieveMixin, RestrictedViewSetMixin, viewsets.ModelViewSet):
    pass


class CustodyRouter(DefaultRouter):
    """The API's one router: every viewset registered through it honours `Idempotency-Key` on POST
    (custody.core.idempotency) and refuses query and path text no database can store
    (custody.core.parsers.TextGuardMixin), so no endpoint depends on its author remembering to."""

    include_format_suffixes = False

    def register(self, prefix: str, viewset: Any, basename: str | None = None) -> None:
        viewset = with_idempotency(viewset)
        if not issubclass(viewset, TextGuardMixin):
            viewset = type(viewset.__name__, (TextGuardMixin, viewset), {
                "__module__": viewset.__module__, "__qualname__": viewset.__qualname__, "__doc__": viewset.__doc__})
        super().register(prefix, viewset, basename)

