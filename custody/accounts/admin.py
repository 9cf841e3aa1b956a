from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from custody.accounts.models import Agency, ApiToken, User
from custody.core import audit

PERMISSION_FIELDS = ("agency", "role", "clearance", "protection_role", "is_auditor", "is_active", "is_staff", "is_superuser")


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "sees_intelligence", "custody_scope", "biometric_access", "protection_purpose", "is_custodian")

    def save_model(self, request: Any, obj: Agency, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit.record(request, "permission_change" if change else "agency_create", obj=obj, fields=sorted(form.changed_data))


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "agency", "role", "clearance", "is_active", "locked_until")
    list_filter = ("agency", "role", "is_active")
    fieldsets = (*BaseUserAdmin.fieldsets, ("Custody", {"fields": ("agency", "role", "clearance", "protection_role", "is_auditor", "preferred_language")}))

    def save_model(self, request: Any, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        changed = sorted(form.changed_data)
        action = "permission_change" if change and set(changed) & set(PERMISSION_FIELDS) else ("user_change" if change else "user_create")
        audit.record(request, action, obj=obj, fields=changed)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "created", "last_used", "revoked")
    readonly_fields = ("key_sha256", "created", "last_used")
