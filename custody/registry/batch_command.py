"""What the import-intake and import-undo commands share: find the user and the batch, run one
importer action, audit the outcome either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import CommandError

from custody.accounts.models import User
from custody.core import audit
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.registry.models import ImportBatch


class ImportBatchCommand(CustodyCommand):
    audit_action = ""
    verb = ""  # "take in", "undo": for the not-found message

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("batch", type=int)
        parser.add_argument("--user", required=True)

    perform: Callable[[ImportBatch, User], tuple[str, dict[str, Any]]]
    """Set by each command: do the work, return the message to print and the audit detail."""

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {opts['user']!r}.")
        batch = ImportBatch.objects.restrict(user, "import").filter(pk=opts["batch"]).first()
        if batch is None:
            raise CommandError(f"No import batch {opts['batch']} that {user.username} may {self.verb}.")
        try:
            message, detail = self.perform(batch, user)
        except RuleError as exc:
            audit.record(None, self.audit_action, obj=batch, user=user, outcome="denied", reason=exc.message, via="cli")
            raise CommandError(exc.message) from exc
        audit.record(None, self.audit_action, obj=batch, user=user, via="cli", **detail)
        self.stdout.write(message)

