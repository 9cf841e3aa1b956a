from __future__ import annotations

import contextvars
import uuid

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("custody_request_id", default=None)
# The client address of the request being served, so that an action's audit row names it without
# every door passing the request down.
_client_ip: contextvars.ContextVar[str | None] = contextvars.ContextVar("custody_client_ip", default=None)


def current_client_ip() -> str | None:
    return _client_ip.get()


def set_client_ip(ip: str | None) -> contextvars.Token:
    return _client_ip.set(ip or None)


def reset_client_ip(token: contextvars.Token) -> None:
    _client_ip.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


def new_request_id(incoming: str | None = None) -> contextvars.Token:
    rid = incoming if incoming and len(incoming) <= 36 and incoming.replace("-", "").isalnum() else str(uuid.uuid4())
    return _request_id.set(rid)


def reset_request_id(token: contextvars.Token) -> None:
    _request_id.reset(token)
