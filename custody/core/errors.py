"""The refusals an action may raise, and nothing else: every door (page, API, CLI, task) maps them the
same way (custody.core.actions.refusal_status / refusal_exit_code), so a refusal means the same thing
wherever it is met.

- BadInput   the request itself is malformed (a field, an argument, a row): 400 / exit 2
- NotAllowed the actor lacks the capability or is not the custodian of the record: 403 / exit 3
- NotFound   the record is absent or invisible to the actor (the same answer, so nothing leaks): 404 / exit 4
- RuleError  the request is well formed and allowed but breaks a domain rule: 409 / exit 5
"""

from __future__ import annotations


class Refusal(Exception):
    """A refused action; the message names the rule, row or field and is shown to the user as is."""

    status = 409
    exit_code = 5
    outcome = "failed"  # the audit outcome (core.models.AuditEvent.Outcome)

    def __init__(self, message: str, *, rule: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule
        self.field = field


class RuleError(Refusal):
    """A domain rule refused the action (a discrepancy, a state that does not allow it)."""


class BadInput(Refusal):
    status = 400
    exit_code = 2
    outcome = "failed"


class NotAllowed(Refusal):
    status = 403
    exit_code = 3
    outcome = "denied"


class NotFound(Refusal):
    status = 404
    exit_code = 4
    outcome = "denied"
