"""Write the audit trail. One call per thing a person did; never raises into the caller's work."""

from __future__ import annotations

import logging
from typing import Any

from custody.core.models import AuditEvent
from custody.core.request_id import current_request_id

log = logging.getLogger(__name__)


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
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

    Audit writes must not be lost when the surrounding work rolls back (a refused request is exactly
    what must be kept), so they go through their own connection-level autocommit when possible.
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
