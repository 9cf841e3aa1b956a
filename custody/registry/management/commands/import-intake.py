from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from custody.accounts.models import User
from custody.core import audit
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.registry import importer
from custody.registry.models import ImportBatch


class Command(CustodyCommand):
    help = "Record in the custody ledger the intake of an imported roster's people at the facility it names."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("batch", type=int)
        parser.add_argument("--user", required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {opts['user']!r}.")
        batch = ImportBatch.objects.restrict(user, "import").filter(pk=opts["batch"]).first()
        if batch is None:
            raise CommandError(f"No import batch {opts['batch']} that {user.username} may take in.")
        try:
            n = importer.record_intake(batch, user=user)
        except RuleError as exc:
            audit.record(None, "import_intake", obj=batch, user=user, outcome="denied", reason=exc.message, via="cli")
            raise CommandError(exc.message) from exc
        audit.record(None, "import_intake", obj=batch, user=user, events=n, via="cli")
        self.stdout.write(f"Intake of import {batch.pk} recorded: {n} ledger events.")
