from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse


@login_not_required
def healthz(request: HttpRequest) -> HttpResponse:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True, "database": connection.vendor})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A forged (or stale) form: refused as Django does, and audited. Active when settings name it:
    CSRF_FAILURE_VIEW = "custody.core.views.csrf_failure"."""
    from django.views.csrf import csrf_failure as refuse

    from custody.core import audit

    audit.record(request, "forged_form", outcome="denied", object_type="request", object_id=request.path[:64],
                 reason=reason, method=request.method)
    return refuse(request, reason=reason)
