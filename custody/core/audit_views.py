"""The audit trail and change history pages: supervisors read and filter their own agency's trail, auditors
every agency's; every read is itself audited; nobody edits."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from custody.core import audit
from custody.core.access import can_see_fields, may_read_audit, restrict
from custody.core.history import tracked_models
from custody.core.models import AuditEvent, HistoryChange

FILTERS = ("username", "agency", "action", "outcome", "object_type", "object_id", "request_id")


def _require_audit(request: HttpRequest) -> None:
    if not may_read_audit(request.user):
        audit.record(request, "audit_view", outcome="denied")
        raise PermissionDenied


_ROWS_ID = re.compile(r"^\d+ rows$")  # audit.record_many: a count, not a record


def _withhold_records(events: list[AuditEvent], user: Any) -> None:
    """An audit row about a record the reader may not see (a person above its clearance, read by a
    colleague cleared higher) keeps who, what, when and the outcome, but not which record. A row that
    names its record by a lookup value rather than its key (a refusal: the reference that was asked
    for) is resolved for people by their reference; for other records it is withheld."""
    from django.apps import apps

    from custody.registry.models import Person

    by_type: dict[str, list[AuditEvent]] = {}
    for e in events:
        if e.object_type and e.object_id and not _ROWS_ID.match(e.object_id):
            by_type.setdefault(e.object_type, []).append(e)
    for label, rows in by_type.items():
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue
        if getattr(model, "access_q", None) is None:
            continue
        keys = {e.object_id for e in rows if e.object_id.isdigit()}
        names = {e.object_id for e in rows if not e.object_id.isdigit()}
        visible = {str(pk) for pk in restrict(model._default_manager.filter(pk__in=keys), user).values_list("pk", flat=True)}
        if model is Person and names:
            visible |= set(restrict(Person.objects.filter(ref__in=names), user).values_list("ref", flat=True))
        for e in rows:
            if e.object_id not in visible:
                e.object_id = _("withheld: you may not see this record")


def audit_list(request: HttpRequest) -> HttpResponse:
    _require_audit(request)
    # Per agency (AuditEvent.access_q): a supervisor reads its own agency's rows, an auditor all.
    visible = restrict(AuditEvent.objects.all(), request.user)
    qs = visible
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
    page.object_list = list(page.object_list)
    _withhold_records(page.object_list, request.user)
    audit.record(request, "audit_view", filters=active, auditor=bool(getattr(request.user, "is_auditor", False)))
    return render(request, "core/audit_list.html", {
        "page": page, "active": active, "filters": FILTERS,
        "actions": visible.order_by().values_list("action", flat=True).distinct(),
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
