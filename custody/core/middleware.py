from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from custody.core.history import reset_change_context, set_change_context
from custody.core.request_id import (
    current_request_id,
    new_request_id,
    reset_client_ip,
    reset_request_id,
    set_client_ip,
)


class RequestIdMiddleware:
    """Gives every request an id (or keeps a well-formed X-Request-ID) for audit and history rows."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = new_request_id(request.headers.get("X-Request-ID"))
        ip_token = set_client_ip(request.META.get("REMOTE_ADDR"))
        request.request_id = current_request_id()  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
        finally:
            reset_client_ip(ip_token)
            reset_request_id(token)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response


class SecurityHeadersMiddleware:
    """The headers Django's SecurityMiddleware and XFrameOptionsMiddleware do not set (issue 14):
    Content-Security-Policy (scripts, styles, fonts, images and connections from this origin only; the
    pages have no inline script and the API docs are served from the package), Permissions-Policy (no
    camera, microphone, location...), Cross-Origin-Resource-Policy, and `Cache-Control: no-store` on
    answers that do not say otherwise, so that pages about people stay out of the browser's disk cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.headers = {
            "Content-Security-Policy": settings.CONTENT_SECURITY_POLICY,
            "Permissions-Policy": settings.PERMISSIONS_POLICY,
            "Cross-Origin-Resource-Policy": "same-origin",
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for name, value in self.headers.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Cache-Control", "no-store")
        return response


class RequestSizeMiddleware:
    """Refuses a request body over MAX_REQUEST_BYTES before anything reads it. Uploads are read into
    memory to be hashed and type-checked (evidence files, rosters, biometric captures), so without a
    bound one oversized request could exhaust a worker's memory."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.conf import settings
        from django.utils.translation import gettext as _

        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.MAX_REQUEST_BYTES
        if length > limit:
            message = _("The request is %(size)s MB; the limit is %(limit)s MB. Send large files one at a time.") % {
                "size": round(length / 1e6, 1), "limit": round(limit / 1e6)}
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


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


class RefusalMiddleware:
    """The page edge of the one door (custody.core.actions): a refusal an action raised and the view did
    not handle itself becomes a 403 or 404 page, or, for a broken rule or bad input, the message on the
    page the form came from, with nothing changed. API views map refusals in DRF's exception handler."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from django.contrib import messages
        from django.core.exceptions import PermissionDenied
        from django.http import Http404, HttpResponseRedirect
        from django.utils.http import url_has_allowed_host_and_scheme

        from custody.core.errors import NotAllowed, NotFound, Refusal

        if not isinstance(exception, Refusal) or request.path.startswith("/api/"):
            return None
        if isinstance(exception, NotAllowed):
            raise PermissionDenied(exception.message) from exception
        if isinstance(exception, NotFound):
            raise Http404(exception.message) from exception
        messages.error(request, exception.message)
        back = request.headers.get("Referer", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = request.path
        if getattr(request, "htmx", False):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = back
            return response
        return HttpResponseRedirect(back)
