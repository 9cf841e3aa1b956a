"""The API's request parsers. Kept apart from custody.core.api: DRF imports its parser setting while
rest_framework.views is still loading."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


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
        return data
