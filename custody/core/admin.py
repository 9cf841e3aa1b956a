from __future__ import annotations

from typing import Any

from django.contrib import admin

from custody.core.models import AuditEvent, HistoryChange


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody edits or deletes the audit trail or the change history through the application."""

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "username", "agency", "action", "object_type", "object_id", "outcome", "request_id")
    list_filter = ("outcome", "agency", "action")
    search_fields = ("username", "object_id", "request_id")


@admin.register(HistoryChange)
class HistoryChangeAdmin(ReadOnlyAdmin):
    list_display = ("at", "table_name", "row_pk", "op")
    list_filter = ("table_name", "op")
    search_fields = ("row_pk",)
