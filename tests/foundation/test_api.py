"""The API: a schema for every app without errors or warnings, and idempotent person creation."""

from __future__ import annotations

import contextlib
import functools
import io
import uuid
from typing import Any

import pytest

from custody.core.models import IdempotentRequest
from custody.registry.models import Person


@functools.cache
def _schema() -> tuple[dict[str, Any], list[str]]:
    """The whole API's schema, generated once, with every warning and error drf-spectacular emitted."""
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    GENERATOR_STATS.reset()
    GENERATOR_STATS.enable_color = False
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        schema = SchemaGenerator().get_schema(request=None, public=True)
        validate_schema(schema)  # raises on a schema that breaks the OpenAPI 3 JSON Schema
    return schema, [line for line in err.getvalue().splitlines() if line.strip()]


def _apps_with_api() -> list[str]:
    from importlib.util import find_spec

    from custody.core.domains import DOMAIN_APPS

    return [app for app in DOMAIN_APPS if find_spec(f"custody.{app}.api")]


@pytest.mark.parametrize("app", _apps_with_api())
def test_openapi_schema_has_no_errors_or_warnings_for_app(app: str) -> None:
    """One test per app with an API, so a warning names its owner."""
    schema, messages = _schema()
    mine = [m for m in messages if f"custody/{app}/" in m or f"/api/{app}/" in m or f"{app}_" in m.split("operationId")[-1][:60]]
    assert not mine, "\n".join(mine)
    assert any(path.startswith(f"/api/{app}/") for path in schema["paths"]), f"no /api/{app}/ paths in the schema"


def test_openapi_schema_has_no_global_warnings() -> None:
    """Warnings that name no app (enum name collisions across apps: ENUM_NAME_OVERRIDES in settings)."""
    schema, messages = _schema()
    apps = _apps_with_api()
    orphans = [m for m in messages if not any(f"custody/{a}/" in m or f"/api/{a}/" in m for a in apps)]
    assert not orphans, "\n".join(orphans)
    assert "/api/registry/people/{ref}/" in schema["paths"]


def test_schema_served(make_user: Any, api_for: Any) -> None:
    r = api_for(make_user("CIO", "viewer")).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200 and "/api/registry/people/" in r.json()["paths"]


def test_idempotency_key_retry_returns_the_same_person(make_user: Any, api_for: Any) -> None:
    user = make_user("IRQ", "clerk")
    api = api_for(user)
    key = str(uuid.uuid4())
    body = {"display_name": "Faisal Nouri Alsamarrai", "display_name_ar": "فيصل نوري السامرائي", "sex": "M",
            "nationality_codes": ["IQ"], "birth_precision": "year", "birth_year_min": 1991, "birth_year_max": 1991}
    first = api.post("/api/registry/people/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert first.status_code == 201, first.content
    again = api.post("/api/registry/people/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert again.status_code == 201 and again["Idempotent-Replay"] == "true"
    assert again.json()["ref"] == first.json()["ref"]
    assert Person.objects.filter(display_name="Faisal Nouri Alsamarrai").count() == 1
    assert IdempotentRequest.objects.filter(user=user, key=key).count() == 1
    person = Person.objects.get(ref=first.json()["ref"])
    assert person.originating_agency.code == "IRQ" and [n.country for n in person.nationalities.all()] == ["IQ"]
    assert set(person.names.values_list("script", "full")) == {("latn", "Faisal Nouri Alsamarrai"), ("arab", "فيصل نوري السامرائي")}
    # The new person is found by the search box at once.
    found = api.get("/api/registry/people/", {"q": "السامرائي"}).json()["results"]
    assert [p["ref"] for p in found] == [person.ref]
    # Without a key, a second POST is a second person; another user's same key is theirs alone.
    assert api.post("/api/registry/people/", body, format="json").status_code == 201
    other = api_for(make_user("IRQ", "clerk")).post("/api/registry/people/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)
    assert other.status_code == 201 and other.json()["ref"] != first.json()["ref"]
    assert Person.objects.filter(display_name="Faisal Nouri Alsamarrai").count() == 3


def test_invalid_person_is_refused_naming_the_field(make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("IRQ", "clerk"))
    r = api.post("/api/registry/people/", {"display_name": "X", "nationality_codes": ["Iraq"]}, format="json")
    assert r.status_code == 400 and "nationality_codes" in r.json()
    r = api.post("/api/registry/people/", {"display_name": "X", "birth_year_min": 1990, "birth_year_max": 1980}, format="json")
    assert r.status_code == 400 and "birth_year_min" in r.json()
    r = api.post("/api/registry/people/", {"sex": "M"}, format="json")
    assert r.status_code == 400 and "display_name" in r.json()
    assert Person.objects.count() == 0


def test_patch_replaces_names_and_nationalities(make_user: Any, api_for: Any, person_factory: Any) -> None:
    person = person_factory("Old Spelling", "")
    api = api_for(make_user("IRQ", "clerk"))
    r = api.patch(f"/api/registry/people/{person.ref}/", {"names": [{"script": "latn", "full": "Walid Hamdan"},
                                                                    {"script": "arab", "full": "وليد حمدان", "is_alias": True}],
                                                          "nationality_codes": ["sy", "JO"]}, format="json")
    assert r.status_code == 200, r.content
    assert sorted(n["full"] for n in r.json()["names"]) == ["Walid Hamdan", "وليد حمدان"]
    assert sorted(r.json()["nationalities"]) == ["JO", "SY"]
    found = api.get("/api/registry/people/", {"q": "وليد"}).json()["results"]
    assert [p["ref"] for p in found] == [person.ref], "names changed through the API are searchable"
    assert api.get("/api/registry/people/", {"q": "Spelling"}).json()["results"] == []


def test_person_created_with_an_arabic_name_only(make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("IRQ", "clerk"))
    r = api.post("/api/registry/people/", {"display_name": "زياد طارق"}, format="json")
    assert r.status_code == 201
    assert r.json()["names"] == [{**r.json()["names"][0], "script": "arab", "full": "زياد طارق"}]


def test_an_oversized_request_is_refused_before_anything_reads_it(settings: Any, client_for: Any, make_user: Any,
                                                                   api_for: Any) -> None:
    settings.MAX_REQUEST_BYTES = 1000
    clerk = make_user("IRQ", "clerk")
    big = {"notes": "x" * 2000}
    r = client_for(clerk).post("/ledger/record/", big)
    assert r.status_code == 413 and "the limit is" in r.content.decode()
    assert api_for(clerk).post("/api/ledger/events/", big, format="json").status_code == 413
    assert client_for(clerk).post("/ledger/record/", {"notes": "small"}).status_code != 413
