from __future__ import annotations

from functools import cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from custody.core.access import can, may_read_audit
from custody.core.domains import app_modules

# The top bar groups each app's pages under one menu, so nine domains fit on one line.
NAV_GROUPS = {
    "ledger": gettext_noop("Custody"),
    "matching": gettext_noop("Identity"),
    "biometrics": gettext_noop("Identity"),
    "planning": gettext_noop("Transfers"),
    "cases": gettext_noop("Accountability"),
    "repatriation": gettext_noop("Accountability"),
    "camps": gettext_noop("Camps"),
    "coordination": gettext_noop("Coordination"),
}


@cache
def _app_nav() -> list[tuple[str, str, str, str]]:
    """(group, url name, label, capability) from every domain app's nav.py, in the apps' order."""
    items: list[tuple[str, str, str, str]] = []
    for app, nav in app_modules("nav"):
        items.extend((NAV_GROUPS.get(app, app), *entry) for entry in getattr(nav, "NAV", []))
    return items


def nav_items(user: Any) -> list[dict[str, Any]]:
    """Menus of the links this user may follow: [{"label", "items": [{"url", "label"}]}]."""
    groups: dict[str, list[dict[str, str]]] = {}
    for group, url_name, label, capability in _app_nav():
        if not can(user, capability):
            continue
        try:
            groups.setdefault(group, []).append({"url": reverse(url_name), "label": _(label)})
        except NoReverseMatch:
            continue
    return [{"label": _(g), "items": items} for g, items in groups.items()]


def custody_context(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    authenticated = bool(user is not None and user.is_authenticated)
    full = request.get_full_path()
    # The page in the other language: set_language cannot translate an /ar/ URL when the request's
    # own language is English (it resolves the path in the active language), so the template names
    # the target URL itself.
    unprefixed = full[3:] if full.startswith("/ar/") else full
    return {
        "path_unprefixed": unprefixed,
        "DEMO_MODE": settings.DEMO_MODE,
        "nav_items": nav_items(user) if authenticated else [],
        "can_audit": may_read_audit(user),
        "can_change": can(user, "change"),
        "can_import": can(user, "import"),
        "can_intelligence": can(user, "intelligence"),
        "can_biometrics": can(user, "biometric_images"),
        "can_protection": can(user, "protection"),
    }
