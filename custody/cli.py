"""The `custody` command: Django's management commands plus the project's own.

Every subcommand (`custody migrate`, `custody generate`, `custody ledger verify`, ...) is a Django
management command, so the CLI and the web app share one settings module, one authorisation layer
and one audit trail.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custody.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["custody", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
