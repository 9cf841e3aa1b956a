"""`custody sitrep --date D --audience AGENCY --lang en|ar --out FILE`: produce one situation report.

The report is computed for the audience (as that agency may see the records) and stored as produced;
FILE ending in .pdf gets the PDF, .html the printable HTML, .json the figures. It is produced as the
acting user (`--as USER`, or $CUSTODY_USER): the user's own agency, or any audience for the coordinating
office's analysts; the figures are limited to what both the user and the audience may see. The scheduled
reports are produced by the task queue (`custody sitrep-schedule`), not by this command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.dateparse import parse_date
from rich.console import Console

from custody.coordination import services, sitrep
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor


class Command(CustodyCommand):
    help = "Produce the daily situation report for one date, audience and language."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="YYYY-MM-DD (not in the future)")
        parser.add_argument("--audience", required=True, help="agency code the report is produced for")
        parser.add_argument("--lang", default="en", choices=["en", "ar"])
        parser.add_argument("--out", required=True, help="output file: .pdf, .html or .json")
        add_actor_argument(parser, required=True)

    def handle(self, *args: Any, **o: Any) -> None:
        console = Console(file=self.stdout)
        day = parse_date(o["date"] or "")
        if day is None:
            raise CommandError(f"--date: “{o['date']}” is not a date (use YYYY-MM-DD)")
        requester = resolve_actor(o["user"])
        out = Path(o["out"])
        # The action checks the audience, stores the report and audits; a refusal ends the command with
        # its exit code (CustodyCommand).
        with console.status(f"computing the report of {day} for {o['audience']}…"):
            rec, pdf = services.do_produce_sitrep(requester, day, o["audience"], o["lang"], with_pdf=out.suffix.lower() == ".pdf")
        if out.suffix.lower() == ".pdf":
            out.write_bytes(pdf or b"")
        elif out.suffix.lower() == ".json":
            out.write_text(json.dumps(rec.figures, ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            out.write_text(sitrep.render_html(rec.figures, o["lang"]), encoding="utf-8")
        console.print(f"report {rec.report_date} for {rec.audience.code} ({rec.language}), classification {rec.classification}: {out}")
