"""The API's page cap and its query-parameter readers. Kept apart from custody.core.api because DRF
imports the pagination class while it is still importing its own viewsets."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

# ------------------------------------------------------------------------------- query parameters
# A bad query parameter is the caller's mistake: 400 naming the parameter, never a 500 from int() or
# from the database (schema-driven fuzzing found 14 such parameters, issue 14).

MAX_SQL_INT = 2**31 - 1  # the smallest integer column either database has; beyond it PostgreSQL raises


def int_param(request: Any, name: str, *, default: int | None = None, minimum: int | None = None,
              maximum: int = MAX_SQL_INT) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw.strip())
    except (TypeError, ValueError):
        raise ValidationError({name: [_("“%(value)s” is not a whole number.") % {"value": raw[:40]}]}) from None
    if minimum is not None and value < minimum:
        raise ValidationError({name: [_("Must be at least %(n)d.") % {"n": minimum}]})
    if value > maximum:
        raise ValidationError({name: [_("Must be at most %(n)d.") % {"n": maximum}]})
    return value


def date_param(request: Any, name: str, *, default: dt.date | None = None) -> dt.date | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = parse_date(raw.strip())
    except ValueError:
        value = None
    if value is None:
        raise ValidationError({name: [_("“%(value)s” is not a date: write YYYY-MM-DD.") % {"value": raw[:40]}]})
    return value


def choice_param(request: Any, name: str, choices: Any, *, default: str | None = None) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    allowed = [str(c) for c in choices]
    if raw not in allowed:
        raise ValidationError({name: [_("“%(value)s” is not one of: %(allowed)s.") % {"value": raw[:40], "allowed": ", ".join(allowed)}]})
    return raw


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """Pages of at most API_MAX_PAGE_SIZE records (`?limit=100000` once returned every person in one
    answer); a larger limit is cut to the cap, and the answer's `next` link leads on. A limit or offset
    that is not a whole number, or is negative, is refused with 400 naming it."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return int(getattr(settings, "API_MAX_PAGE_SIZE", 200))

    def get_limit(self, request: Any) -> int:
        limit = int_param(request, self.limit_query_param, default=self.default_limit, minimum=1)
        return min(limit or self.max_limit, self.max_limit)

    def get_offset(self, request: Any) -> int:
        return int_param(request, self.offset_query_param, default=0, minimum=0) or 0



def parse_day(value: Any) -> dt.date | None:
    """A YYYY-MM-DD date, or None for anything else. Django's parse_date raises ValueError for a
    well-formed impossible date ("2024-13-01"), which reached the API as a 500 wherever it was called
    bare; callers turn None into their own 400 naming the field."""
    try:
        return parse_date(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def body_number(data: Any, name: str, default: float | int, *, kind: type = int, minimum: float | None = None,
                maximum: float = MAX_SQL_INT) -> Any:
    """A number from a request body (JSON or form), or `default` when absent; anything that is not a
    number of that kind within bounds is a 400 naming the field."""
    raw = data.get(name) if hasattr(data, "get") else None
    if raw is None or raw == "":
        return default
    try:
        if isinstance(raw, bool) or (kind is int and isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = kind(raw)
        if value != value or value in (float("inf"), float("-inf")):  # NaN, infinities
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise ValidationError({name: [_("“%(value)s” is not a whole number.") % {"value": str(raw)[:40]} if kind is int
                                      else _("“%(value)s” is not a number.") % {"value": str(raw)[:40]}]}) from None
    if minimum is not None and value < minimum:
        raise ValidationError({name: [_("Must be at least %(n)d.") % {"n": minimum}]})
    if value > maximum:
        raise ValidationError({name: [_("Must be at most %(n)d.") % {"n": maximum}]})
    return value
