"""custody import-roster FILE [--map HEADER=FIELD ...] [--source S] --user USERNAME [--dry-run] [--allow-duplicate]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from rich.console import Console
from rich.table import Table as RichTable

from custody.accounts.models import User
from custody.core import audit
from custody.core.access import can, restrict
from custody.core.commands import CustodyCommand
from custody.registry import importer
from custody.registry.models import Facility


class Command(CustodyCommand):
    help = "Import a CSV or XLSX roster: all rows or none. Errors name the row and column."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        parser.add_argument("--user", required=True, help="the clerk on whose authority the roster is imported")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                            help=f"map a column to a field ({', '.join(importer.TARGET_FIELDS)}); unmapped headers are guessed")
        parser.add_argument("--source", default="")
        parser.add_argument("--dry-run", action="store_true", help="validate only")
        parser.add_argument("--allow-duplicate", action="store_true",
                            help="import even if the same file or the same rows were imported before (and not undone)")

    def handle(self, *args: Any, **opts: Any) -> None:
        console = Console()
        user = User.objects.filter(username=opts["user"], is_active=True).select_related("agency").first()
        if user is None:
            raise CommandError(f"No active user named {opts['user']!r}.")
        if not can(user, "import"):
            audit.record(None, "import", user=user, outcome="denied", via="cli")
            raise CommandError(f"{user.username} ({user.get_role_display()}) may not import rosters: a clerk or above may.")
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            importer.check_upload_size(path.stat().st_size)
            table = importer.read_table(path.read_bytes(), path.name)
        except importer.ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        mapping = importer.propose_mapping(table.headers)
        for item in opts["map"]:
            header, _, target = item.partition("=")
            if header not in table.headers:
                raise CommandError(f"--map {item}: the file has no column “{header}” (columns: {', '.join(table.headers)}).")
            if target and target not in importer.TARGET_FIELDS:
                raise CommandError(f"--map {item}: unknown field “{target}”.")
            mapping[header] = target
        mapping = {h: t for h, t in mapping.items() if t}
        shown = RichTable(title=f"{path.name}: {len(table.rows)} rows, read as {table.encoding}")
        shown.add_column("column")
        shown.add_column("field")
        for h in table.headers:
            shown.add_row(h, mapping.get(h, "(ignored)"))
        console.print(shown)
        for batch in importer.previous_imports(table, user):
            console.print(f"[yellow]{importer.duplicate_message(batch)}[/yellow]", highlight=False)
        codes = set(restrict(Facility.objects.all(), user).values_list("code", flat=True))
        parsed, errors = importer.validate(table, mapping, codes)
        if errors:
            for e in errors[:100]:
                console.print(f"[red]{e}[/red]")
            if len(errors) > 100:
                console.print(f"… and {len(errors) - 100} more")
            audit.record(None, "import_validate", user=user, outcome="failed", file=path.name, errors=len(errors), via="cli")
            raise CommandError(f"{len(errors)} problems; nothing was written.")
        if opts["dry_run"]:
            console.print(f"[green]All {len(parsed)} rows are valid.[/green] (dry run: nothing written)")
            return
        try:
            batch = importer.commit(table, mapping, parsed, user=user, source=opts["source"], allow_duplicate=opts["allow_duplicate"])
        except importer.DuplicateImport as exc:
            audit.record(None, "import", user=user, outcome="denied", file=path.name, sha256=table.sha256, reason="duplicate",
                         previous=[b.pk for b in exc.previous], via="cli")
            raise CommandError(f"{exc.message} (--allow-duplicate)") from exc
        audit.record(None, "import", obj=batch, user=user, file=path.name, sha256=table.sha256, rows=len(parsed), via="cli")
        console.print(f"[green]Imported {len(parsed)} people[/green] as batch {batch.pk} (sha256 {table.sha256[:16]}…).")
