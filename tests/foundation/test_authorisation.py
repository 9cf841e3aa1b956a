"""Authorisation, enumerated: every URL pattern of custody.urls (pages of every app, the DRF router's
API routes, the admin) is requested by anonymous callers, by users of every agency and several roles (the
foundation's routes, each status checked against its rule) and by every demo role of every agency at the
demo's clearance (every list and detail route of every app), with parameters filled from real objects.
For each response the test proves:

- anonymous: pages redirect to the sign-in page, the API answers 401/403 (a short list of public
  endpoints is named below);
- the status is what the role and the record's visibility allow (200 / 403 / 404 / 405);
- the body never names a person the user may not see (releasability, clearance, the partner force's
  custody scope), and never shows a risk rationale or faction to an agency without intelligence (HUM);
- a refused request for an existing person is audited with outcome "denied".

The world also holds what the domain apps keep about those people (tests/foundation/test_reads_on_need.py:
handovers, a transfer plan, case items of every kind, audit rows of several agencies), and the routes that
name such a record are walked with it, so a list or detail route that shows a handover, a plan, an item
or an audit row to someone who may not see its people fails here by name.

URLs added later by other apps are found automatically. A pattern whose parameters the test cannot fill
is reported and at least proven to refuse anonymous callers; one that serves anonymous callers without
being listed in PUBLIC fails the test.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.test import Client
from rest_framework.test import APIClient

from custody.accounts.models import Classification, Role
from custody.core.models import AuditEvent
from tests.foundation.conftest import World
from tests.foundation.test_reads_on_need import DEMO_CLEARANCE, Records, build_records
from tests.foundation.urlwalk import Route, all_routes, fill

# Endpoints that answer anonymous callers, and how. Everything else must refuse them.
PUBLIC: dict[str, set[int]] = {
    "healthz": {200},
    "accounts:login": {200},
    "accounts:otp_setup": {302},  # no pending sign-in: back to the login page
    "accounts:logout": {405},  # POST only
    "set_language": {302, 204},
    "admin:login": {200},  # Django's admin sign-in page (staff only beyond it)
    # drf-spectacular serves the schema and its viewer to anyone by default (SERVE_PERMISSIONS).
    # It exposes the API's shape, no records. Listed so that a change is a decision.
    "api-schema": {200},
    "api-docs": {200},
}

API_ACCEPT = "application/json, text/html;q=0.9, */*;q=0.8"
ROLE_RANK = {"viewer": 0, "clerk": 1, "analyst": 2, "supervisor": 3, "administrator": 4}

# (agency, role, clearance) of the users who walk every URL.
USERS = [
    ("CIO", "viewer", Classification.SECRET),
    ("CIO", "supervisor", Classification.SECRET),
    ("CIO", "administrator", Classification.SECRET),
    ("MIL", "clerk", Classification.SECRET),
    ("MFA", "analyst", Classification.SECRET),
    ("FBI", "clerk", Classification.SECRET),
    ("IRQ", "clerk", Classification.SECRET),
    ("IRQ", "viewer", Classification.RESTRICTED),  # low clearance: no CONFIDENTIAL/SECRET records
    ("SDF", "clerk", Classification.SECRET),
    ("SDF", "supervisor", Classification.SECRET),
    ("HUM", "viewer", Classification.SECRET),
    ("HUM", "supervisor", Classification.SECRET),
]


@dataclass
class Target:
    """One concrete URL of a route, and what it points at."""

    url: str
    kind: str = ""  # "person", "facility", "file" or "" (no record)
    key: str = ""  # world key of the record; "missing" for a record that does not exist


def _record_params(route: Route, records: Records) -> list[dict[str, str]] | None:
    """Parameter values naming the domain apps' records of the world, for the routes that take them."""
    name, params = route.name, set(route.params)
    if "reference" in params and name.startswith(("ledger:handover", "ledger-handover")):
        item = str(records.handover.items.first().pk)
        return [{"reference": h.reference, "item_id": item} for h in (records.handover, records.secret_handover)]
    if "seq" in params and name.startswith("ledger-event"):
        return [{"seq": str(seq)} for seq in records.events.values()]
    if "pk" in params and name.startswith(("planning:scenario", "planning-scenario")):
        return [{"pk": str(records.scenario.pk)}]
    if "pk" in params and name.startswith(("planning:run", "planning-run")):
        if "day" in params:
            return [{"pk": str(records.run.pk), "day": str(d)} for d in records.plan_days]
        return [{"pk": str(records.run.pk)}]
    if "ref" in params and name.startswith(("cases:item_", "cases-item-")) and not params & {"pk", "att_id"}:
        return [{"ref": item.ref} for item, _kind, _key in records.items.values()]
    return None


def _targets(route: Route, world: World, language: str = "", records: Records | None = None) -> Iterator[Target]:
    """Concrete URLs: every world person for a `ref`, every facility for a `code`, both files for a
    `file_id`, the world's handovers, plan, events and case items for the routes naming them; other
    parameters get a placeholder (a route of another app still gets walked)."""
    params = set(route.params)
    first_ref = world.person("sdf_held").ref
    first_code = world.facilities["sdf_prison"].code
    base = {p: "1" for p in params}  # placeholder for parameters of other apps' routes
    base.update({"format": "json", "app_label": "auth", "url": "x", "token": "0" * 32, "ref": first_ref, "code": first_code})
    named = _record_params(route, records) if records is not None else None
    if named is not None:
        for values in named:
            url = fill(route, {**base, **values}, language)
            if url:
                yield Target(url, "record")
        return
    if "file_id" in params:
        for key, f in world.files.items():
            url = fill(route, {**base, "ref": world.person(key).ref, "file_id": str(f.pk)}, language)
            if url:
                yield Target(url, "file", key)
        return
    if "ref" in params:
        for key, spec in world.people.items():
            url = fill(route, {**base, "ref": spec.obj.ref}, language)
            if url:
                yield Target(url, "person", key)
        url = fill(route, {**base, "ref": "P-999999"}, language)
        if url:
            yield Target(url, "person", "missing")
        return
    if "code" in params:
        for key, f in world.facilities.items():
            url = fill(route, {**base, "code": f.code}, language)
            if url:
                yield Target(url, "facility", key)
        return
    url = None
    for placeholder in ("1", "json", "pdf", "x"):
        url = fill(route, {**{p: placeholder for p in params}, **{k: v for k, v in base.items() if k not in params or v != "1"}},
                   language)
        if url:
            break
    if url:
        yield Target(url)
        for extra in EXTRA_QUERIES.get(route.name, []):
            yield Target(url + extra)
        if records is not None and route.name == "core:audit_list":
            # Every agency's audit rows, asked for by name: only an auditor or that agency's supervisor.
            for username in records.audit_users.values():
                yield Target(f"{url}?username={username}")


# Query strings that make list and search endpoints return records (so a leak would show).
EXTRA_QUERIES: dict[str, list[str]] = {
    "registry:search": ["?q=Alnuaimi", "?q=Albayati", "?q=Yasir+Nawaf", "?q=بشار", "?q=Suhaib", "?q=PR-5530-3",
                        "?q=PR-5520-2", "?q=Marwan&facility=TIRQ1"],
    "registry:person_list": ["?facility=TIRQ1", "?facility=TRCV1", "?tier=1", "?nationality=IQ"],
    "registry-person-list": ["?q=Yasir", "?q=Albayati", "?q=صهيب", "?q=PR-5530-3", "?facility=TRCV1", "?nationality=IQ"],
    "core:history_list": ["?table=registry_person"],
    "core:audit_list": ["?action=person_read"],
}


def _client(user: Any, api: bool) -> Any:
    if api:
        c = APIClient()
        c.force_login(user)
        return c
    c = Client()
    c.force_login(user)
    return c


def _expected(route: Route, target: Target, user: Any, world: World) -> set[int] | None:
    """The statuses the rules allow, or None for a route the test has no rule for (generic checks only)."""
    name = route.name
    rank = ROLE_RANK[user.role]
    if name in PUBLIC and name not in {"api-schema", "api-docs"}:
        return PUBLIC[name] | ({200} if name == "accounts:login" else set())
    if name.startswith("admin:") or name.startswith("<unnamed>:admin/"):
        return {302}  # nobody here is staff: every admin page sends them to the admin sign-in
    if name not in RECORD_ROUTES:
        target = Target(target.url)  # another app's route: its parameters mean what that app says
    if target.kind == "person":
        return {200} if target.key != "missing" and world.may_see(user, target.key) else {404}
    if target.kind == "file":
        return {200} if world.may_see(user, target.key) else {404}
    if target.kind == "facility":
        return {200} if world.may_see_facility(user, target.key) else {404}
    rules = {
        "home": {200}, "registry:person_list": {200}, "registry:facility_list": {200}, "registry:search": {200},
        "registry:import_start": {200} if rank >= 1 else {403},
        "registry:batch_list": {200} if rank >= 1 else {403},
        "registry:import_map": {404} if rank >= 1 else {403},  # no such upload
        "registry:batch_undo": {405},  # POST only
        "registry:batch_intake": {405},  # POST only: it writes custody events
        "registry:person_classify": {405},  # POST only: it changes the classification
        "registry-person-classification": {405},  # POST only
        "registry-import-list": {200} if rank >= 1 else {403},  # the caller's agency's imports
        "registry-import-detail": {404} if rank >= 1 else {403},  # no such import in the world
        "core:audit_list": {200} if rank >= 3 else {403},
        "core:history_list": {200} if rank >= 3 else {403},
        "api-root": {200}, "api-schema": {200}, "api-docs": {200},
        "registry-person-list": {200}, "registry-facility-list": {200},
    }
    return rules.get(name)


# Routes whose parameter names a registry record: 200 if the user may see it, else 404 (and audited).
RECORD_ROUTES = {"registry:person_detail", "registry:person_file", "registry:facility_detail",
                 "registry-person-detail", "registry-facility-detail"}


def _forbidden_text(user: Any, world: World, records: Records | None = None) -> list[str]:
    """Strings that must appear in no response to this user: the markers of every person it may not see
    (with the registry reference, which handover, plan and ledger answers name people by), intelligence
    markers for an agency without intelligence, and the markers of the domain records it may not read."""
    bad = []
    for key, spec in world.people.items():
        if not world.may_see(user, key):
            bad += [spec.name, spec.name_ar, spec.rationale, spec.faction, spec.obj.ref]
        elif not user.agency.sees_intelligence:
            bad += [spec.rationale, spec.faction]
    if records is not None:
        bad += records.forbidden_for(user, world)
    return bad


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _known(route: Route) -> bool:
    return route.name in PUBLIC or route.name.startswith(("admin:", "<unnamed>:admin/")) or route.app in {
        "registry", "core", "accounts"} or route.name in {"home", "api-root", "registry-person-list",
                                                          "registry-person-detail", "registry-facility-list",
                                                          "registry-facility-detail"}


def test_every_route_is_enumerated() -> None:
    """The walk sees the foundation's pages, the router's API routes and Arabic prefixes."""
    names = {r.name for r in all_routes()}
    for expected in ["home", "registry:person_detail", "registry:search", "registry:import_map", "core:audit_list",
                     "accounts:login", "registry-person-list", "registry-person-detail", "registry-facility-detail",
                     "api-schema", "api-root"]:
        assert expected in names
    i18n = {r.name for r in all_routes() if r.i18n}
    assert "registry:person_detail" in i18n and "registry-person-list" not in i18n


def test_anonymous_is_refused_everywhere(world: World, settings: Any) -> None:
    settings.DEMO_MODE = False
    unresolved: list[str] = []
    served: list[str] = []
    for route in all_routes():
        urls = [t.url for t in _targets(route, world)]
        if route.i18n:
            urls += [t.url for t in _targets(route, world, "ar")]
        if not urls:
            unresolved.append(route.name)
            continue
        for url in urls:
            c = APIClient() if route.api else Client()
            r = c.get(url)
            if route.name in PUBLIC:
                assert r.status_code in PUBLIC[route.name], (url, r.status_code)
                continue
            if route.api:
                assert r.status_code in {401, 403}, (url, r.status_code)
                continue
            if r.status_code != 302:
                served.append(f"{url} -> {r.status_code}")
                continue
            location = r["Location"]
            assert "/accounts/login/" in location or "/admin/login/" in location, (url, location)
            body = _body(r)
            for spec in world.people.values():
                assert spec.name not in body
    assert not served, f"pages that do not refuse anonymous callers: {served}"
    # Patterns whose parameters the walk cannot fill; fail only if an unknown app added one (so that it
    # gets a parameter rule here).
    unknown_unresolved = [n for n in unresolved if not n.startswith(("admin:", "<unnamed>:admin/"))]
    assert not unknown_unresolved, f"add a parameter rule to _targets for: {unknown_unresolved}"


FOUNDATION_APPS = {"registry", "core", "accounts", "admin", "<unnamed>"}


def _is_foundation(route: Route) -> bool:
    if route.app in FOUNDATION_APPS:
        return True
    if route.api:
        return route.name.startswith("registry-") or route.name in {"api-root", "api-schema", "api-docs"}
    return route.app == ""  # home, healthz, set_language


def _without_echo(body: str, url: str) -> str:
    """What the caller typed comes back in the page (the language switch's return address, a filter or
    search box's value): that names nothing the caller did not already know, and is left out of the check.
    Only the echo itself: a search for a surname must still not find the full name."""
    path, _sep, query = url.partition("?")
    for echoed in (url, html.escape(url), path):
        body = body.replace(echoed, "")
    for _name, value in parse_qsl(query):
        body = body.replace(f'value="{html.escape(value)}"', "")
    return body


def _walk(user: Any, world: World, routes: list[Route], languages: list[str], records: Records | None = None) -> int:
    forbidden = _forbidden_text(user, world, records)
    checked = 0
    for route in routes:
        for language in languages:
            if language and not route.i18n:
                continue
            for target in _targets(route, world, language, records):
                client = _client(user, route.api)
                before = AuditEvent.objects.filter(username=user.username, outcome="denied").count()
                r = client.get(target.url, HTTP_ACCEPT=API_ACCEPT if route.api else "text/html")
                checked += 1
                assert r.status_code < 500, (target.url, r.status_code)
                expected = _expected(route, target, user, world)
                if expected is not None:
                    assert r.status_code in expected, (target.url, r.status_code, expected)
                body = _without_echo(_body(r), target.url)
                leaks = [s for s in forbidden if s and s in body]
                assert not leaks, (target.url, leaks)
                if (route.name in RECORD_ROUTES and target.kind in {"person", "file"} and r.status_code == 404
                        and target.key != "missing"):
                    after = AuditEvent.objects.filter(username=user.username, outcome="denied").count()
                    assert after == before + 1, f"refusal of {target.url} not audited as denied"
    return checked


@pytest.fixture
def records(world: World, agencies: dict[str, Any], make_user: Any, settings: Any, tmp_path: Any) -> Records:
    return build_records(world, agencies, make_user, settings, tmp_path)


@pytest.mark.parametrize(("agency", "role", "clearance"), USERS, ids=[f"{a}-{r}-c{c}" for a, r, c in USERS])
def test_every_foundation_route_for_every_role(world: World, records: Records, make_user: Any, settings: Any, agency: str,
                                              role: str, clearance: int) -> None:
    settings.DEMO_MODE = True
    user = make_user(agency, role, clearance=clearance)
    languages = ["", "ar"] if (agency, role) in {("HUM", "viewer"), ("SDF", "clerk")} else [""]
    # The schema (expensive to generate, no records) is tested once in test_api; the format-suffixed
    # twin of a route (".json") is the same view, walked by the anonymous test.
    routes = [r for r in all_routes() if _is_foundation(r) and r.name not in {"api-schema", "api-docs"}
              and not ("format" in r.params and r.api)]
    unruled = sorted({r.name for r in routes if _expected(r, Target(""), user, world) is None and r.name not in RECORD_ROUTES
                      and r.name not in PUBLIC})
    assert not unruled, f"foundation routes without a rule in _expected: {unruled}"
    assert _walk(user, world, routes, languages, records) > 50


def _list_and_detail_routes() -> list[Route]:
    """Every route a signed-in user can GET, but the OpenAPI schema and its viewer (no records, tested in
    test_api), the format-suffixed twins of API routes (the same views) and Django's admin (staff only)."""
    return [r for r in all_routes() if r.name not in PUBLIC and not r.name.startswith(("admin:", "<unnamed>:admin/"))
            and not ("format" in r.params and r.api)]


@pytest.mark.parametrize("agency", sorted(DEMO_CLEARANCE))
def test_every_list_and_detail_route_for_every_demo_role(world: World, records: Records, make_user: Any, settings: Any,
                                                         agency: str) -> None:
    """Every list and detail route, pages and API, of every app, tried by each demo role of the agency at
    the demo's clearance (custody/synth/load.py) against the world's people and their handovers, plan,
    events, case items and audit rows: no person it may not see, no record of another agency's audit
    trail, no intelligence item for an agency without intelligence, in any answer. The humanitarian
    observer's viewer and the partner force's clerk also walk the Arabic pages. A failure names the URL,
    and so the app that owns it."""
    settings.DEMO_MODE = True
    routes = _list_and_detail_routes()
    for role in Role.values:
        user = make_user(agency, role, clearance=DEMO_CLEARANCE[agency])
        languages = ["", "ar"] if (agency, role) in {("HUM", "viewer"), ("SDF", "clerk")} else [""]
        assert _walk(user, world, routes, languages, records) > 200


def test_refused_record_is_404_and_audited_denied(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    """A record outside the user's releasability: the page and the API answer 404 (as for an absent
    record, so nothing leaks) and the audit trail keeps the refusal with the request id."""
    cio = make_user("CIO", "analyst")
    ref = world.person("fbi_only").ref
    r = client_for(cio).get(f"/registry/people/{ref}/")
    assert r.status_code == 404
    event = AuditEvent.objects.filter(username=cio.username, outcome="denied", object_id=ref).get()
    assert event.request_id == r["X-Request-ID"] and event.agency == "CIO"
    r = api_for(cio).get(f"/api/registry/people/{ref}/", HTTP_X_REQUEST_ID="req-denied-0001")
    assert r.status_code == 404
    assert AuditEvent.objects.filter(username=cio.username, outcome="denied", object_id=ref, request_id="req-denied-0001").exists()
    # Absent record: 404 too, nothing to audit as denied.
    assert client_for(cio).get("/registry/people/P-999999/").status_code == 404
    assert not AuditEvent.objects.filter(object_id="P-999999", outcome="denied").exists()
    # Released to FBI, originated by MIL: both see it.
    for code in ("FBI", "MIL"):
        assert client_for(make_user(code, "viewer")).get(f"/registry/people/{ref}/").status_code == 200


def test_field_groups_html_and_json(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    """HUM never gets risk_rationale or faction: omitted from the JSON (not blanked) and the page."""
    spec = world.people["sdf_held"]
    hum, cio = make_user("HUM", "supervisor"), make_user("CIO", "viewer")
    data = api_for(hum).get(f"/api/registry/people/{spec.obj.ref}/").json()
    assert "risk_rationale" not in data and "faction" not in data
    assert data["risk_tier"] == 1 and data["display_name"] == spec.name
    listing = api_for(hum).get("/api/registry/people/").json()["results"]
    assert listing and all("risk_rationale" not in p and "faction" not in p for p in listing)
    searched = api_for(hum).get("/api/registry/people/", {"q": "Qutaiba"}).json()["results"]
    assert [p["ref"] for p in searched] == [spec.obj.ref] and "risk_rationale" not in searched[0]
    page = client_for(hum).get(f"/registry/people/{spec.obj.ref}/").content.decode()
    assert spec.name in page and spec.rationale not in page and spec.faction not in page
    data = api_for(cio).get(f"/api/registry/people/{spec.obj.ref}/").json()
    assert data["risk_rationale"] == spec.rationale and data["faction"] == spec.faction
    page = client_for(cio).get(f"/registry/people/{spec.obj.ref}/").content.decode()
    assert spec.rationale in page and spec.faction in page


def test_partner_force_sees_only_people_it_holds_or_held(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    sdf = make_user("SDF", "analyst")
    refs = {p["ref"] for p in api_for(sdf).get("/api/registry/people/").json()["results"]}
    assert refs == {world.person("sdf_held").ref, world.person("moved").ref}
    page = client_for(sdf).get("/registry/people/").content.decode()
    assert world.people["moved"].name in page and world.people["irq_only"].name not in page
    # The home page's headline numbers count only what the partner force may see.
    home = client_for(sdf).get("/")
    assert home.context["total_held"] == 2
    facilities = {f["code"] for f in api_for(sdf).get("/api/registry/facilities/").json()["results"]}
    assert facilities == {"TSDF1", "TRCV1"}
    # A person handed over by SDF and later moved stays visible; one never held by SDF never is.
    assert client_for(sdf).get(f"/registry/people/{world.person('irq_only').ref}/").status_code == 404
    world.person("irq_only").custodians_ever.add(world.person("irq_only").current_custodian)  # still IRQ only
    assert client_for(sdf).get(f"/registry/people/{world.person('irq_only').ref}/").status_code == 404


def test_clearance_hides_higher_classification(world: World, make_user: Any, client_for: Any) -> None:
    low = make_user("IRQ", "analyst", clearance=Classification.RESTRICTED)
    high = make_user("IRQ", "analyst", clearance=Classification.SECRET)
    ref = world.person("secret").ref
    assert client_for(low).get(f"/registry/people/{ref}/").status_code == 404
    assert client_for(high).get(f"/registry/people/{ref}/").status_code == 200
    page = client_for(high).get(f"/registry/people/{ref}/").content.decode()
    assert re.search(r'class="banner c3"', page), "the banner shows the record's classification"


def test_write_api_needs_role_and_visibility(world: World, make_user: Any, api_for: Any) -> None:
    viewer, sdf_clerk = make_user("CIO", "viewer"), make_user("SDF", "clerk")
    r = api_for(viewer).post("/api/registry/people/", {"display_name": "Nobody"}, format="json")
    assert r.status_code == 403
    ref = world.person("irq_only").ref
    r = api_for(sdf_clerk).patch(f"/api/registry/people/{ref}/", {"place_of_birth": "Mosul"}, format="json")
    assert r.status_code == 404
    world.person("irq_only").refresh_from_db()
    assert world.person("irq_only").place_of_birth == ""
    hum_clerk = make_user("HUM", "clerk")
    ref = world.person("sdf_held").ref
    r = api_for(hum_clerk).patch(f"/api/registry/people/{ref}/", {"risk_rationale": "overwritten", "place_of_birth": "Raqqa"}, format="json")
    assert r.status_code == 200 and "risk_rationale" not in r.json()
    world.person("sdf_held").refresh_from_db()
    assert world.person("sdf_held").risk_rationale == world.people["sdf_held"].rationale
    assert world.person("sdf_held").place_of_birth == "Raqqa"
