"""`custody camps ...`: camp records from the command line, as the acting user `--as USER` (or --user).

Every change is an action of custody.camps.services, which checks, restricts and audits exactly as for a
page; a refusal ends the command with its message and exit code (CustodyCommand).

    custody camps population CAMP [--from D]      population over time and who is unaccounted for
    custody camps depart REF --camp C --date D --reason R [--destination X]
    custody camps arrive REF --camp C --household H --date D
    custody camps control CAMP --to AGENCY --date D
    custody camps census CAMP --date D --refs FILE (one reference a line)
    custody camps household CAMP REF --head P [--member P ...] [--sector S] [--tent T]
    custody camps children --from D --to D [--camp C] --out FILE.csv   (protection purpose, analyst)
    custody camps trace REF                       a detainee's family in the camps / a child's parent in custody
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_date
from rich.console import Console
from rich.table import Table

from custody.camps import services, tracing
from custody.core import audit
from custody.core.access import can, restrict
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.registry.models import Facility, Person


def _day(value: str | None, name: str) -> date:
    day = parse_date(value or "")
    if day is None:
        raise CommandError(f"--{name}: “{value}” is not a date (use YYYY-MM-DD)")
    return day


class Command(CustodyCommand):
    help = "Camp records: population, movements, control, census, households, children, family tracing."

    def add_arguments(self, parser: CommandParser) -> None:
        add_actor_argument(parser, required=True)
        sub = parser.add_subparsers(dest="sub", required=True)
        p = sub.add_parser("population")
        p.add_argument("camp")
        p.add_argument("--from", dest="start")
        p = sub.add_parser("depart")
        p.add_argument("ref")
        p.add_argument("--camp", required=True)
        p.add_argument("--date", required=True)
        p.add_argument("--reason", required=True)
        p.add_argument("--destination", default="")
        p = sub.add_parser("arrive")
        p.add_argument("ref")
        p.add_argument("--camp", required=True)
        p.add_argument("--household", required=True)
        p.add_argument("--date", required=True)
        p = sub.add_parser("control")
        p.add_argument("camp")
        p.add_argument("--to", required=True)
        p.add_argument("--date", required=True)
        p.add_argument("--note", default="")
        p = sub.add_parser("census")
        p.add_argument("camp")
        p.add_argument("--date", required=True)
        p.add_argument("--refs", required=True, help="file with one person reference a line")
        p = sub.add_parser("household")
        p.add_argument("camp")
        p.add_argument("ref")
        p.add_argument("--head", default="")
        p.add_argument("--member", action="append", default=[])
        p.add_argument("--sector", default="")
        p.add_argument("--tent", default="")
        p = sub.add_parser("children")
        p.add_argument("--from", dest="start")
        p.add_argument("--to", dest="end")
        p.add_argument("--camp")
        p.add_argument("--out", required=True)
        p = sub.add_parser("trace")
        p.add_argument("ref")

    def handle(self, *args: Any, **o: Any) -> None:
        user = resolve_actor(o["user"])
        if user is None:
            raise CommandError("name the acting user: --as USER")
        self.console = Console(file=self.stdout, width=140)
        getattr(self, "do_" + o["sub"])(user, o)

    def _camp(self, user: Any, code: str) -> Facility:
        camp = restrict(Facility.objects.filter(kind="camp"), user).filter(code=code).first()
        if camp is None:
            raise CommandError(f"no camp {code!r}")
        return camp

    def do_population(self, user: Any, o: dict[str, Any]) -> None:
        camp = self._camp(user, o["camp"])
        today = timezone.localdate()
        start = _day(o["start"], "from") if o["start"] else today - timedelta(days=30)
        people = restrict(Person.objects.all(), user)
        series = services.population_series(people, camp, start, today)
        table = Table(title=f"{camp.code} population")
        table.add_column("date")
        table.add_column("residents", justify="right")
        for d, n in series:
            table.add_row(d.isoformat(), str(n))
        self.console.print(table)
        census, missing = services.unaccounted(people, camp)
        if census is None:
            self.console.print("no census recorded")
        else:
            self.console.print(f"unaccounted for since the census of {census.taken_on}: {missing.count()}")
        audit.record(None, "camp_read", obj=camp, user=user, via="cli")

    def do_depart(self, user: Any, o: dict[str, Any]) -> None:
        m = services.do_record_departure(user, o["ref"], o["camp"], _day(o["date"], "date"), o["reason"], destination=o["destination"])
        self.console.print(f"departure of {m.person.ref} from {m.camp.code} on {m.occurred_on} recorded ({m.reason})")

    def do_arrive(self, user: Any, o: dict[str, Any]) -> None:
        m = services.do_record_arrival(user, o["ref"], o["camp"], o["household"], _day(o["date"], "date"))
        self.console.print(f"arrival of {m.person.ref} in {m.camp.code} on {m.occurred_on} recorded")

    def do_control(self, user: Any, o: dict[str, Any]) -> None:
        c = services.do_record_control_change(user, o["camp"], o["to"], _day(o["date"], "date"), note=o["note"])
        self.console.print(f"control of {c.camp.code} passed from {c.from_custodian.code} to {c.to_custodian.code} "
                           f"on {c.occurred_on} ({c.residents_at_change} residents)")

    def do_census(self, user: Any, o: dict[str, Any]) -> None:
        refs = Path(o["refs"]).read_text(encoding="utf-8").split()
        c = services.do_record_census(user, o["camp"], _day(o["date"], "date"), refs)
        self.console.print(f"census of {c.camp.code} on {c.taken_on}: {c.counted.count()} counted")

    def do_household(self, user: Any, o: dict[str, Any]) -> None:
        h = services.do_create_household(user, o["camp"], o["ref"], sector=o["sector"], tent=o["tent"], head=o["head"] or None, members=o["member"])
        self.console.print(f"household {h} created, head {h.head.ref if h.head else '—'}")

    def do_children(self, user: Any, o: dict[str, Any]) -> None:
        if not can(user, "protection"):
            audit.record(None, "children_export", object_type="camps.children", user=user, outcome="denied", via="cli")
            raise CommandError("children's records are visible only to users with a protection purpose")
        if not can(user, "export"):
            audit.record(None, "children_export", object_type="camps.children", user=user, outcome="denied", via="cli")
            raise CommandError("exports need the analyst role or above")
        today = timezone.localdate()
        start = _day(o["start"], "from") if o["start"] else today
        end = _day(o["end"], "to") if o["end"] else today + timedelta(days=365)
        camp = self._camp(user, o["camp"]) if o["camp"] else None
        rows, unknown = services.children_reaching(restrict(Person.objects.all(), user), start, end, camp=camp, with_flags=True)
        from custody.camps.views import write_children_csv

        with open(o["out"], "w", encoding="utf-8", newline="") as fh:
            write_children_csv(fh, rows)
        audit.record_many(None, "children_export", [m.person for m in rows], user=user, via="cli", start=start.isoformat(), end=end.isoformat())
        self.console.print(f"{len(rows)} rows written to {o['out']} ({unknown} minors without a date of birth)")

    def do_trace(self, user: Any, o: dict[str, Any]) -> None:
        person = restrict(Person.objects.all(), user).filter(ref=o["ref"]).first()
        if person is None:
            raise CommandError(f"no person {o['ref']!r} that you may see")
        leads = tracing.trace_family_in_camps(user, person) if person.group == "detainee" else tracing.trace_parents_in_custody(user, person)
        audit.record(None, "family_trace", obj=person, user=user, via="cli", found=[lead.person.pk for lead in leads])
        table = Table(title=f"family tracing from {person.ref} {person.display_name}")
        for col in ("relation", "person", "basis", "score", "evidence"):
            table.add_column(col)
        for lead in leads:
            table.add_row(lead.relation, f"{lead.person.ref} {lead.person.display_name}", lead.basis, f"{lead.score:.2f}", "; ".join(lead.evidence))
        self.console.print(table)
