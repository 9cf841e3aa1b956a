from __future__ import annotations

import contextvars
import uuid

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("custody_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id(incoming: str | None = None) -> contextvars.Token:
    rid = incoming if incoming and len(incoming) <= 36 and incoming.replace("-", "").isalnum() else str(uuid.uuid4())
    return _request_id.set(rid)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)
