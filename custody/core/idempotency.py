"""Retried API requests never duplicate: a POST with an `Idempotency-Key` header is answered once and
the same answer replayed for every retry (same user, same key)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from rest_framework.response import Response

from custody.core.models import IdempotentRequest


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    @wraps(handler)
    def wrapper(self: Any, request: Any, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return handler(self, request, *args, **kwargs)
        if len(key) > 100:
            return Response({"detail": "Idempotency-Key is longer than 100 characters."}, status=400)
        previous = IdempotentRequest.objects.filter(user=request.user, key=key).first()
        if previous is not None:
            if previous.path != request.path:
                return Response({"detail": f"Idempotency-Key {key!r} was already used for {previous.path}."}, status=409)
            return Response(previous.body, status=previous.status, headers={"Idempotent-Replay": "true"})
        try:
            with transaction.atomic():
                response = handler(self, request, *args, **kwargs)
                if 200 <= response.status_code < 300:
                    IdempotentRequest.objects.create(user=request.user, key=key, path=request.path, status=response.status_code, body=response.data)
                return response
        except IntegrityError:
            # A concurrent retry won the race; its answer is the answer.
            previous = IdempotentRequest.objects.get(user=request.user, key=key)
            return Response(previous.body, status=previous.status, headers={"Idempotent-Replay": "true"})

    return wrapper
