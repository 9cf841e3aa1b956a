from __future__ import annotations

from typing import Any

from custody.registry import services
from custody.registry.batch_command import ImportBatchCommand


class Command(ImportBatchCommand):
    help = "Undo a whole roster import, if nothing depends on it yet."

    def perform(self, user: Any, batch: int) -> str:
        n = services.do_undo_import(user, batch)
        return f"Import {batch} undone: {n} people removed."
