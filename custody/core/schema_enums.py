"""Choice sets named for the OpenAPI schema: several apps have a `kind` or `source` field, and
drf-spectacular would otherwise give each an arbitrary hash suffix (settings ENUM_NAME_OVERRIDES).
Imported only while a schema is generated, when the apps are ready."""

from __future__ import annotations

from django.apps import apps

FIELDS = {
    "FacilityKindEnum": ("registry", "Facility", "kind"),
    "IdentifierKindEnum": ("registry", "Identifier", "kind"),
    "PersonFileKindEnum": ("registry", "PersonFile", "kind"),
    "LedgerEventKindEnum": ("ledger", "LedgerEvent", "kind"),
    "DiscrepancyKindEnum": ("ledger", "Discrepancy", "kind"),
    "CaptureSourceEnum": ("biometrics", "Capture", "source"),
    "ScenarioSourceEnum": ("planning", "PlanningScenario", "source"),
    "ItemKindEnum": ("cases", "Item", "kind"),
    "RedactedCopyKindEnum": ("cases", "RedactedCopy", "kind"),
    "RecipientKindEnum": ("cases", "Recipient", "kind"),
    "OutreachKindEnum": ("repatriation", "Outreach", "kind"),
    "OverrideKindEnum": ("repatriation", "Override", "kind"),
    "StepKindEnum": ("repatriation", "Step", "kind"),
    "MovementKindEnum": ("camps", "Movement", "kind"),
    "ProtectionFlagKindEnum": ("camps", "ProtectionFlag", "kind"),
    "IncidentKindEnum": ("coordination", "Incident", "kind"),
}


def _choices(app: str, model: str, field: str) -> list[tuple[str, str]]:
    return list(apps.get_model(app, model)._meta.get_field(field).choices)


for _name, _spec in FIELDS.items():
    globals()[_name] = _choices(*_spec)
