"""Every page of the top bar, for a user who may open all of them, on the seeded demo population, in
English and in Arabic: it answers, runs without a script error, lays out right-to-left in Arabic
without a horizontal scroll bar, and leaves a screenshot in test-artifacts/pages/ for people to look at.

The list of pages comes from the apps' own nav.py, so a page added later is walked without a change.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"


@pytest.fixture
def demo(transactional_db: Any, guarded_flush: None, live_server: Any, settings: Any) -> dict[str, Any]:
    from django.core.management import call_command

    from custody.accounts.models import User
    from custody.registry.models import Facility, Person

    settings.DEMO_MODE = True  # demo logins, no second factor: the population of scripts/start.sh
    call_command("generate", "--scale", "small", "--seed", "7", "-v", "0")
    person = Person.objects.filter(current_facility__isnull=False).order_by("ref").first()
    facility = Facility.objects.filter(kind="receiving").order_by("code").first() or Facility.objects.first()
    return {"url": live_server.url, "user": User.objects.get(username="irq.supervisor"), "person": person,
            "facility": facility}


# The innermost elements that reach past either edge of the window: what makes a page scroll sideways.
OVERFLOWING = """() => {
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if ((r.right > window.innerWidth + 1 || r.left < -1) && r.width > 0
        && ![...el.children].some(c => { const q = c.getBoundingClientRect();
                                          return q.right > window.innerWidth + 1 || q.left < -1; })) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className ? "." + el.className : ""}`
               + ` [${Math.round(r.left)}, ${Math.round(r.right)}]`);
    }
  }
  return out.slice(0, 8);
}"""


def pages_for(demo: dict[str, Any]) -> list[tuple[str, str]]:
    from django.utils import translation

    from custody.core.context import nav_items

    translation.activate("en")
    found = [("home", "/"), ("person", f"/registry/people/{demo['person'].ref}/"),
             ("facility", f"/registry/facilities/{demo['facility'].code}/")]
    for group in nav_items(demo["user"]):
        for item in group["items"]:
            found.append((item["url"].strip("/").replace("/", "-") or "home", item["url"]))
    return found


def test_every_top_bar_page_in_both_languages(page: Any, demo: dict[str, Any]) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None)
    base = demo["url"]
    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", demo["user"].username)
    page.fill("input[name=password]", "custody-demo-2026")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url

    untranslated: list[str] = []
    pages = pages_for(demo)
    assert len(pages) >= 15, pages  # every domain's pages are in the bar for this user
    for name, path in pages:
        for lang in ("en", "ar"):
            url = base + (f"/ar{path}" if lang == "ar" else path)
            response = page.goto(url)
            assert response is not None and response.status == 200, f"{url}: {response and response.status}"
            page.wait_for_load_state("networkidle")
            html = page.locator("html")
            assert html.get_attribute("lang") == lang, url
            assert html.get_attribute("dir") == ("rtl" if lang == "ar" else "ltr"), url
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), \
                f"{url} scrolls sideways: {page.evaluate(OVERFLOWING)}"
            page.screenshot(path=str(SHOTS / f"{name}-{lang}.png"), full_page=True)
            # A raw stored value (in_custody, not_checked) on screen is a label nobody translated.
            raw = set(re.findall(r"\b[a-z]+(?:_[a-z]+)+\b", page.locator("main").inner_text()))
            if raw:
                untranslated.append(f"{url} shows stored values instead of labels: {sorted(raw)}")
    assert errors == [], "\n".join(errors)
    assert untranslated == [], "\n".join(untranslated)
