"""`custody repatriation-export CC --format csv|xlsx|pdf --user USERNAME [--out FILE]`: a country's list as
the foreign ministry may share it with that country; audited like the page's export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from rich.console import Console

from custody.accounts.models import User
from custody.core import audit
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.repatriation import exports


class Command(CustodyCommand):
    help = "Export the nationals of country CC (identity and nationality only, nothing classified) as CSV, XLSX or PDF."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("country", help="ISO 3166 alpha-2 code, e.g. TN")
        parser.add_argument("--format", choices=sorted(exports.FORMATS), default="csv")
        parser.add_argument("--user", required=True, help="the acting user (a foreign ministry analyst or above)")
        parser.add_argument("--out", default="", help="output file (default: standard output for csv)")
        parser.add_argument("--language", choices=["en", "ar"], default="en")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = Console(stderr=True)
        user = User.objects.filter(username=opts["user"], is_active=True).select_related("agency").first()
        if user is None:
            raise CommandError(f"No active user named {opts['user']!r}.")
        code = opts["country"].upper()
        try:
            with con.status(f"Exporting the nationals of {code}…"):
                data, _ctype, name, exp = exports.render(user, code, opts["format"], opts["language"])
        except RuleError as exc:
            audit.record(None, "repatriation_export", object_type="repatriation.countryfile", object_id=code, outcome="denied", user=user,
                         message=exc.message, fmt=opts["format"], via="cli")
            raise CommandError(exc.message) from exc
        digest = exports.sha256(data)
        audit.record(None, "repatriation_export", object_type="repatriation.countryfile", object_id=exp.code, user=user, fmt=opts["format"],
                     ids=[p.pk for p in exp.people], withheld=exp.withheld, sha256=digest, via="cli")
        out = opts["out"]
        if not out and opts["format"] != "csv":
            out = name
        if out:
            Path(out).write_bytes(data)
            con.print(f"[green]written[/green] {out}: {len(exp.rows)} people, sha256 {digest}"
                      + (f" ({exp.withheld} withheld: classified or not releasable to the foreign ministry)" if exp.withheld else ""))
        else:
            sys.stdout.flush()
            self.stdout.write(data.decode("utf-8-sig"), ending="")
