from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from custody.core.history import reset_change_context, set_change_context
from custody.core.request_id import current_request_id, new_request_id, reset_request_id


class RequestIdMiddleware:
    """Gives every request an id (or keeps a well-formed X-Request-ID) for audit and history rows."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = new_request_id(request.headers.get("X-Request-ID"))
        request.request_id = current_request_id()  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            reset_request_id(token)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


class ChangeContextMiddleware:
    """Attributes every row a request changes (through the history triggers) to its user and request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        ctx = {"source": "web", "request_id": getattr(request, "request_id", None), "path": request.path}
        if user is not None and user.is_authenticated:
            ctx.update(user_id=user.pk, username=user.username, agency=user.agency.code if user.agency_id else None)
        token = set_change_context(ctx)
        try:
            return self.get_response(request)
        finally:
            reset_change_context(token)
