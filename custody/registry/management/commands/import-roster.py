"""custody import-roster FILE [--map HEADER=FIELD ...] [--source S] --user USERNAME [--dry-run] [--allow-duplicate]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import CommandError
from rich.console import Console
from rich.table import Table as RichTable

from custody.core import audit
from custody.core.access import restrict
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.registry import importer, services
from custody.registry.models import Facility


class Command(CustodyCommand):
    help = "Import a CSV or XLSX roster: all rows or none. Errors name the row and column."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file")
        add_actor_argument(parser, required=True, help="the clerk on whose authority the roster is imported")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                            help=f"map a column to a field ({', '.join(importer.TARGET_FIELDS)}); unmapped headers are guessed")
        parser.add_argument("--source", default="")
        parser.add_argument("--dry-run", action="store_true", help="validate only")
        parser.add_argument("--allow-duplicate", action="store_true",
                            help="import even if the same file or the same rows were imported before (and not undone)")

    def handle(self, *args: Any, **opts: Any) -> None:
        console = Console(file=self.stdout)
        # Whether the user may import is the action's to decide (services.do_import), and to audit.
        user = resolve_actor(opts["user"])
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
        # A duplicate roster is refused by the action (services.DuplicateRoster, a broken rule: exit 5)
        # naming the earlier import, unless --allow-duplicate.
        batch = services.do_import(user, table, mapping, source=opts["source"], allow_duplicate=opts["allow_duplicate"])
        console.print(f"[green]Imported {batch.rows} people[/green] as batch {batch.pk} (sha256 {table.sha256[:16]}…).")
