"""`custody case-file PERSON_REF --recipient CODE --user USERNAME --out FILE`: generate a prosecution file
as that user (whose access rules apply), record the generation and write the PDF or JSON bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from rich.console import Console

from custody.accounts.models import User
from custody.cases import prosecution
from custody.cases.models import Recipient
from custody.core import audit
from custody.core.access import restrict
from custody.core.commands import CustodyCommand
from custody.core.errors import RuleError
from custody.registry.models import Person


class Command(CustodyCommand):
    help = "Generate the prosecution file of PERSON_REF for a recipient; writes the PDF (or the JSON bundle) to --out."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("person_ref")
        parser.add_argument("--recipient", required=True, help="recipient code, e.g. IQ-CCC")
        parser.add_argument("--user", required=True, help="the acting user: their agency, role and clearance decide what goes in")
        parser.add_argument("--out", required=True, help="output file; .json writes the bundle, anything else the PDF")
        parser.add_argument("--language", choices=["en", "ar"], default="en")
        parser.add_argument("--format", choices=["pdf", "json"], default=None, help="default: from the --out extension")
        parser.add_argument("--items", nargs="*", default=None, help="only these item references (each must be approved)")

    def handle(self, *args: Any, **opts: Any) -> None:
        con = Console(stderr=True)
        user = User.objects.filter(username=opts["user"], is_active=True).select_related("agency").first()
        if user is None:
            raise CommandError(f"No active user named {opts['user']!r}.")
        person = restrict(Person.objects.all(), user).filter(ref=opts["person_ref"]).first()
        if person is None:
            audit.record(None, "case_file_generate", object_type="registry.person", object_id=opts["person_ref"], outcome="denied",
                         user=user, via="cli")
            raise CommandError(f"No person {opts['person_ref']} that {user.username} may see.")
        recipient = Recipient.objects.filter(code=opts["recipient"]).first()
        if recipient is None:
            raise CommandError(f"No recipient has the code {opts['recipient']!r} (see /cases/recipients/).")
        fmt = opts["format"] or ("json" if opts["out"].lower().endswith(".json") else "pdf")
        try:
            with con.status(f"Generating the file of {person.ref} for {recipient.code}…"):
                pf = prosecution.generate(user, person, recipient, language=opts["language"], item_refs=opts["items"])
        except RuleError as exc:
            audit.record(None, "case_file_generate", obj=person, outcome="denied", user=user, message=exc.message, via="cli",
                         recipient=recipient.code)
            raise CommandError(exc.message) from exc
        audit.record(None, "case_file_generate", obj=pf, user=user, person=person.ref, recipient=recipient.code, items=pf.item_refs,
                     pdf_sha256=pf.pdf_sha256, bundle_sha256=pf.bundle_sha256, via="cli")
        field, sha = (pf.pdf, pf.pdf_sha256) if fmt == "pdf" else (pf.bundle, pf.bundle_sha256)
        with field.open("rb") as fh:
            Path(opts["out"]).write_bytes(fh.read())
        con.print(f"[green]written[/green] {opts['out']} ({fmt}, sha256 {sha}); items: {', '.join(pf.item_refs) or 'none'}")
        self.stdout.write(sha)
