"""Retried API requests never duplicate: a POST with an `Idempotency-Key` header is answered once and
the same answer replayed for every retry (same user, same key).

It is global, not per handler: `custody.core.api.CustodyRouter` mixes `IdempotentDispatchMixin` into
every viewset it registers, so an endpoint added later is covered without anyone remembering a
decorator (issue 14 found the header ignored on ledger events, roll calls and case items, which had
none). The work and the record of its answer commit in one transaction: a retry either finds the
answer or finds nothing done.
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from custody.core.models import IdempotentRequest

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 100


class _Replay(APIException):
    """Raised from `initial` (after authentication) to answer with the stored response."""

    def __init__(self, previous: IdempotentRequest) -> None:
        super().__init__()
        self.previous = previous


class _Race(Exception):
    """A concurrent request with the same key committed first: undo ours, replay theirs."""


def replay(previous: IdempotentRequest) -> Response:
    return Response(previous.body, status=previous.status, headers={"Idempotent-Replay": "true"})


class IdempotentDispatchMixin:
    """For every POST carrying an Idempotency-Key: replay the stored answer if this user already used
    the key on this path, refuse (409) a key reused on another path, and otherwise run the handler and
    store its successful answer in the same transaction."""

    _idempotency_key = ""

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER, "").strip() if request.method == "POST" else ""
        if not key:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        self._idempotency_key = key
        try:
            with transaction.atomic():
                response = super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
                self._remember(response)
        except _Race:
            previous = IdempotentRequest.objects.get(user=self.request.user, key=key)  # type: ignore[attr-defined]
            response = self.finalize_response(self.request, replay(previous), *args, **kwargs)  # type: ignore[attr-defined]
        return response

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        key = self._idempotency_key
        if not key or not request.user.is_authenticated:
            return
        if len(key) > MAX_KEY_LENGTH:
            raise ValidationError({HEADER: [_("The idempotency key is longer than %(n)d characters.") % {"n": MAX_KEY_LENGTH}]})
        previous = IdempotentRequest.objects.filter(user=request.user, key=key).first()
        if previous is not None:
            raise _Replay(previous)

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, _Replay):
            previous = exc.previous
            if previous.path != self.request.path:  # type: ignore[attr-defined]
                return Response({HEADER: [_("The key %(key)s was already used for %(path)s; a new request needs a new key.")
                                          % {"key": previous.key, "path": previous.path}]}, status=409)
            return replay(previous)
        return super().handle_exception(exc)  # type: ignore[misc]

    def _remember(self, response: Any) -> None:
        request = self.request  # type: ignore[attr-defined]
        if not (200 <= response.status_code < 300) or response.get("Idempotent-Replay") or not request.user.is_authenticated:
            return
        if not isinstance(response, Response):
            return  # a file or redirect answer: nothing a JSON replay could repeat
        # Stored as the client received it (dates, decimals and lazy strings rendered), so a replay is
        # byte for byte the same JSON.
        body = json.loads(JSONRenderer().render(response.data) or b"null")
        try:
            with transaction.atomic():
                IdempotentRequest.objects.create(user=request.user, key=self._idempotency_key, path=request.path,
                                                 status=response.status_code, body=body)
        except IntegrityError as exc:
            raise _Race from exc


def with_idempotency(viewset: type) -> type:
    """`viewset` with IdempotentDispatchMixin first in its bases (same name, module and docstring, so
    the schema and the browsable API do not change)."""
    if issubclass(viewset, IdempotentDispatchMixin):
        return viewset
    return type(viewset.__name__, (IdempotentDispatchMixin, viewset), {
        "__module__": viewset.__module__, "__qualname__": viewset.__qualname__, "__doc__": viewset.__doc__})
