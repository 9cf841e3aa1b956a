from __future__ import annotations

from typing import Any

from custody.registry import importer
from custody.registry.batch_command import ImportBatchCommand


class Command(ImportBatchCommand):
    help = "Undo a whole roster import, if nothing depends on it yet."
    audit_action = "import_undo"
    verb = "undo"

    def perform(self, batch: Any, user: Any) -> tuple[str, dict[str, Any]]:
        n = importer.undo(batch, user=user)
        return f"Import {batch.pk} undone: {n} people removed.", {"people": n}
