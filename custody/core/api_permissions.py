"""Kept apart from custody.core.api: DRF imports its permission setting while rest_framework.views is
still loading, so this module may import nothing from DRF but `permissions`."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions

from custody.core.access import ACTION_ROLE

METHOD_ACTION = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "change"}


class CustodyPermission(permissions.BasePermission):
    """Authenticated, active, and holding the role the HTTP method's action needs."""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        action = getattr(view, "required_action", None) or METHOD_ACTION.get(request.method, "administer")
        return user.has_role(ACTION_ROLE[action])
