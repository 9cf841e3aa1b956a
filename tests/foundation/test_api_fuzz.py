"""Schema-driven fuzzing of the whole API (issue 14): Schemathesis generates requests from the OpenAPI
schema, valid and invalid, for every operation, and sends them as a demo user (a custodian's supervisor
with the generated demo data behind it, so detail routes also reach real records). No answer may be a
server error: a bad parameter or body is the caller's mistake, a 400 naming the field.

Bounded: CUSTODY_FUZZ_EXAMPLES examples per operation and mode (default 6), each sent in a savepoint
rolled back afterwards, so the run takes about a minute and examples do not depend on each other.
Every 5xx is collected (operation, request, first lines of the answer) and the test fails listing them
all, not only the first.
"""

from __future__ import annotations

import inspect
import io
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given  # noqa: E402
from hypothesis import settings as hsettings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("CUSTODY_FUZZ_EXAMPLES", "6"))
USER = "irq.supervisor"


class _Rollback(Exception):
    pass


def _real_path_values(client: Any, path: str, names: list[str]) -> dict[str, Any]:
    """Values for a path's parameters taken from the list route above it (`/api/x/{ref}/y/` from the
    first record of `/api/x/`), so that part of the examples reach a record that exists."""
    values: dict[str, Any] = {}
    for name in names:
        marker = "{" + name + "}"
        head = path[: path.index(marker)]
        r = client.get(head, {"limit": 1})
        if r.status_code != 200:
            continue
        data = r.json()
        rows = data.get("results", data) if isinstance(data, dict) else data
        if isinstance(rows, list) and rows and isinstance(rows[0], dict) and name in rows[0]:
            values[name] = rows[0][name]
        elif isinstance(rows, list) and rows and isinstance(rows[0], dict) and name == "pk" and "id" in rows[0]:
            values[name] = rows[0]["id"]
    return values


def _probe(strategy: Any, examples: int, auth: dict[str, str], failures: list[str], sent: list[int]) -> None:
    @hsettings(max_examples=examples, deadline=None, database=None, derandomize=True,
               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def probe(case: Any) -> None:
        try:
            with _no_connection_housekeeping(), transaction.atomic():  # a savepoint: writes undone, answer kept
                response = case.call(headers=auth)
                raise _Rollback(response)
        except _Rollback as done:
            response = done.args[0]
        sent.append(response.status_code)
        if response.status_code >= 500:
            request = response.request
            failures.append(f"{request.method} {request.url} body={str(request.body)[:200]!r} -> "
                            f"{response.status_code} {response.text[:300]!r}")

    probe()


@pytest.mark.django_db
def test_no_operation_answers_with_a_server_error(settings: Any) -> None:
    from django.core.wsgi import get_wsgi_application
    from rest_framework.test import APIClient

    from custody.accounts.api_auth import issue_token
    from custody.accounts.models import User

    settings.CUSTODY_DEMO = True
    call_command("generate", "--seed", "5", "--scale", "small", stdout=io.StringIO(), stderr=io.StringIO())
    user = User.objects.get(username=USER)
    token = issue_token(user, "fuzz")
    auth = {"Authorization": f"Bearer {token}"}
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    _fuzz(get_wsgi_application(), client, auth)


@contextmanager
def _no_connection_housekeeping() -> Iterator[None]:
    """As Django's test client does around each request: the request signals' housekeeping would close
    the connection the test's transaction runs on (PostgreSQL). Per request, because the test client
    used between them connects the handlers again."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz(app: Any, client: Any, auth: dict[str, str]) -> None:
    with _no_connection_housekeeping():
        schema = schemathesis.openapi.from_wsgi("/api/schema/", app)
    failures: dict[str, list[str]] = defaultdict(list)
    sent: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        label = f"{operation.method.upper()} {operation.path}"
        names = [p.name for p in operation.path_parameters]
        real = _real_path_values(client, "/api" + operation.path if not operation.path.startswith("/api") else operation.path, names)
        strategies = [operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)]
        if real and len(real) == len(names):
            strategies.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real))
            strategies.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=real))

        _probe(st.one_of(strategies), EXAMPLES * len(strategies), auth, failures[label], sent)
    by_class = sorted(Counter(f"{code // 100}xx" for code in sent).items())
    print(f"{operations} operations fuzzed, {EXAMPLES} examples per operation and mode: {len(sent)} requests {by_class}")
    assert operations > 100
    failures = {label: v for label, v in failures.items() if v}
    report = "\n".join(f"{label} ({len(v)}x): {v[0]}" for label, v in sorted(failures.items()))
    assert not failures, f"{len(failures)} operations answered with a server error:\n{report}"


# Parameters a view reads without declaring them in the schema are out of Schemathesis's sight; they
# are found in the views' own source and each given values that once produced 500s.
HOSTILE_VALUES = ["abc", "-1", "1.5", "99999999999999999999999", "2024-13-01", "x\x00y", "' OR '1'='1", "9" * 40 + "-01-01"]
_PARAM_VAR = re.compile(r"(\w+)\s*=\s*(?:self\.)?request\.query_params\b")


def read_query_params(cls: type) -> set[str]:
    """Names the viewset's own code reads from request.query_params (directly or through a local)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("custody.") or klass.__module__.startswith("custody.core."):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        local_names = set(_PARAM_VAR.findall(source)) | {"query_params"}
        for var in local_names:
            names |= set(re.findall(rf"\b{var}(?:\.get\(|\[)\s*[\"'](\w+)[\"']", source))
        names |= set(re.findall(r"\b(?:int|date|choice)_param\(\s*request,\s*[\"'](\w+)[\"']", source))
    return names


@pytest.mark.django_db
def test_undeclared_query_parameters_never_cause_a_server_error(settings: Any) -> None:
    from rest_framework.test import APIClient

    from custody.accounts.models import User
    from custody.urls import router

    settings.CUSTODY_DEMO = True
    call_command("generate", "--seed", "5", "--scale", "small", stdout=io.StringIO(), stderr=io.StringIO())
    client = APIClient()
    client.force_authenticate(User.objects.get(username=USER))
    client.raise_request_exception = False  # a 500 is an answer to record, not an exception here
    failures: list[str] = []
    tried = 0
    for pattern in router.urls:
        actions = getattr(pattern.callback, "actions", None) or {}
        if "get" not in actions:
            continue
        names = read_query_params(pattern.callback.cls)
        if not names:
            continue
        path = "/api/" + str(pattern.pattern).strip("^$")
        params = re.findall(r"\(\?P<(\w+)>[^)]*\)", path)
        if params:
            head = path[: path.index("(?P<")]
            real = _real_path_values(client, head + "{" + params[0] + "}/", params[:1])
            if len(params) > 1 or not real:
                continue
            path = re.sub(r"\(\?P<\w+>[^)]*\)", str(real[params[0]]), path)
        for name in sorted(names):
            for value in HOSTILE_VALUES:
                tried += 1
                with transaction.atomic():
                    r = client.get(path, {name: value})
                    transaction.set_rollback(True)
                if r.status_code >= 500:
                    failures.append(f"GET {path}?{name}={value!r} -> {r.status_code}")
                elif r.status_code == 400 and name not in str(r.json()):
                    failures.append(f"GET {path}?{name}={value!r} -> 400 without naming {name}: {r.json()}")
    print(f"{tried} requests with undeclared query parameters")
    assert tried > 50
    assert not failures, f"{len(failures)} answers:\n" + "\n".join(failures)
