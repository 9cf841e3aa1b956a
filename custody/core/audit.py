"""Write the audit trail: one row per thing a person did (for changes, through custody.core.actions)."""

from __future__ import annotations

import logging
from typing import Any

from custody.core.models import AuditEvent
from custody.core.request_id import current_client_ip, current_request_id

log = logging.getLogger(__name__)


def _client_ip(request: Any) -> str | None:
    if request is None:
        return current_client_ip()
    return request.META.get("REMOTE_ADDR") or None


def record(
    request: Any,
    action: str,
    *,
    obj: Any = None,
    object_type: str = "",
    object_id: str = "",
    outcome: str = "ok",
    user: Any = None,
    username: str = "",
    **detail: Any,
) -> AuditEvent:
    """Record `action` by the request's user (or `user`) on `obj`.

    The row is written on the caller's connection, in whatever transaction is open: a change and its
    audit row commit or roll back together. A refusal must be kept although its work rolls back, so the
    one door (custody.core.actions.action) writes a refusal's row after the rollback, outside the
    action's transaction. Outside the one door, record a refusal only where no rollback follows.
    """
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    event = AuditEvent(
        user=user,
        username=(user.username if user else username)[:150],
        agency=(user.agency.code if user and user.agency_id else ""),
        action=action[:40],
        object_type=object_type[:60],
        object_id=str(object_id)[:64],
        outcome=outcome,
        request_id=current_request_id() or "",
        ip=_client_ip(request),
        detail=detail,
    )
    event.save()
    return event


def record_many(request: Any, action: str, objects: list[Any], **detail: Any) -> None:
    """A list page or search shows many people at once: one event names them all."""
    ids = [str(o.pk) for o in objects]
    if not ids:
        return
    record(request, action, object_type=objects[0]._meta.label_lower, object_id=f"{len(ids)} rows", ids=ids, **detail)
