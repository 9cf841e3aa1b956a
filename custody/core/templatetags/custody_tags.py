from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html

from custody.accounts.models import Classification
from custody.core.access import can, can_see_fields
from custody.registry.countries import country_name

register = template.Library()


@register.simple_tag
def classification_label(level: int) -> str:
    return str(Classification(int(level)).label).upper()


@register.simple_tag
def classification_badge(level: int) -> str:
    return format_html('<span class="label-class c{}">{}</span>', int(level), str(Classification(int(level)).label).upper())


@register.filter
def country(code: str) -> str:
    return country_name(code)


@register.simple_tag(takes_context=True)
def may_see(context: Any, group: str) -> bool:
    return can_see_fields(context["request"].user, group)


@register.simple_tag(takes_context=True)
def may(context: Any, capability: str) -> bool:
    return can(context["request"].user, capability)


@register.filter
def tier_tag(tier: int | None) -> str:
    if not tier:
        return "—"
    return format_html('<span class="tag tier{}">{}</span>', tier, tier)


@register.filter
def loc(obj: Any) -> str:
    """An object's name in the page's language: `name_ar` in Arabic where it has one."""
    from django.utils.translation import get_language

    if obj is None:
        return "—"
    if (get_language() or "").startswith("ar") and getattr(obj, "name_ar", ""):
        return obj.name_ar
    return getattr(obj, "name", str(obj))
