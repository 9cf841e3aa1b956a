"""`custody case-file PERSON_REF --recipient CODE --as USERNAME --out FILE`: generate a prosecution file
as that user (whose access rules apply), recorded and audited by the action, and write the PDF or JSON
bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser
from rich.console import Console

from custody.cases import services
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor


class Command(CustodyCommand):
    help = "Generate the prosecution file of PERSON_REF for a recipient; writes the PDF (or the JSON bundle) to --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person_ref")
        parser.add_argument("--recipient", required=True, help="recipient code, e.g. IQ-CCC")
        add_actor_argument(parser, help="the acting user: their agency, role and clearance decide what goes in")
        parser.add_argument("--out", required=True, help="output file; .json writes the bundle, anything else the PDF")
        parser.add_argument("--language", choices=["en", "ar"], default="en")
        parser.add_argument("--format", choices=["pdf", "json"], default=None, help="default: from the --out extension")
        parser.add_argument("--items", nargs="*", default=None, help="only these item references (each must be approved)")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = Console(stderr=True)
        user = resolve_actor(opts["user"])
        fmt = opts["format"] or ("json" if opts["out"].lower().endswith(".json") else "pdf")
        with con.status(f"Generating the file of {opts['person_ref']} for {opts['recipient']}…"):
            pf = services.do_generate_file(user, opts["person_ref"], opts["recipient"], language=opts["language"],
                                           item_refs=opts["items"])
        field, sha = (pf.pdf, pf.pdf_sha256) if fmt == "pdf" else (pf.bundle, pf.bundle_sha256)
        with field.open("rb") as fh:
            Path(opts["out"]).write_bytes(fh.read())
        con.print(f"[green]written[/green] {opts['out']} ({fmt}, sha256 {sha}); items: {', '.join(pf.item_refs) or 'none'}")
        self.stdout.write(sha)
