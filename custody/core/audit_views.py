"""The audit trail and change history pages: supervisors read and filter; nobody edits."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from custody.core import audit
from custody.core.access import can, can_see_fields, restrict
from custody.core.history import tracked_models
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


# Columns shown to nobody on the history page, and columns of a field group (access.FIELD_GROUPS).
SECRET_COLUMNS = {"password", "key_sha256"}
FIELD_GROUP_COLUMNS = {"risk_rationale": "risk_rationale", "faction": "intelligence"}


def _history_rows(changes: list[HistoryChange], user: Any) -> list[dict[str, Any]]:
    """What of each change this user may read. The page shows before/after values of any tracked row,
    so it applies the same rules as the record pages: a row of a model with `access_q` is shown only if
    the user may see that record (otherwise only that it changed), field groups the user may not see
    are left out, and password hashes are never shown."""
    by_table = {m._meta.db_table: m for m in tracked_models()}
    hidden = set(SECRET_COLUMNS) | {c for c, group in FIELD_GROUP_COLUMNS.items() if not can_see_fields(user, group)}
    visible: dict[str, set[str] | None] = {}
    for table in {h.table_name for h in changes}:
        model = by_table.get(table)
        if model is None or getattr(model, "access_q", None) is None:
            visible[table] = None  # no record-level rule (agencies, users): secrets are still left out
            continue
        pks = [h.row_pk for h in changes if h.table_name == table and h.row_pk and h.row_pk.isdigit()]
        visible[table] = {str(pk) for pk in restrict(model._default_manager.filter(pk__in=pks), user).values_list("pk", flat=True)}
    rows = []
    for h in changes:
        allowed = visible[h.table_name]
        withheld = allowed is not None and h.row_pk not in allowed
        fields = {} if withheld else {k: v for k, v in h.changed_fields().items() if k not in hidden}
        rows.append({"h": h, "ctx": h.context_dict(), "fields": fields, "withheld": withheld})
    return rows


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
    return render(request, "core/history_list.html", {
        "page": page, "rows": _history_rows(list(page.object_list), request.user), "table": table, "row": row,
        "page_classification": 2,
    })
