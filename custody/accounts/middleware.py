"""Session policy: idle timeout, absolute lifetime, and the end of a locked or disabled account's session."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

from custody.accounts.auth import is_locked
from custody.core import audit

SESSION_STARTED = "custody_started"
SESSION_SEEN = "custody_seen"


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            now = time.time()
            started = request.session.get(SESSION_STARTED, now)
            seen = request.session.get(SESSION_SEEN, now)
            reason = None
            if now - seen > settings.SESSION_IDLE_SECONDS:
                reason = "idle"
            elif now - started > settings.SESSION_ABSOLUTE_SECONDS:
                reason = "absolute"
            elif is_locked(user):
                # Locked by repeated failed sign-ins while signed in elsewhere: whoever holds this session
                # may be the one guessing, so it ends too (issue 14).
                reason = "locked"
            if reason:
                audit.record(request, "session_expired", obj=user, reason=reason)
                logout(request)
            else:
                request.session[SESSION_STARTED] = started
                request.session[SESSION_SEEN] = now
        elif request.session.get(SESSION_KEY):
            # A signed-in session whose user the backend no longer accepts (disabled or deleted). Django
            # treats it as anonymous but keeps it, so re-enabling the account would revive it: end it.
            from custody.accounts.models import User

            former = User.objects.filter(pk=request.session[SESSION_KEY]).first()
            audit.record(request, "session_expired", obj=former, user=former, reason="disabled" if former else "deleted")
            logout(request)
        return self.get_response(request)


class LoginRequiredMiddleware:
    """Every page needs a signed-in user, except those marked login_not_required and the API, whose
    own authentication (session or bearer token) answers 401/403 instead of a redirect."""

    OPEN_PREFIXES = ("/api/", "/healthz", "/static/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

        self.get_response = get_response
        self._inner = DjangoLoginRequired(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):  # type: ignore[no-untyped-def]
        if request.path.startswith(self.OPEN_PREFIXES):
            return None
        return self._inner.process_view(request, view_func, view_args, view_kwargs)
