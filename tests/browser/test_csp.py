"""Under the Content-Security-Policy (issue 14) the pages still work in a real browser: sign-in, htmx's
search as you type, the script behaviours moved out of the HTML (custody.js), and the API docs (Swagger UI
from drf-spectacular-sidecar). Chromium reports every refused script, style or connection as a console
error; none may appear, and no request may leave this origin."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"


@pytest.fixture
def csp_world(transactional_db: Any, guarded_flush: None, live_server: Any, settings: Any, make_user: Any,
              person_factory: Any, facility_factory: Any) -> dict[str, Any]:
    settings.DEMO_MODE = True
    prison = facility_factory("CSP1", custodian="IRQ", kind="prison", country="IQ")
    person = person_factory("Omar Khalil Alobaidi", "عمر خليل العبيدي", facility=prison)
    return {"url": live_server.url, "user": make_user("IRQ", "clerk"), "person": person}


def _watch(page: Any, origin: str) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    elsewhere: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)

    def request(req: Any) -> None:
        parts = urlsplit(req.url)
        if parts.scheme in {"http", "https"} and f"{parts.scheme}://{parts.netloc}" != origin:
            elsewhere.append(req.url)

    page.on("request", request)
    return errors, elsewhere


def test_pages_htmx_and_api_docs_work_under_the_policy(page: Any, csp_world: dict[str, Any]) -> None:
    base, user, person = csp_world["url"], csp_world["user"], csp_world["person"]
    errors, elsewhere = _watch(page, base)

    response = page.goto(base + "/accounts/login/")
    assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url

    # htmx: typing in the search page's box fetches the results without a page load.
    page.goto(base + "/registry/search/")
    page.fill("#q", "Omar Obaidi")
    page.wait_for_selector(f"#results a:text('{person.ref}')")
    assert "q=Omar" in page.url  # hx-push-url: the htmx request ran, not a form post

    # custody.js, which replaced an inline onclick: the case item's "Add selection" button appends the
    # selected character span to its field (markup as in cases/item_detail.html).
    page.goto(base + f"/registry/people/{person.ref}/")
    page.evaluate("""() => {
        const pre = document.createElement("pre"); pre.id = "item-body"; pre.textContent = "abcdefgh";
        const input = document.createElement("input"); input.id = "spans";
        const button = document.createElement("button"); button.type = "button";
        button.dataset.appendSelection = "spans"; button.textContent = "Add selection";
        document.querySelector("main").append(pre, input, button);
        const range = document.createRange(); range.setStart(pre.firstChild, 2); range.setEnd(pre.firstChild, 5);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    }""")
    page.locator("button[data-append-selection]").click()
    assert page.input_value("#spans") == "2-5"

    # Swagger UI from the package: it renders the operations, fetching the schema from this site only.
    page.goto(base + "/api/docs/")
    page.wait_for_selector(".opblock-summary-path[data-path^='/api/']", timeout=60_000)
    assert "Custody API" in page.locator(".info .title").inner_text()
    assert page.evaluate("typeof SwaggerUIBundle") == "function"

    assert errors == [], "\n".join(errors)
    assert elsewhere == [], elsewhere
