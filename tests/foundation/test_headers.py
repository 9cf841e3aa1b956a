"""Security headers and the API docs (issue 14): every answer, page or API, carries a Content-Security-Policy
that allows this origin only, and the usual headers; cookies are HttpOnly and SameSite, and Secure with
HSTS when served over TLS; no page carries inline script; the API docs load nothing from a CDN."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.test import Client
from rest_framework.test import APIClient

from custody.accounts.api_auth import issue_token

ROOT = Path(__file__).resolve().parents[2]


def _csp(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in policy.split(";")) if d}


def _assert_headers(response: Any, what: str) -> None:
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"], what
    assert csp["script-src"] == ["'self'"], f"{what}: scripts from this origin only, none inline, no eval"
    assert csp["style-src"] == ["'self'"], f"{what}: no <style> elements, no stylesheets from elsewhere"
    for directive in ("img-src", "font-src", "connect-src"):
        assert set(csp[directive]) <= {"'self'", "data:"}, (what, directive)
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert not any("http" in v or "*" in v for values in csp.values() for v in values), csp
    assert response["X-Content-Type-Options"] == "nosniff", what
    assert response["Referrer-Policy"] == "same-origin", what
    assert response["X-Frame-Options"] == "DENY", what
    assert response["Cross-Origin-Opener-Policy"] == "same-origin", what
    permissions = dict(p.strip().split("=") for p in response["Permissions-Policy"].split(","))
    assert {permissions[f] for f in ("camera", "microphone", "geolocation", "usb", "payment")} == {"()"}, what
    assert "no-store" in response["Cache-Control"], f"{what}: pages about people stay out of the disk cache"
    assert "Strict-Transport-Security" not in response, f"{what}: no HSTS over plain HTTP"


def test_headers_on_pages_api_answers_and_errors(make_user: Any, client_for: Any, person_factory: Any) -> None:
    user = make_user("IRQ", "clerk")
    person = person_factory(held_by="IRQ")
    page = client_for(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user, 'headers')}")
    answers = {
        "sign-in page": Client().get("/accounts/login/"),
        "home": page.get("/"),
        "a person (Arabic)": page.get(f"/ar/registry/people/{person.ref}/"),
        "API list": api.get("/api/registry/people/"),
        "API record": api.get(f"/api/registry/people/{person.ref}/"),
        "API refusal": APIClient().get("/api/registry/people/"),
        "not found": page.get("/registry/people/P-999999/"),
        "API docs": Client().get("/api/docs/"),
    }
    for what, response in answers.items():
        assert response.status_code in {200, 401, 403, 404}, what
        _assert_headers(response, what)
    assert answers["API list"].status_code == 200 and answers["API refusal"].status_code in {401, 403}


def test_cookies_are_httponly_and_samesite(make_user: Any, settings: Any) -> None:
    settings.DEMO_MODE = True
    user = make_user("IRQ", "clerk")
    c = Client()
    login_page = c.get("/accounts/login/")
    csrf = login_page.cookies[settings.CSRF_COOKIE_NAME]
    r = c.post("/accounts/login/", {"username": user.username, "password": "a-long-test-password"})
    assert r.status_code == 302
    session = r.cookies[settings.SESSION_COOKIE_NAME]
    for name, cookie in (("session", session), ("csrf", csrf)):
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name
        assert not cookie["secure"], f"{name}: Secure only when served over TLS"


TLS_PROBE = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
from django.db import connection
setup_test_environment()
connection.creation.create_test_db(verbosity=0)
from custody.accounts.models import Agency, User
a = Agency.objects.create(code="IRQ", name="IRQ")
User.objects.create_user(username="irq.clerk", password="a-long-test-password", agency=a, role="clerk")
c = Client()
out = {}
plain = c.get("/accounts/login/")
out["plain"] = [plain.status_code, plain.get("Location", "")]
out["healthz"] = Client().get("/healthz").status_code
page = c.get("/accounts/login/", secure=True)
out["hsts"] = page.get("Strict-Transport-Security", "")
out["csp"] = page["Content-Security-Policy"]
r = c.post("/accounts/login/", {"username": "irq.clerk", "password": "a-long-test-password"}, secure=True)
out["signed_in"] = r.status_code
out["cookies"] = {name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"],
                         "path": m["path"], "domain": m["domain"]} for name, m in c.cookies.items()}
api = c.get("/api/registry/people/", secure=True)
out["api"] = [api.status_code, api.get("Strict-Transport-Security", "")]
print(json.dumps(out))
"""


def test_behind_tls_hsts_secure_cookies_and_redirect(tmp_path: Path) -> None:
    """CUSTODY_TLS=1 is read when the settings load, so it is tried in a process of its own."""
    env = {**os.environ, "CUSTODY_TLS": "1", "CUSTODY_DEMO": "1", "CUSTODY_VAR_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "custody.settings", "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)  # a throw-away SQLite test database of its own
    out = subprocess.run([sys.executable, "-c", TLS_PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["plain"] == [301, "https://testserver/accounts/login/"]
    assert seen["healthz"] == 200  # a load balancer's plain-HTTP probe is not redirected
    assert seen["hsts"] == "max-age=31536000; includeSubDomains"
    assert seen["api"] == [200, "max-age=31536000; includeSubDomains"]
    assert "upgrade-insecure-requests" in seen["csp"]
    assert seen["signed_in"] == 302
    assert set(seen["cookies"]) == {"__Host-sessionid", "__Host-csrftoken"}
    for name, flags in seen["cookies"].items():
        # __Host-: Secure, path /, no Domain, so no other host (a sibling subdomain) can set or read it.
        assert flags == {"secure": True, "httponly": True, "samesite": "Lax", "path": "/", "domain": ""}, name


# --- no inline script or style in what the pages serve ----------------------------------------------------

# Templates rendered only into PDFs by weasyprint (never sent to a browser) may keep their <style>.
PDF_ONLY = {"planning/manifest_pdf.html", "cases/prosecution_file_pdf.html", "repatriation/export_pdf.html",
            "coordination/sitrep_print.html"}
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<style\b", re.I), "<style> element"),
    (re.compile(r"""\son[a-z]+\s*=\s*["']""", re.I), "event-handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"\bhx-on", re.I), "hx-on (evaluated script)"),
    (re.compile(r"""hx-vals\s*=\s*["']\s*js:""", re.I), "hx-vals js: (evaluated script)"),
]


# Template comments are never sent to the browser.
TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}", re.S)


def test_no_template_carries_inline_script_or_style() -> None:
    found = []
    for path in sorted((ROOT / "custody").rglob("templates/**/*.html")):
        name = str(path).split("/templates/", 1)[1]
        if name in PDF_ONLY:
            continue
        text = TEMPLATE_COMMENT.sub(lambda m: "\n" * m.group().count("\n"), path.read_text(encoding="utf-8"))
        for pattern, what in INLINE:
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(ROOT)}:{line}: {what}")
    assert found == [], "the Content-Security-Policy refuses these:\n" + "\n".join(found)


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_api_docs_load_nothing_from_another_origin(db: Any, settings: Any) -> None:
    c = Client()
    page = c.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert not [m for pattern, _ in INLINE for m in pattern.findall(html)], "inline script or style on the API docs"
    refs = _references(html)
    assert not [r for r in refs if urlsplit(r).scheme or r.startswith("//")], refs
    assert "cdn" not in html.lower() and "@latest" not in html
    # Every asset the page names is served here, from the pinned sidecar package.
    sidecar = [r for r in refs if "/static/drf_spectacular_sidecar/swagger-ui-dist/" in r]
    assert {Path(urlsplit(r).path).name for r in sidecar} >= {"swagger-ui.css", "swagger-ui-bundle.js",
                                                              "swagger-ui-standalone-preset.js"}, refs
    scripts = re.findall(r"""<script[^>]*\bsrc=["']([^"']+)["']""", html)
    for ref in refs:
        r = c.get(ref)
        body = b"".join(r.streaming_content) if r.streaming else r.content
        assert r.status_code == 200 and body, ref
        if ref in scripts and "?script" in ref:
            # The start-up script drf-spectacular would inline: served as a file, naming only this site.
            text = body.decode()
            assert "SwaggerUIBundle(" in text and r["Content-Type"].startswith("application/javascript")
            assert not re.findall(r"https?://", text), "the start-up script names another site"
    assert any("?script" in s for s in scripts)


def test_the_sidecar_is_a_declared_dependency() -> None:
    """The assets are pinned by the installed package's version, and the package is installed on a fresh
    machine because pyproject.toml names it (scripts/python-env.sh installs the project with pip)."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'"drf-spectacular-sidecar[>=<~ 0-9.,]*"', pyproject)
    from importlib.metadata import version

    assert version("drf-spectacular-sidecar")
