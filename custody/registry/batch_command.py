"""What the import-intake and import-undo commands share: the acting user (--as), the batch number, one
registry action that checks, restricts and audits; the command only prints its answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custody.core.commands import CustodyCommand, add_actor_argument, resolve_actor


class ImportBatchCommand(CustodyCommand):
    perform: Callable[[Any, int], str]
    """Set by each command: call the action as the user on the batch number, return the message to print."""

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("batch", type=int)
        add_actor_argument(parser, required=True)

    def handle(self, *args: Any, **opts: Any) -> None:
        # A refusal (another agency's batch, a broken rule) is raised by the action and becomes the
        # command's message and exit code in CustodyCommand.
        self.stdout.write(self.perform(resolve_actor(opts["user"]), opts["batch"]))
