"""custody classify REF --level N --reason TEXT --as USER: raise or lower a person's classification.

Raised by any agency that sees the person (clerk and up, cleared to the new level); lowered only by the
agency that set the current level, a supervisor. The reason is kept in the audit trail."""

from __future__ import annotations

from typing import Any

from custody.accounts.models import Classification
from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor
from custody.registry import services


class Command(CustodyCommand):
    help = "Raise or lower a person's classification, with the reason (audited)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ref", help="the person's reference, e.g. P-000123")
        parser.add_argument("--level", required=True, help="0 unclassified, 1 restricted, 2 confidential, 3 secret")
        parser.add_argument("--reason", required=True, help="why: kept in the audit trail")
        add_actor_argument(parser, required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        person = services.do_classify(resolve_actor(opts["user"]), opts["ref"], opts["level"], opts["reason"])
        self.stdout.write(f"{person.ref} is now classified {Classification(person.classification).label} "
                          f"(set by {person.classified_by.code if person.classified_by else '—'}).")
