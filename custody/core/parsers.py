"""The API's request parsers and text guards. Kept apart from custody.core.api: DRF imports its parser setting while
rest_framework.views is still loading."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser


class ObjectJSONParser(JSONParser):
    """JSON bodies are objects. Every write handler reads named fields (`request.data.get(...)`); a body
    of `true`, `null` or a list reached them and failed with a 500 (issue 14's fuzzing). Refused here,
    once, with a 400, instead of in each handler."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if not isinstance(data, dict):
            # JSON's own type names, as a client's developer reads them in any language.
            kind = {list: "array", bool: "boolean", type(None): "null", str: "string"}.get(type(data), "number")
            raise ParseError(_("The request body must be a JSON object of named fields, not a JSON %(kind)s.") % {"kind": kind})
        check_text(data)
        return data


# ----------------------------------------------------------------------------------- text guards
# PostgreSQL stores no NUL character in text or JSON, and neither database driver encodes a lone
# surrogate: such input reached queries and the audit trail and answered 500 (issue 14's fuzzing on
# PostgreSQL). It is refused at the edge, naming the field, whichever database runs.


def text_problem(value: str) -> str | None:
    if "\x00" in value:
        return _("It contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return _("It is not valid Unicode text.")
    return None


def check_text(data: Any, field: str = "") -> None:
    """Raise a 400 naming the first field (dotted path) whose text, or key, is not storable."""
    if isinstance(data, str):
        problem = text_problem(data)
        if problem:
            raise ValidationError({field or "body": [problem]})
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and text_problem(key):
                raise ValidationError({"body": [text_problem(key)]})
            check_text(value, name)
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            check_text(value, f"{field}.{i}" if field else str(i))


def check_query_dict(data: Any) -> None:
    for key, values in data.lists():
        if text_problem(key):
            raise ValidationError({"query": [text_problem(key)]})
        for value in values:
            if isinstance(value, str):
                check_text(value, key)


class TextGuardMixin:
    """Query parameters and path values with text no database can store are a 400 naming them."""

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        check_query_dict(request.query_params)
        for name, value in kwargs.items():
            if isinstance(value, str):
                check_text(value, name)
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


class GuardedFormParser(FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        check_query_dict(data)
        return data


class GuardedMultiPartParser(MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        check_query_dict(parsed.data)
        return parsed
