"""`custody import-un-list FILE.xml --user NAME`: import the UN consolidated list as a reference list."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from custody.accounts.models import User
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.matching import services


class Command(CustodyCommand):
    help = "Import a UN Security Council consolidated list XML file as a reference list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--user", required=True, help="the importing user's username")
        parser.add_argument("--name", default="UN Security Council consolidated list")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            user = User.objects.get(username=opts["user"])
        except User.DoesNotExist as e:
            raise CommandError(f"no user {opts['user']!r}") from e
        try:
            with open(opts["file"], "rb") as fh:
                ref_list = services.import_un_list(fh, user, name=opts["name"])
        except OSError as e:
            raise CommandError(f"{opts['file']}: cannot be read ({e.strerror})") from e
        except RuleError as e:
            raise CommandError(f"{opts['file']}: {e.message}") from e
        self.stdout.write(f"{ref_list.entries.count():,} entries imported into {ref_list.name!r} (list {ref_list.pk})")
