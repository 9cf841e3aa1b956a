from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError

from custody.accounts.api_auth import issue_token
from custody.accounts.models import User
from custody.core.commands import CustodyCommand


class Command(CustodyCommand):
    help = "Issue an API bearer token for a user; prints it once (only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = User.objects.filter(username=opts["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {opts['username']!r}.")
        self.stdout.write(issue_token(user, opts["name"]))
