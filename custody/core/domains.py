"""The domain apps, in the order their pages, menus and person sections appear, and the one way to find
an optional module of each (api, urls, nav, sections, services). Kept in core so that the URL map, the
navigation and the person page read one list instead of importing it from the URL map."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

DOMAIN_APPS = (
    "accounts", "registry", "ledger", "matching", "biometrics", "planning",
    "cases", "repatriation", "camps", "coordination",
)


@cache
def app_modules(submodule: str) -> tuple[tuple[str, ModuleType], ...]:
    """(app, module) for every domain app that has `custody.<app>.<submodule>`, in the apps' order."""
    found = []
    for app in DOMAIN_APPS:
        name = f"custody.{app}.{submodule}"
        if find_spec(name):
            found.append((app, import_module(name)))
    return tuple(found)
