"""Base class for management commands that change data: the CLI edge of the one door.

- Every change is attributed to the command line (change history) and to a named acting user: `--as
  USER` (or `--user USER`, or the CUSTODY_USER environment variable, the operator's account). The user's
  capabilities apply exactly as on a page; a command with no user refuses to change anything (the
  action refuses a missing actor).
- A refusal raised by an action (custody.core.errors) ends the command with its message and the exit
  code of its kind: 2 bad input, 3 not allowed, 4 not found, 5 a broken rule.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from custody.core.errors import BadInput, Refusal
from custody.core.history import change_context


def add_actor_argument(parser: Any, *, required: bool = False, help: str = "") -> None:
    """`--as USER` / `--user USER`: the account the command acts as (default: $CUSTODY_USER)."""
    parser.add_argument(
        "--as", "--user", dest="user", required=required and not os.environ.get("CUSTODY_USER"),
        default=os.environ.get("CUSTODY_USER") or None, metavar="USER",
        help=help or _("the acting user: their agency, role and clearance decide what the command may do"),
    )


def resolve_actor(username: str | None) -> Any:
    """The named active user, or None when no name was given (an action then refuses to change)."""
    if not username:
        return None
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.select_related("agency").filter(username=username).first()
    if user is None or not user.is_active:
        raise BadInput(_("--as: no active user named %(name)s.") % {"name": username}, field="--as")
    return user


class CustodyCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> Any:
        try:
            os_user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no passwd entry in some containers
            os_user = "unknown"
        context: dict[str, Any] = {"source": "cli", "os_user": os_user, "command": " ".join(sys.argv[1:])[:300]}
        if options.get("user"):
            context["username"] = options["user"]
        with change_context(**context):
            try:
                return super().execute(*args, **options)
            except Refusal as exc:
                raise CommandError(exc.message, returncode=exc.exit_code) from exc
