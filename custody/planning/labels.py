"""The engine's fixed phrases (reasons a person was not moved, limits that bind a day), marked for
translation here so the pages show them in Arabic too. The engine itself stays free of Django."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

REASONS = [
    N_("pair conflict: a keep-apart partner is still at the site"),
    N_("family fit: the family did not fit a vehicle of its own"),
    N_("faction or capacity: no tier-1 place of his faction left"),
    N_("capacity: intake, vehicles or handling ran out before the horizon ended"),
    N_("excluded: minors are not moved under this scenario"),
]
LIMITS = {"intake": N_("intake"), "helicopters": N_("helicopters"), "convoys": N_("convoys"),
          "handling": N_("handling"), "road closed": N_("road closed")}


def reason(text: str) -> str:
    return _(text) if text in REASONS else text


def binding(items: list[str]) -> str:
    """['handling S01', 'intake'] -> the same, translated, joined."""
    out = []
    for item in items:
        for key in sorted(LIMITS, key=len, reverse=True):
            if item == key or item.startswith(key + " "):
                out.append((_(LIMITS[key]) + item[len(key):]).strip())
                break
        else:
            out.append(item)
    return ", ".join(out)
