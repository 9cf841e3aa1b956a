"""Sign-in hardening (issue 14): the lockout holds against parallel guesses on a real server and a real
database, an unknown user gets the same answer at the same cost as a wrong password, tokens and sessions
stop while their user is locked or disabled, and a server outside the demo refuses to start without a
secret key."""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from custody.accounts.api_auth import issue_token
from custody.accounts.models import User
from custody.core.models import AuditEvent

PASSWORD = "a-long-test-password"
WRONG = "wrong-password-123"
ROOT = Path(__file__).resolve().parents[2]


def _login(client: Client, username: str, password: str, otp: str = "") -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password, "otp_token": otp})


def _lock(username: str, limit: int) -> None:
    for _ in range(limit):
        _login(Client(), username, WRONG)


# --- the same answer ------------------------------------------------------------------------------

# The two places a page carries its CSRF token: the sign-in form and htmx's request header.
CSRF_IN_BODY = re.compile(rb'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[A-Za-z0-9]+')
# Headers that differ on every answer by design: the request's own id and the CSRF cookie's value.
PER_REQUEST_HEADERS = {"x-request-id", "set-cookie"}


def _answer(response: Any) -> tuple[int, dict[str, str], bytes]:
    headers = {k.lower(): v for k, v in response.items() if k.lower() not in PER_REQUEST_HEADERS}
    cookies = sorted(response.cookies)  # which cookies are set is part of the answer; their values are not
    headers["cookies"] = ",".join(cookies)
    return response.status_code, headers, CSRF_IN_BODY.sub(rb"\1CSRF", response.content)


def test_unknown_user_wrong_password_locked_and_disabled_get_one_answer(make_user: Any, settings: Any) -> None:
    """Whether an account exists, is locked or is disabled must not show in the answer: otherwise six
    wrong passwords tell an attacker which usernames are real."""
    settings.DEMO_MODE = True
    known = make_user("IRQ", "clerk")
    locked = make_user("IRQ", "clerk")
    disabled = make_user("IRQ", "clerk", is_active=False)
    _lock(locked.username, settings.LOCKOUT_FAILURES)
    locked.refresh_from_db()
    assert locked.locked_until is not None
    answers = {
        "unknown user": _answer(_login(Client(), "nobody.at.all", WRONG)),
        "wrong password": _answer(_login(Client(), known.username, WRONG)),
        "locked, right password": _answer(_login(Client(), locked.username, PASSWORD)),
        "locked, wrong password": _answer(_login(Client(), locked.username, WRONG)),
        "disabled, right password": _answer(_login(Client(), disabled.username, PASSWORD)),
    }
    reference = answers["wrong password"]
    assert reference[0] == 200 and b"Wrong username or password" in reference[2]
    for case, answer in answers.items():
        assert answer[0] == reference[0], case
        assert answer[1] == reference[1], case
        assert answer[2] == reference[2], f"{case}: the page differs from a wrong password's"
    # The audit trail still tells the operators what happened.
    assert AuditEvent.objects.filter(action="sign_in", outcome="denied", username=locked.username,
                                     detail__reason="locked").count() == 2


def test_the_same_answer_in_arabic(make_user: Any, settings: Any) -> None:
    settings.DEMO_MODE = True
    known = make_user("IRQ", "clerk")
    locked = make_user("IRQ", "clerk")
    _lock(locked.username, settings.LOCKOUT_FAILURES)
    bodies = {_answer(Client().post("/ar/accounts/login/", {"username": u, "password": p}))[2]
              for u, p in (("nobody.at.all", WRONG), (known.username, WRONG), (locked.username, PASSWORD))}
    assert len(bodies) == 1
    body = bodies.pop().decode()
    assert "Wrong username" not in body and "كلمة المرور" in body


class CountingHasher(MD5PasswordHasher):
    """A real (fast) hasher that counts how many passwords it hashes; every verify hashes once."""

    algorithm = "counted_md5"
    hashed: ClassVar[int] = 0

    def encode(self, password: str, salt: str) -> str:
        type(self).hashed += 1
        return super().encode(password, salt)


def test_every_refusal_costs_one_password_hash(make_user: Any, settings: Any) -> None:
    """An unknown user, a locked account and a disabled one cost the server the same password hash as a
    wrong password, so the time of the answer does not tell them apart either."""
    settings.DEMO_MODE = True
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    known = make_user("IRQ", "clerk")
    locked = make_user("IRQ", "clerk")
    disabled = make_user("IRQ", "clerk", is_active=False)
    assert known.password.startswith("counted_md5$")
    _lock(locked.username, settings.LOCKOUT_FAILURES)
    _login(Client(), "warm.up", WRONG)  # the dummy hash is made once per process and hasher
    cases = {"wrong password": (known.username, WRONG), "unknown user": ("nobody.at.all", WRONG),
             "locked, right password": (locked.username, PASSWORD), "disabled": (disabled.username, PASSWORD),
             "right password": (known.username, PASSWORD)}
    cost = {}
    for case, (username, password) in cases.items():
        CountingHasher.hashed = 0
        _login(Client(), username, password)
        cost[case] = CountingHasher.hashed
    assert cost == dict.fromkeys(cases, 1)


@pytest.mark.slow
def test_unknown_and_locked_take_as_long_as_a_wrong_password(make_user: Any, settings: Any) -> None:
    """Measured with the production hasher (argon2), interleaved so that the machine's load falls on
    every case alike."""
    settings.DEMO_MODE = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    known = make_user("IRQ", "clerk")
    locked = make_user("IRQ", "clerk")
    _lock(locked.username, settings.LOCKOUT_FAILURES)
    cases = {"wrong password": (known.username, WRONG), "unknown user": ("nobody.at.all", WRONG),
             "locked": (locked.username, PASSWORD)}
    _login(Client(), "warm.up", WRONG)
    seconds: dict[str, list[float]] = {case: [] for case in cases}
    for _ in range(7):
        for case, (username, password) in cases.items():
            c = Client()
            start = time.perf_counter()
            _login(c, username, password)
            seconds[case].append(time.perf_counter() - start)
    median = {case: statistics.median(s) for case, s in seconds.items()}
    print("sign-in answer, median of 7 (argon2):", {case: f"{m * 1000:.0f} ms" for case, m in median.items()})
    base = median["wrong password"]
    for m in median.values():
        assert 0.5 * base < m < 2 * base, median


# --- tokens and sessions of a locked or disabled account -------------------------------------------

def test_a_token_is_refused_while_its_user_is_locked_or_disabled(make_user: Any, settings: Any) -> None:
    settings.DEMO_MODE = True
    user = make_user("IRQ", "clerk")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user, 'roster script')}")
    assert api.get("/api/registry/people/").status_code == 200

    _lock(user.username, settings.LOCKOUT_FAILURES)
    # 403 rather than 401: DRF answers with the first authentication class's scheme, the session's.
    r = api.get("/api/registry/people/")
    assert r.status_code in {401, 403} and "locked" in r.json()["detail"]
    assert AuditEvent.objects.filter(action="api_token_refused", username=user.username, outcome="denied",
                                     detail__reason="locked").exists()
    # A write is refused the same way, before it is looked at.
    assert api.post("/api/registry/people/", {}, format="json").status_code in {401, 403}

    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/registry/people/").status_code == 200  # the lock has run out

    User.objects.filter(pk=user.pk).update(is_active=False)
    r = api.get("/api/registry/people/")
    assert r.status_code in {401, 403} and "disabled" in r.json()["detail"]
    assert AuditEvent.objects.filter(action="api_token_refused", username=user.username,
                                     detail__reason="disabled").exists()


def test_the_token_refusals_have_their_arabic() -> None:
    """The API answers in English (its URLs carry no language); the catalogue still holds every message,
    as the project's rule asks."""
    from django.utils import translation
    from django.utils.translation import gettext

    messages = ["This account is disabled; its API tokens are refused.",
                "This account is locked after repeated failed sign-ins; its API tokens are refused until the lock ends.",
                "Unknown or revoked token.", "The Authorization header must be 'Bearer <token>'."]
    with translation.override("ar"):
        arabic = {m: gettext(m) for m in messages}
    assert all(a != m and re.search("[\u0600-\u06ff]", a) for m, a in arabic.items()), arabic


def test_a_session_ends_at_its_next_request_once_the_account_is_locked(make_user: Any, settings: Any) -> None:
    settings.DEMO_MODE = True
    user = make_user("FBI", "analyst")
    page, api = Client(), Client()
    for c in (page, api):
        assert _login(c, user.username, PASSWORD).status_code == 302
    assert page.get("/registry/people/").status_code == 200
    assert api.get("/api/registry/people/").status_code == 200

    _lock(user.username, settings.LOCKOUT_FAILURES)  # someone else is guessing the password
    r = page.get("/registry/people/")
    assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    assert page.get("/").status_code == 302  # signed out, not only refused once
    assert api.get("/api/registry/people/").status_code in {401, 403}
    ended = AuditEvent.objects.filter(action="session_expired", username=user.username, detail__reason="locked")
    assert ended.count() == 2
    assert ended.filter(request_id=r["X-Request-ID"]).exists()


# --- parallel guesses against the real server -------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server_process(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """gunicorn as scripts/start.sh runs it (processes and threads) on a migrated database of its own,
    SQLite file or PostgreSQL, with the production password hasher (argon2): the window between the
    lockout's check and its count is as wide as it is in production."""
    url = os.environ.get("DATABASE_URL", "")
    created = None
    if url.startswith("postgres"):
        import psycopg

        created = f"signin_live_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        live_url = f"postgres://postgres@127.0.0.1:5432/{created}"
    else:
        live_url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if k != "CUSTODY_FAST_HASHER"}
    env.update(DATABASE_URL=live_url, CUSTODY_VAR_DIR=str(tmp_path / "var"), CUSTODY_DEMO="1", PYTHONPATH=str(ROOT))
    subprocess.run([sys.executable, "-m", "custody", "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    subprocess.run([sys.executable, "-m", "custody", "shell", "-c",
                    "from custody.accounts.models import Agency, User; "
                    "a = Agency.objects.create(code='IRQ', name='Iraqi custodial authority', is_custodian=True); "
                    f"User.objects.create_user(username='irq.clerk', password='{PASSWORD}', agency=a, role='clerk')"],
                   env=env, cwd=ROOT, check=True)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "custody.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "--threads", "4", "--timeout", "120"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              start_new_session=True)
    try:
        for _ in range(600):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not come up")
        yield {"port": port, "env": env}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        if created:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


class FormClient:
    """One browser: its own connection, CSRF cookie and form token, as a guessing script would use."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.conn.request("GET", "/accounts/login/")
        r = self.conn.getresponse()
        body = r.read().decode()
        self.cookie = re.search(r"csrftoken=([A-Za-z0-9]+)", r.getheader("Set-Cookie") or "").group(1)  # type: ignore[union-attr]
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)  # type: ignore[union-attr]

    def sign_in(self, username: str, password: str) -> int:
        form = urllib.parse.urlencode({"csrfmiddlewaretoken": self.token, "username": username,
                                       "password": password, "otp_token": ""})
        self.conn.request("POST", "/accounts/login/", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={self.cookie}"})
        r = self.conn.getresponse()
        r.read()
        return r.status


@pytest.mark.slow
def test_parallel_wrong_passwords_stop_at_the_limit(live_server_process: dict[str, Any], settings: Any) -> None:
    """Twenty guesses released at the same instant against two worker processes of four threads each:
    exactly LOCKOUT_FAILURES of them are tried against the password, every other one is refused as
    locked, the account is locked once, and the right password is refused afterwards."""
    port, env = live_server_process["port"], live_server_process["env"]
    guesses = 20
    clients = [FormClient(port) for _ in range(guesses)]
    start = threading.Barrier(guesses)
    statuses: list[int] = []

    def guess(i: int) -> None:
        start.wait()
        statuses.append(clients[i].sign_in("irq.clerk", f"guess-number-{i:02d}"))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * guesses  # every guess answered, none signed in
    assert FormClient(port).sign_in("irq.clerk", PASSWORD) == 200, "the right password got in while locked"

    out = subprocess.run([sys.executable, "-m", "custody", "shell", "-c",
                          "import json; from custody.core.models import AuditEvent as A; "
                          "from custody.accounts.models import User; u = User.objects.get(username='irq.clerk'); "
                          "q = A.objects.filter(username='irq.clerk'); print(json.dumps({"
                          "'tried': q.filter(action='sign_in', outcome='failed').count(), "
                          "'refused_locked': q.filter(action='sign_in', outcome='denied', detail__reason='locked').count(), "
                          "'locks': q.filter(action='account_locked').count(), 'ok': q.filter(action='sign_in', outcome='ok').count(), "
                          "'locked': bool(u.locked_until)}))"],
                         env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen == {"tried": settings.LOCKOUT_FAILURES, "refused_locked": guesses - settings.LOCKOUT_FAILURES + 1,
                    "locks": 1, "ok": 0, "locked": True}


# --- the secret key ------------------------------------------------------------------------------------

def _start_app(env_extra: dict[str, str], tmp_path: Path, code: str = "from custody.wsgi import application") -> Any:
    """A fresh process outside the test run (no pytest in its environment), loading the WSGI application
    as gunicorn does."""
    drop = {"CUSTODY_SECRET_KEY", "CUSTODY_DEMO", "CUSTODY_DEBUG", "PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(CUSTODY_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="custody.settings", PYTHONPATH=str(ROOT))
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=False)


PRINT_KEY = "from custody.wsgi import application; from django.conf import settings; print(settings.SECRET_KEY)"


def test_the_server_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    r = _start_app({}, tmp_path)
    assert r.returncode != 0
    assert "ImproperlyConfigured" in r.stderr and "CUSTODY_SECRET_KEY" in r.stderr, r.stderr[-2000:]
    # Given a key, it starts and uses it.
    key = secrets.token_urlsafe(50)
    r = _start_app({"CUSTODY_SECRET_KEY": key}, tmp_path, PRINT_KEY)
    assert r.returncode == 0 and r.stdout.strip() == key, r.stderr[-2000:]


def test_a_short_secret_key_is_refused(tmp_path: Path) -> None:
    r = _start_app({"CUSTODY_SECRET_KEY": "changeme"}, tmp_path)
    assert r.returncode != 0 and "CUSTODY_SECRET_KEY" in r.stderr and "50" in r.stderr


def test_the_demo_makes_its_own_key_once_and_keeps_it(tmp_path: Path) -> None:
    first = _start_app({"CUSTODY_DEMO": "1"}, tmp_path, PRINT_KEY)
    assert first.returncode == 0, first.stderr[-2000:]
    kept = tmp_path / "var" / "secret-key"
    assert kept.read_text().strip() == first.stdout.strip()
    assert len(first.stdout.strip()) >= 50 and "insecure" not in first.stdout
    assert kept.stat().st_mode & 0o777 == 0o600
    again = _start_app({"CUSTODY_DEMO": "1"}, tmp_path, PRINT_KEY)
    assert again.stdout.strip() == first.stdout.strip()  # sessions survive a restart of the demo
    other = _start_app({"CUSTODY_DEMO": "1"}, tmp_path / "elsewhere", PRINT_KEY)
    assert other.stdout.strip() != first.stdout.strip()  # no two demos share a key


def test_commands_run_without_a_key_but_never_with_a_fixed_one(tmp_path: Path) -> None:
    """The CLI (migrate, compilemessages in a fresh checkout) signs nothing that outlives it; it gets a
    random key of its own instead of a string anyone can read in the source."""
    code = "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)"
    keys = {_start_app({}, tmp_path, code).stdout.strip() for _ in range(2)}
    assert len(keys) == 2 and all(len(k) >= 50 for k in keys)
    source = (ROOT / "custody" / "settings.py").read_text()
    assert not any(k in source for k in keys)
