"""The one door: every change to the system is an action, and every action goes through `action`.

An action is a function `do_something(actor, ...)` in its app's `services` module (the Zulip habit). The
decorator gives every action, whoever calls it (page, API, CLI, task), the same four things in one
transaction:

1. the capability check (`custody.core.access.can`): no actor, an inactive actor or one without the
   capability is refused before anything is read;
2. the action's own body, which restricts every row it touches (`restrict`/`get_restricted`), applies
   the domain rule (the custodian rule for custody records: custody.ledger.authority) and writes;
3. exactly one audit row naming the actor, written in the same transaction as the change, or, when the
   action is refused, after the rollback, so a refusal is kept and a half-done change is not;
4. one vocabulary of refusals (custody.core.errors), mapped the same way at every door:
   `api_exception_handler` for DRF, `RefusalMiddleware` for pages, `CustodyCommand` for the CLI.

Inside an action, `note(obj, **detail)` says what the audit row names. An action called by another action
runs inside the outer one's transaction and audit row (its capability check still applies), so a
composite change is still one door and one row.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, TypeVar

from django.db import transaction
from django.utils.translation import gettext as _

from custody.core import audit
from custody.core.access import can, restrict
from custody.core.errors import BadInput, NotAllowed, NotFound, Refusal, RuleError

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "BadInput", "NotAllowed", "NotFound", "Refusal", "RuleError",
    "action", "note", "current_action", "registered_actions", "refusal_status", "refusal_exit_code",
    "api_exception_handler", "reach", "require",
]


@dataclass
class _Running:
    name: str
    user: Any
    obj: Any = None
    object_type: str = ""
    object_id: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


_running: contextvars.ContextVar[_Running | None] = contextvars.ContextVar("custody_action", default=None)
_REGISTRY: dict[str, dict[str, Any]] = {}


def registered_actions() -> dict[str, dict[str, Any]]:
    """Every action of the code base (name -> capability, function): the walk in the tests uses it to
    prove that each one refuses an actor without its capability and audits once."""
    return dict(_REGISTRY)


def current_action() -> str | None:
    running = _running.get()
    return running.name if running else None


def note(obj: Any = None, *, object_type: str = "", object_id: str = "", **detail: Any) -> None:
    """Inside an action: the record the audit row names, and details worth keeping (kept JSON-simple)."""
    running = _running.get()
    if running is None:
        raise RuntimeError("note() outside an action")
    if obj is not None:
        running.obj = obj
    if object_type:
        running.object_type = object_type
    if object_id:
        running.object_id = str(object_id)
    running.detail.update(detail)


def require(user: Any, capability: str) -> None:
    """Refuse unless the user holds `capability` (an action name of core.access or an agency capability)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotAllowed(_("No acting user: sign in, or name one with --as USER on the command line."),
                         rule="actor")
    if not can(user, capability):
        raise NotAllowed(_("Your account may not do this (it needs %(capability)s).") % {"capability": capability},
                         rule="capability")


def reach(queryset: Any, user: Any, action: str = "view", *, what: str = "", lock: bool = False, **lookup: Any) -> Any:
    """Inside an action: the one row of `queryset` matching `lookup` that `user` may `action` (locked for
    update with `lock`), or NotFound: the same answer for an absent row and a forbidden one, so nothing
    leaks, and the action's own audit row records the refusal. `what` names the row ("item ITM-000004")."""
    qs = restrict(queryset, user, action)
    if lock:
        qs = qs.select_for_update(of=("self",))
    row = qs.filter(**lookup).first()
    if row is None:
        label = what or f"{queryset.model._meta.verbose_name} {next(iter(lookup.values()), '')}".strip()
        message = _("%(what)s is not one you may see.") if action == "view" else _("%(what)s is not one you may change.")
        raise NotFound(message % {"what": label}, rule="not_found")
    return row


def action(name: str, *, capability: str = "change") -> Callable[[F], F]:
    """Declare `fn(actor, ...)` as the action `name` needing `capability`. See the module docstring."""
    if len(name) > 40:
        raise ValueError(f"action name {name!r} is longer than the audit column (40)")

    def decorate(fn: F) -> F:
        _REGISTRY[name] = {"capability": capability, "function": f"{fn.__module__}.{fn.__qualname__}"}

        @wraps(fn)
        def run(actor: Any, *args: Any, **kwargs: Any) -> Any:
            outer = _running.get()
            if outer is not None:
                # Part of a larger action: its transaction and its one audit row cover this step.
                require(actor, capability)
                return fn(actor, *args, **kwargs)
            running = _Running(name, actor)
            token = _running.set(running)
            try:
                try:
                    require(actor, capability)
                    with transaction.atomic():
                        result = fn(actor, *args, **kwargs)
                        _audit(running, "ok")
                    return result
                except Refusal as exc:
                    # After the rollback: the refusal is what must be kept.
                    _audit(running, exc.outcome, refused=exc.message[:500], rule=exc.rule, field=exc.field)
                    raise
            finally:
                _running.reset(token)

        run.action_name = name  # type: ignore[attr-defined]
        run.capability = capability  # type: ignore[attr-defined]
        return run  # type: ignore[return-value]

    return decorate


def _audit(running: _Running, outcome: str, **extra: Any) -> None:
    user = running.user if getattr(running.user, "is_authenticated", False) else None
    detail = {**running.detail, **{k: v for k, v in extra.items() if v}}
    audit.record(None, running.name, obj=running.obj, object_type=running.object_type,
                 object_id=running.object_id, outcome=outcome, user=user,
                 username="" if user else "(no user)", **detail)


# ---------------------------------------------------------------- the edges


def refusal_status(exc: Refusal) -> int:
    return exc.status


def refusal_exit_code(exc: Refusal) -> int:
    return exc.exit_code


def refusal_body(exc: Refusal) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message}
    if exc.rule:
        body["rule"] = exc.rule
    if exc.field:
        body["field"] = exc.field
    return body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's handler, plus the refusals of the one door (settings REST_FRAMEWORK EXCEPTION_HANDLER)."""
    # Imported here: DRF imports this handler while rest_framework.views is still loading.
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, Refusal):
        return Response(refusal_body(exc), status=exc.status)
    return exception_handler(exc, context)
