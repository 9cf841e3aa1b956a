from __future__ import annotations

from typing import Any

from custody.registry import services
from custody.registry.batch_command import ImportBatchCommand


class Command(ImportBatchCommand):
    help = "Record in the custody ledger the intake of an imported roster's people at the facility it names."

    def perform(self, user: Any, batch: int) -> str:
        n = services.do_record_intake(user, batch)
        return f"Intake of import {batch} recorded: {n} ledger events."
