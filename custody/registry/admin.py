from __future__ import annotations

from django.contrib import admin

from custody.registry.models import (
    Facility,
    FamilyLink,
    Household,
    Identifier,
    ImportBatch,
    Nationality,
    Person,
    PersonName,
)


class NameInline(admin.TabularInline):
    model = PersonName
    extra = 0


class IdentifierInline(admin.TabularInline):
    model = Identifier
    extra = 0
    exclude = ("value_norm",)


class NationalityInline(admin.TabularInline):
    model = Nationality
    extra = 0


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("ref", "display_name", "display_name_ar", "group", "current_facility", "current_custodian", "legal_status", "risk_tier")
    list_filter = ("group", "legal_status", "risk_tier")
    search_fields = ("ref", "display_name", "display_name_ar")
    inlines = [NameInline, IdentifierInline, NationalityInline]
    # The ledger's projection owns these; editing them by hand would desynchronise the headcounts.
    readonly_fields = ("current_facility", "current_custodian", "custody_status")
    raw_id_fields = ("household", "import_batch")
    filter_horizontal = ("releasable_to",)
    exclude = ("custodians_ever",)


@admin.register(Facility)
class FacilityAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_ar", "kind", "country", "custodian", "capacity")
    list_filter = ("kind", "country")


@admin.register(Household)
class HouseholdAdmin(admin.ModelAdmin):
    list_display = ("camp", "ref", "sector", "tent", "head")
    raw_id_fields = ("head",)


@admin.register(FamilyLink)
class FamilyLinkAdmin(admin.ModelAdmin):
    list_display = ("person", "relation", "relative")
    raw_id_fields = ("person", "relative")


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ("at", "file_name", "user", "rows", "undone_at")
    readonly_fields = ("at", "file_name", "sha256", "user", "rows", "mapping", "undone_at", "undone_by")
