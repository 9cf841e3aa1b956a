from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pct(value: float | None, places: int = 2) -> str:
    """0.01234 -> '1.23%'."""
    if value is None or value == "":
        return ""
    return f"{100 * float(value):.{int(places)}f}%"
