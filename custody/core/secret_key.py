"""Where Django's SECRET_KEY comes from (issue 14). Imported by settings.py, so no Django imports.

- CUSTODY_SECRET_KEY, when set: every real deployment.
- The demo (CUSTODY_DEMO=1) and a developer's CUSTODY_DEBUG=1: a key made on first start and kept,
  readable by its owner only, under the var directory, so sessions survive a restart and no two demos
  share a key.
- The test suite (pytest, and the processes its tests start): one fixed key, so that a server a test
  starts reads the sessions the test wrote.
- Anything else (a management command on a machine without the variable: migrate, compilemessages in a
  fresh checkout, a benchmark): a random key for this process only. Such a process cannot serve:
  custody/wsgi.py (what gunicorn and `custody runserver` load) calls refuse_to_serve_without_key().
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

MIN_LENGTH = 50  # Django's own check (security.W009) asks for 50 characters, 5 of them different
KEPT_NAME = "secret-key"
TEST_KEY = "custody-test-suite-only-" + "x" * 40

# Values of settings.SECRET_KEY_SOURCE.
ENVIRONMENT, KEPT, TESTS, EPHEMERAL = "environment", "kept", "tests", "ephemeral"

MISSING = (
    "CUSTODY_SECRET_KEY is not set. Outside the demo (CUSTODY_DEMO=1) Custody does not serve without it: "
    "sessions and CSRF tokens would be signed with a key that changes on every start, or one anyone could "
    "read. Make one with `python3 -c 'import secrets; print(secrets.token_urlsafe(50))'`, keep it with the "
    "deployment's other secrets, and set CUSTODY_SECRET_KEY in the environment of the web server and the "
    "worker (docs/security.md, 'Sign-in and headers')."
)


class SecretKeyError(Exception):
    """A key that is set but too weak; settings.py turns it into ImproperlyConfigured."""


def running_tests() -> bool:
    # pytest in this process, or a process started by a test (pytest names the running test in the
    # environment, which child processes inherit).
    return "pytest" in sys.modules or "PYTEST_CURRENT_TEST" in os.environ


def kept_key(var_dir: Path) -> str:
    """The key kept under var_dir, made on first use. Two processes starting at once (gunicorn workers,
    the worker) agree: the file is linked into place, which never replaces a key another one kept."""
    path = var_dir / KEPT_NAME
    try:
        key = path.read_text().strip()
        if key:
            return key
    except FileNotFoundError:
        pass
    tmp = var_dir / f".{KEPT_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(MIN_LENGTH) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_text().strip()


def resolve(configured: str, *, demo: bool, var_dir: Path) -> tuple[str, str]:
    """(key, source) for this process."""
    if configured:
        if len(configured) < MIN_LENGTH or len(set(configured)) < 5:
            raise SecretKeyError(f"CUSTODY_SECRET_KEY is {len(configured)} characters long; use at least {MIN_LENGTH} "
                                 "random ones (python3 -c 'import secrets; print(secrets.token_urlsafe(50))').")
        return configured, ENVIRONMENT
    if running_tests():
        return TEST_KEY, TESTS
    if demo:
        return kept_key(var_dir), KEPT
    return secrets.token_urlsafe(MIN_LENGTH), EPHEMERAL


def refuse_to_serve_without_key() -> None:
    """Raise ImproperlyConfigured if this process's key is a throw-away one: the web server stops at start."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    if settings.SECRET_KEY_SOURCE == EPHEMERAL:
        raise ImproperlyConfigured(MISSING)
