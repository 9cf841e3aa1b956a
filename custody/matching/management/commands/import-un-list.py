"""`custody import-un-list FILE.xml --as USER`: import the UN consolidated list as a reference list (the
action matching.import_list, as that user)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, CommandParser

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.core.errors import Refusal
from custody.matching import services


class Command(CustodyCommand):
    help = "Import a UN Security Council consolidated list XML file as a reference list."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        add_actor_argument(parser, help="the importing user (a clerk or above)")
        parser.add_argument("--name", default="UN Security Council consolidated list")

    def handle(self, *args: Any, **opts: Any) -> None:
        user = resolve_actor(opts["user"])
        try:
            with open(opts["file"], "rb") as fh:
                ref_list = services.do_import_un_list(user, fh, name=opts["name"])
        except OSError as e:
            raise CommandError(f"{opts['file']}: cannot be read ({e.strerror})") from e
        except Refusal as e:
            # Name the file in the message; the exit code stays the refusal's.
            raise CommandError(f"{opts['file']}: {e.message}", returncode=e.exit_code) from e
        self.stdout.write(f"{ref_list.entries.count():,} entries imported into {ref_list.name!r} (list {ref_list.pk})")
