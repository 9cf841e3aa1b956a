"""The one search box: Arabic script, Latin spellings of the same name, numbers, facility; restricted."""

from __future__ import annotations

from typing import Any

import pytest

from custody.registry.models import Identifier
from tests.foundation.conftest import World


@pytest.fixture
def named(person_factory: Any, facility_factory: Any, agencies: dict[str, Any]) -> dict[str, Any]:
    f1 = facility_factory("SRCH1", custodian="IRQ")
    f2 = facility_factory("SRCH2", custodian="IRQ")
    people = {
        "muhammad": person_factory("Muhammad Abdulrahman Aljubouri", "مُحَمَّد عبد الرحمن الجبوري", facility=f1),
        "ahmad": person_factory("Ahmad Yusuf Alrawi", "أحمد يوسف الراوي", facility=f2),
        "ali": person_factory("Ali Hussein Alzubaidi", "علي حسين الزبيدي", facility=f2),
    }
    Identifier.objects.create(person=people["ahmad"], kind="passport", country="IQ", value="A 1234-5678")
    return {"f1": f1, "f2": f2, **people}


def _refs(client: Any, **params: str) -> list[str]:
    r = client.get("/registry/search/", params)
    assert r.status_code == 200
    return [p.ref for p in r.context["result"].people]


@pytest.mark.parametrize("query", [
    "محمد",             # Arabic without diacritics finds the name stored with them
    "مُحَمَّد الجبوري",   # with diacritics
    "Mohamed",          # Latin spellings of the same name meet through the cross-script skeleton
    "Muhammad",
    "Mohammed al-Jubouri",
    "MOHAMAD",
    "Abdulrahman",
    "Abd al-Rahman",
])
def test_name_in_either_script_and_any_spelling(named: dict[str, Any], make_user: Any, client_for: Any, query: str) -> None:
    refs = _refs(client_for(make_user("CIO", "viewer")), q=query)
    assert named["muhammad"].ref in refs and named["ali"].ref not in refs


@pytest.mark.parametrize("query", ["احمد", "أحمد", "Ahmed", "Ahmad Alrawi", "الراوى"])
def test_arabic_normalisation_and_latin_folding(named: dict[str, Any], make_user: Any, client_for: Any, query: str) -> None:
    refs = _refs(client_for(make_user("CIO", "viewer")), q=query)
    assert refs[:1] == [named["ahmad"].ref]


def test_by_number_reference_and_facility(named: dict[str, Any], make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("IRQ", "viewer"))
    for q in ["A 1234-5678", "a12345678", "A1234 5678"]:
        r = c.get("/registry/search/", {"q": q})
        assert [p.ref for p in r.context["result"].people] == [named["ahmad"].ref] and r.context["result"].by_identifier
    assert _refs(c, q=named["ali"].ref) == [named["ali"].ref]
    assert set(_refs(c, q="Hussein", facility="SRCH2")) == {named["ali"].ref}
    assert _refs(c, q="Hussein", facility="SRCH1") == []
    assert _refs(c, q="zzzzqqq") == []


def test_search_respects_access(world: World, make_user: Any, client_for: Any, api_for: Any) -> None:
    """Nobody finds a person they may not see, by name or by number, on the page or through the API."""
    cases = [
        ("SDF", "Marwan Talal", "irq_only"), ("SDF", "PR-5520-2", "irq_only"),
        ("CIO", "Yasir Nawaf", "fbi_only"), ("CIO", "ياسر نواف", "fbi_only"), ("HUM", "PR-5530-3", "fbi_only"),
    ]
    for agency, q, key in cases:
        user = make_user(agency, "analyst")
        assert world.person(key).ref not in _refs(client_for(user), q=q), (agency, q)
        data = api_for(user).get("/api/registry/people/", {"q": q}).json()
        assert data["count"] == 0 and data["results"] == [], (agency, q)
    fbi = make_user("FBI", "viewer")
    assert _refs(client_for(fbi), q="Yasir Nawaf") == [world.person("fbi_only").ref]
    sdf = make_user("SDF", "viewer")
    assert _refs(client_for(sdf), q="Suhaib") == [world.person("moved").ref]
    # The facility filter cannot reveal a facility the partner force may not see.
    assert _refs(client_for(sdf), q="Marwan", facility="TIRQ1") == []


def test_search_box_htmx_partial(named: dict[str, Any], make_user: Any, client_for: Any) -> None:
    r = client_for(make_user("MIL", "viewer")).get("/registry/search/", {"q": "Ali"}, HTTP_HX_REQUEST="true")
    html = r.content.decode()
    assert r.status_code == 200 and "<html" not in html and named["ali"].ref in html
