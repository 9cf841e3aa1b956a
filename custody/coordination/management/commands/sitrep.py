"""`custody sitrep --date D --audience AGENCY --lang en|ar --out FILE`: produce one situation report.

The report is computed for the audience (as that agency may see the records) and stored as produced;
FILE ending in .pdf gets the PDF, .html the printable HTML, .json the figures. `--user` produces it as
that user (the figures are then limited to what both the user and the audience may see).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.dateparse import parse_date
from rich.console import Console

from custody.accounts.models import User
from custody.coordination import services, sitrep
from custody.coordination.models import Trigger
from custody.core import audit
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError


class Command(CustodyCommand):
    help = "Produce the daily situation report for one date, audience and language."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", required=True, help="YYYY-MM-DD (not in the future)")
        parser.add_argument("--audience", required=True, help="agency code the report is produced for")
        parser.add_argument("--lang", default="en", choices=["en", "ar"])
        parser.add_argument("--out", required=True, help="output file: .pdf, .html or .json")
        parser.add_argument("--user", help="produce as this user (default: for the audience alone, as the schedule does)")

    def handle(self, *args: Any, **o: Any) -> None:
        console = Console(file=self.stdout)
        day = parse_date(o["date"] or "")
        if day is None:
            raise CommandError(f"--date: “{o['date']}” is not a date (use YYYY-MM-DD)")
        requester = None
        if o["user"]:
            requester = User.objects.filter(username=o["user"]).select_related("agency").first()
            if requester is None:
                raise CommandError(f"no user {o['user']!r}")
        out = Path(o["out"])
        try:
            with console.status(f"computing the report of {day} for {o['audience']}…"):
                rec, pdf = services.produce_sitrep(day, o["audience"], o["lang"], requester=requester,
                                                   trigger=Trigger.DEMAND, with_pdf=out.suffix.lower() == ".pdf")
        except RuleError as exc:
            audit.record(None, "sitrep_generate", object_type="coordination.sitrep", user=requester, username="cli", outcome="failed",
                         reason=exc.message, via="cli")
            raise CommandError(exc.message) from exc
        if out.suffix.lower() == ".pdf":
            out.write_bytes(pdf or b"")
        elif out.suffix.lower() == ".json":
            out.write_text(json.dumps(rec.figures, ensure_ascii=False, indent=2), encoding="utf-8")
        else:
            out.write_text(sitrep.render_html(rec.figures, o["lang"]), encoding="utf-8")
        audit.record(None, "sitrep_generate", obj=rec, user=requester, username="cli", via="cli", classification=rec.classification)
        console.print(f"report {rec.report_date} for {rec.audience.code} ({rec.language}), classification {rec.classification}: {out}")
