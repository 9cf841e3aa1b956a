"""`custody repatriation-export CC --format csv|xlsx|pdf --as USERNAME [--out FILE]`: a country's list as
the foreign ministry may share it with that country; audited like the page's export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from rich.console import Console

from custody.core import audit
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.core.errors import Refusal
from custody.repatriation import exports


class Command(CustodyCommand):
    help = "Export the nationals of country CC (identity and nationality only, nothing classified) as CSV, XLSX or PDF."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("country", help="ISO 3166 alpha-2 code, e.g. TN")
        parser.add_argument("--format", choices=sorted(exports.FORMATS), default="csv")
        add_actor_argument(parser, required=True, help="the acting user (a foreign ministry analyst or above)")
        parser.add_argument("--out", default="", help="output file (default: standard output for csv)")
        parser.add_argument("--language", choices=["en", "ar"], default="en")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = Console(stderr=True)
        user = resolve_actor(opts["user"])
        code = opts["country"].upper()
        try:
            with con.status(f"Exporting the nationals of {code}…"):
                data, _ctype, name, exp = exports.render(user, code, opts["format"], opts["language"])
        except Refusal as exc:
            # An export is a read: refused, it is audited here; CustodyCommand ends with the message and exit code.
            audit.record(None, "repatriation_export", object_type="repatriation.countryfile", object_id=code, outcome="denied", user=user,
                         message=exc.message, fmt=opts["format"], via="cli")
            raise
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
