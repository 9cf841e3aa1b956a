"""The audit trail and change history pages: supervisors read and filter; nobody edits."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custody.core import audit
from custody.core.access import can
from custody.core.models import AuditEvent, HistoryChange

FILTERS = ("username", "agency", "action", "outcome", "object_type", "object_id", "request_id")


def _require_audit(request: HttpRequest) -> None:
    if not can(request.user, "audit"):
        audit.record(request, "audit_view", outcome="denied")
        raise PermissionDenied


def audit_list(request: HttpRequest) -> HttpResponse:
    _require_audit(request)
    qs = AuditEvent.objects.all()
    active = {}
    for name in FILTERS:
        value = request.GET.get(name, "").strip()
        if value:
            qs = qs.filter(**{name: value})
            active[name] = value
    if request.GET.get("since"):
        qs = qs.filter(at__date__gte=request.GET["since"])
        active["since"] = request.GET["since"]
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record(request, "audit_view", filters=active)
    return render(request, "core/audit_list.html", {
        "page": page, "active": active, "filters": FILTERS,
        "actions": AuditEvent.objects.order_by().values_list("action", flat=True).distinct(),
        "page_classification": 2,
    })


def history_list(request: HttpRequest) -> HttpResponse:
    _require_audit(request)
    qs = HistoryChange.objects.all()
    table = request.GET.get("table", "").strip()
    row = request.GET.get("row", "").strip()
    if table:
        qs = qs.filter(table_name=table)
    if row:
        qs = qs.filter(row_pk=row)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    audit.record(request, "history_view", table=table, row=row)
    return render(request, "core/history_list.html", {"page": page, "table": table, "row": row, "page_classification": 2})
