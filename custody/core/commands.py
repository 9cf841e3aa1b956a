"""Base class for management commands that change data: attributes every change to the command line."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand

from custody.core.history import change_context


class CustodyCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            os_user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            os_user = "unknown"
        with change_context(source="cli", os_user=os_user, command=" ".join(sys.argv[1:])[:300]):
            return super().execute(*args, **options)
