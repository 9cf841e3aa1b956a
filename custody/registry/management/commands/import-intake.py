from __future__ import annotations

from typing import Any

from custody.registry import importer
from custody.registry.batch_command import ImportBatchCommand


class Command(ImportBatchCommand):
    help = "Record in the custody ledger the intake of an imported roster's people at the facility it names."
    audit_action = "import_intake"
    verb = "take in"

    def perform(self, batch: Any, user: Any) -> tuple[str, dict[str, Any]]:
        n = importer.record_intake(batch, user=user)
        return f"Intake of import {batch.pk} recorded: {n} ledger events.", {"events": n}
