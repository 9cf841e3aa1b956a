"""Camps and families through HTTP, the API and the CLI, on a real database."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from custody.camps.models import ControlChange, Movement
from custody.core.models import AuditEvent
from custody.registry.models import Facility, FamilyLink, Household, Person

TODAY = timezone.localdate()


@pytest.fixture
def camp_world(facility_factory: Any, person_factory: Any) -> dict[str, Any]:
    """A camp with two households: a detainee's wife and children, and a family with an unaccompanied boy."""
    camp = facility_factory("HOL", kind="camp", custodian="SDF", name="Al-Hol camp", latitude=36.37, longitude=41.15)
    prison = facility_factory("HAS", kind="prison", custodian="SDF")
    detainee = person_factory("Ahmed Mohammed Al-Jubouri", "أحمد محمد الجبوري", facility=prison, sex="M",
                              birth_precision="year", birth_year_min=1985)
    h1 = Household.objects.create(camp=camp, ref="H-1", sector="Phase 1", tent="T-10")
    wife = person_factory("Fatima Khalil Al-Obeidi", "فاطمة خليل العبيدي", group="resident", household=h1, sex="F",
                          birth_precision="year", birth_year_min=1988)
    h1.head = wife
    h1.save()
    # the son's nasab names his father: Omar Ahmed Mohammed Al-Jubouri; birth known to the year only
    son = person_factory("Omar Ahmed Mohammed Al-Jubouri", "عمر أحمد محمد الجبوري", group="resident", household=h1, sex="M",
                         birth_precision="year", birth_year_min=TODAY.year - 15, is_minor=True)
    # the daughter has no recorded link: only her name leads to her father
    daughter = person_factory("Aisha Ahmed Al-Jabouri", "عائشة أحمد الجبوري", group="resident", household=h1, sex="F",
                              birth_precision="exact", birth_date=_years_ago(18, plus_days=30), is_minor=True)
    FamilyLink.objects.create(person=son, relative=detainee, relation="father", source="camp register")
    FamilyLink.objects.create(person=detainee, relative=wife, relation="wife", source="intake interview")
    h2 = Household.objects.create(camp=camp, ref="H-2", sector="Phase 2", tent="T-3")
    aunt = person_factory("Khadija Salim Al-Tunisi", "خديجة سالم التونسي", group="resident", household=h2, sex="F",
                          birth_precision="range", birth_year_min=1970, birth_year_max=1975, nationality="TN")
    h2.head = aunt
    h2.save()
    boy = person_factory("Yusuf Karim Al-Tunisi", "يوسف كريم التونسي", group="resident", household=h2, sex="M",
                         birth_precision="range", birth_year_min=TODAY.year - 15, birth_year_max=TODAY.year - 14, is_minor=True, nationality="TN")
    return {"camp": camp, "prison": prison, "detainee": detainee, "wife": wife, "son": son, "daughter": daughter,
            "aunt": aunt, "boy": boy, "h1": h1, "h2": h2}


def _years_ago(years: int, plus_days: int = 0) -> date:
    d = TODAY + timedelta(days=plus_days)
    try:
        return d.replace(year=d.year - years)
    except ValueError:
        return d.replace(year=d.year - years, day=28)


def _audited(action: str, outcome: str = "ok") -> int:
    return AuditEvent.objects.filter(action=action, outcome=outcome).count()


def test_household_page_shows_members_both_scripts_and_links_from_both_sides(camp_world: Any, make_user: Any, client_for: Any) -> None:
    user = make_user("CIO", "viewer")
    c = client_for(user)
    page = c.get("/camps/HOL/households/H-1/").content.decode()
    assert "Omar Ahmed Mohammed Al-Jubouri" in page and "عمر أحمد محمد الجبوري" in page
    # the son's link (stored on the son) reads "Father" beside the detainee; the detainee's link to his wife
    # (stored on the detainee) reads "Husband" on the wife's card
    assert "Father" in page and "Husband" in page and "Ahmed Mohammed Al-Jubouri" in page
    assert _audited("household_read") == 1 and _audited("household_members") == 1
    camp_page = c.get("/camps/HOL/").content.decode()
    assert "Phase 1" in camp_page and "T-10" in camp_page
    assert _audited("camp_read") == 1


def test_camp_section_on_the_facility_page(camp_world: Any, make_user: Any, client_for: Any) -> None:
    page = client_for(make_user("MFA", "viewer")).get("/registry/facilities/HOL/").content.decode()
    assert "Residents present: <b>5</b>" in page and "/camps/HOL/" in page


def test_household_api_lists_members_with_family(camp_world: Any, make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("MFA", "viewer"))
    data = api.get("/api/camps/households/", {"camp": "HOL"}).json()
    h1 = next(h for h in data["results"] if h["ref"] == "H-1")
    wife = next(m for m in h1["members"] if m["ref"] == camp_world["wife"].ref)
    assert {"ref": camp_world["detainee"].ref, "relation": "husband", "group": "detainee", "conflict": None} in wife["family"]
    assert {n["script"] for n in wife["names"]} == {"latn", "arab"}
    assert wife["nationalities"] == ["IQ"]


def test_household_without_head_is_refused(camp_world: Any, make_user: Any, api_for: Any, person_factory: Any) -> None:
    api = api_for(make_user("HUM", "clerk"))
    p = person_factory("Maryam Ali", "مريم علي")
    r = api.post("/api/camps/households/", {"camp": "HOL", "ref": "H-9", "member_refs": [p.ref]}, format="json")
    assert r.status_code == 400
    assert "H-9 has no head" in r.json()["detail"]
    assert not Household.objects.filter(ref="H-9").exists()
    r = api.post("/api/camps/households/", {"camp": "HOL", "ref": "H-9", "head": p.ref, "sector": "Annex", "tent": "A-1"}, format="json")
    assert r.status_code == 201, r.content
    p.refresh_from_db()
    assert p.group == "resident" and p.household.ref == "H-9"


def test_child_older_than_parent_is_refused(camp_world: Any, make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("HUM", "clerk"))
    # the aunt (born 1970-75) recorded as the daughter of the boy (born ~15 years ago)
    r = api.post("/api/camps/family-links/", {"person": camp_world["aunt"].ref, "relative": camp_world["boy"].ref, "relation": "father"}, format="json")
    assert r.status_code == 409  # well formed and allowed, but it breaks a rule
    body = r.json()
    assert body["rule"] == "child_older_than_parent" and "older than the parent" in body["detail"]
    assert camp_world["aunt"].ref in body["detail"]
    r = api.post("/api/camps/family-links/", {"person": camp_world["boy"].ref, "relative": camp_world["aunt"].ref, "relation": "other"}, format="json")
    assert r.status_code == 201


def test_departure_population_and_bad_departures(camp_world: Any, make_user: Any, client_for: Any) -> None:
    clerk = make_user("MIL", "clerk")
    c = client_for(clerk)
    camp = camp_world["camp"]
    assert "Residents present" in c.get("/camps/HOL/").content.decode()
    yesterday = TODAY - timedelta(days=1)
    r = c.post("/camps/HOL/record/", {"what": "departure", "person": camp_world["aunt"].ref, "occurred_on": yesterday.isoformat(),
                                      "reason": "repatriated", "destination": "Tunisia"}, follow=True)
    assert "Departure of" in r.content.decode()
    assert Movement.objects.filter(person=camp_world["aunt"], kind="departure", reason="repatriated").count() == 1
    # the same person again: no longer in the camp
    r = c.post("/camps/HOL/record/", {"what": "departure", "person": camp_world["aunt"].ref, "occurred_on": TODAY.isoformat(),
                                      "reason": "released"}, follow=True)
    assert f"{camp_world['aunt'].ref} is not in camp HOL" in r.content.decode()
    # a detainee is not a camp resident
    r = c.post("/camps/HOL/record/", {"what": "departure", "person": camp_world["detainee"].ref, "occurred_on": TODAY.isoformat(),
                                      "reason": "released"}, follow=True)
    assert "is not in camp HOL" in r.content.decode()
    # a future date
    r = c.post("/camps/HOL/record/", {"what": "departure", "person": camp_world["boy"].ref, "occurred_on": (TODAY + timedelta(days=3)).isoformat(),
                                      "reason": "released"}, follow=True)
    assert "is in the future" in r.content.decode()
    assert Movement.objects.count() == 1
    assert _audited("camps.departure") == 1 and _audited("camps.departure", "failed") == 3
    # population over time: 5 before yesterday, 4 from yesterday on
    from custody.camps import services

    series = services.population_series(Person.objects.all(), camp, TODAY - timedelta(days=3), TODAY)
    assert [n for _d, n in series] == [5, 5, 4, 4]


def test_viewer_cannot_record(camp_world: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("SDF", "viewer"))
    r = c.post("/camps/HOL/record/", {"what": "departure", "person": camp_world["aunt"].ref, "occurred_on": TODAY.isoformat(),
                                      "reason": "released"}, follow=True)
    assert r.status_code == 403
    assert not Movement.objects.exists()
    assert _audited("camps.departure", "denied") == 1


def test_arrival_through_api(camp_world: Any, make_user: Any, api_for: Any, person_factory: Any) -> None:
    api = api_for(make_user("MIL", "clerk"))
    newcomer = person_factory("Zainab Hassan", "زينب حسن", group="resident", sex="F")
    r = api.post("/api/camps/movements/", {"kind": "arrival", "person": newcomer.ref, "camp": "HOL", "household": "H-2",
                                           "occurred_on": TODAY.isoformat()}, format="json")
    assert r.status_code == 201, r.content
    r = api.post("/api/camps/movements/", {"kind": "arrival", "person": newcomer.ref, "camp": "HOL", "household": "H-2",
                                           "occurred_on": TODAY.isoformat()}, format="json")
    assert r.status_code == 409 and "already in camp HOL" in r.json()["detail"]


def test_control_change_is_recorded_for_the_whole_camp(camp_world: Any, make_user: Any, api_for: Any) -> None:
    # Only the agency controlling the camp hands it over, on a supervisor's word.
    for outsider in (make_user("MIL", "supervisor"), make_user("SDF", "clerk")):
        r = api_for(outsider).post("/api/camps/control-changes/", {"camp": "HOL", "to_custodian": "IRQ", "occurred_on": TODAY.isoformat()},
                                   format="json")
        assert r.status_code == 403 and r.json()["rule"] == "camp_controller", r.content
    assert _audited("camps.control_change", "denied") == 2
    api = api_for(make_user("SDF", "supervisor"))
    r = api.post("/api/camps/control-changes/", {"camp": "HOL", "to_custodian": "IRQ", "occurred_on": TODAY.isoformat(),
                                                 "note": "handed over"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["from_custodian"] == "SDF" and body["to_custodian"] == "IRQ" and body["residents_at_change"] == 5
    assert Facility.objects.get(code="HOL").custodian.code == "IRQ"
    r = api.post("/api/camps/control-changes/", {"camp": "HOL", "to_custodian": "IRQ", "occurred_on": TODAY.isoformat()}, format="json")
    # Now under IRQ: the partner force no longer even sees the camp (custody scope), let alone hands it over.
    assert r.status_code == 404
    irq = api_for(make_user("IRQ", "supervisor"))
    r = irq.post("/api/camps/control-changes/", {"camp": "HOL", "to_custodian": "IRQ", "occurred_on": TODAY.isoformat()}, format="json")
    assert r.status_code == 409 and "already under IRQ" in r.json()["detail"]
    r = irq.post("/api/camps/control-changes/", {"camp": "HOL", "to_custodian": "HUM", "occurred_on": TODAY.isoformat()}, format="json")
    assert r.status_code == 409 and "cannot hold people in custody" in r.json()["detail"]
    assert ControlChange.objects.count() == 1


def test_census_and_unaccounted(camp_world: Any, make_user: Any, api_for: Any, client_for: Any) -> None:
    user = make_user("HUM", "clerk")
    api = api_for(user)
    w = camp_world
    counted = [w["wife"].ref, w["son"].ref, w["aunt"].ref]
    r = api.post("/api/camps/censuses/", {"camp": "HOL", "taken_on": (TODAY - timedelta(days=2)).isoformat(), "counted": counted}, format="json")
    assert r.status_code == 201, r.content
    assert sorted(r.json()["unaccounted"]) == sorted([w["daughter"].ref, w["boy"].ref])
    r = api.post("/api/camps/censuses/", {"camp": "HOL", "taken_on": TODAY.isoformat(), "counted": [w["detainee"].ref]}, format="json")
    assert r.status_code == 409 and "Not residents of HOL" in r.json()["detail"]
    page = client_for(user).get("/camps/").content.decode()
    assert "Unaccounted for since the last census" in page
    # the boy leaves: he is accounted for by his departure
    api.post("/api/camps/movements/", {"kind": "departure", "person": w["boy"].ref, "camp": "HOL", "occurred_on": TODAY.isoformat(),
                                       "reason": "left_unauthorised"}, format="json")
    from custody.camps import services

    _c, missing = services.unaccounted(Person.objects.all(), w["camp"])
    assert list(missing.values_list("ref", flat=True)) == [w["daughter"].ref]


def test_children_page_and_export_only_for_protection(camp_world: Any, make_user: Any, client_for: Any) -> None:
    outsider = client_for(make_user("CIO", "supervisor"))
    assert outsider.get("/camps/children/").status_code == 403
    assert outsider.get("/camps/children.csv").status_code == 403
    assert _audited("children_read", "denied") == 1 and _audited("children_export", "denied") == 1
    hum = client_for(make_user("HUM", "analyst"))
    start, end = TODAY, TODAY + timedelta(days=365)
    page = hum.get("/camps/children/", {"from": start.isoformat(), "to": end.isoformat()}).content.decode()
    assert "Yusuf Karim Al-Tunisi" in page and "Aisha Ahmed Al-Jabouri" in page
    assert _audited("children_read") == 1
    r = hum.get("/camps/children.csv", {"from": start.isoformat(), "to": end.isoformat()})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    by = {(row["ref"], row["age"]): row for row in rows}
    daughter = by[(camp_world["daughter"].ref, "18")]
    assert daughter["uncertainty_days"] == "0" and daughter["certain"] == "yes"
    assert daughter["reaches_from"] == (TODAY + timedelta(days=30)).isoformat()
    # the boy, born in one of two years, reaches 15 somewhere in a two-year window: shown as possible
    boy = by[(camp_world["boy"].ref, "15")]
    assert boy["reaches_from"] == f"{TODAY.year}-01-01" and boy["reaches_to"] == f"{TODAY.year + 1}-12-31"
    assert int(boy["uncertainty_days"]) > 700 and boy["certain"] == "no"
    assert _audited("children_export") == 1
    # a viewer with a protection purpose sees the page but may not export
    assert client_for(make_user("HUM", "viewer")).get("/camps/children.csv").status_code == 403


def test_children_period_backwards_is_a_clear_message(camp_world: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    hum = make_user("HUM", "viewer")
    page = client_for(hum).get("/camps/children/", {"from": "2026-06-01", "to": "2026-01-01"}).content.decode()
    assert "The period ends (2026-01-01) before it starts (2026-06-01)." in page
    r = api_for(hum).get("/api/camps/children/", {"from": "2026-06-01", "to": "2026-01-01"})
    assert r.status_code == 400


def test_protection_flags_visible_only_with_protection(camp_world: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    hum = make_user("HUM", "clerk")
    r = api_for(hum).post("/api/camps/flags/", {"person": camp_world["boy"].ref, "kind": "unaccompanied", "note": "parents unknown"}, format="json")
    assert r.status_code == 201, r.content
    hum_page = client_for(hum).get("/camps/HOL/households/H-2/").content.decode()
    assert "Unaccompanied child" in hum_page
    cio = make_user("CIO", "supervisor")
    cio_page = client_for(cio).get("/camps/HOL/households/H-2/").content.decode()
    assert "Unaccompanied child" not in cio_page and "Protection flags" not in cio_page
    assert api_for(cio).get("/api/camps/flags/").status_code == 403
    r = api_for(make_user("MIL", "clerk")).post("/api/camps/flags/", {"person": camp_world["boy"].ref, "kind": "separated"}, format="json")
    assert r.status_code == 403
    # a user of another agency given a protection role sees them
    officer = make_user("MFA", "viewer", protection_role=True)
    flags = api_for(officer).get("/api/camps/flags/").json()["results"]
    assert [f["kind"] for f in flags] == ["unaccompanied"]
    assert _audited("protection_flags") == 1 and _audited("protection_flags", "denied") == 1


def test_tracing_from_detainee_finds_family_by_link_and_by_name(camp_world: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    user = make_user("HUM", "viewer")
    data = api_for(user).get(f"/api/camps/trace/{camp_world['detainee'].ref}/").json()
    assert data["direction"] == "family_in_camps"
    leads = {lead["ref"]: lead for lead in data["leads"]}
    assert leads[camp_world["son"].ref]["basis"] == "link" and leads[camp_world["son"].ref]["relation"] == "son"
    assert leads[camp_world["wife"].ref]["basis"] == "link" and leads[camp_world["wife"].ref]["relation"] == "wife"
    daughter = leads[camp_world["daughter"].ref]
    assert daughter["basis"] == "name" and daughter["relation"] == "daughter"
    assert any("father's name" in e for e in daughter["evidence"])
    assert camp_world["boy"].ref not in leads and camp_world["aunt"].ref not in leads
    page = client_for(user).get(f"/camps/trace/{camp_world['detainee'].ref}/").content.decode()
    assert "name match" in page and "Aisha Ahmed Al-Jabouri" in page
    assert _audited("family_trace") == 2


def test_tracing_from_child_finds_parent_in_custody(camp_world: Any, make_user: Any, api_for: Any, person_factory: Any) -> None:
    api = api_for(make_user("HUM", "viewer"))
    data = api.get(f"/api/camps/trace/{camp_world['daughter'].ref}/").json()
    assert data["direction"] == "parents_in_custody"
    assert [(lead["ref"], lead["basis"], lead["relation"]) for lead in data["leads"]] == [(camp_world["detainee"].ref, "name", "father")]
    # through the Arabic script alone: a child recorded only in Arabic
    only_ar = person_factory("عبد الله أحمد الجبوري", "", group="resident", household=camp_world["h1"], sex="M")
    data = api.get(f"/api/camps/trace/{only_ar.ref}/").json()
    assert [lead["ref"] for lead in data["leads"]] == [camp_world["detainee"].ref]
    son = api.get(f"/api/camps/trace/{camp_world['son'].ref}/").json()
    assert son["leads"][0]["basis"] == "link"


def test_cli_children_depart_control(camp_world: Any, make_user: Any, tmp_path: Any) -> None:
    analyst = make_user("HUM", "analyst")
    out = tmp_path / "children.csv"
    call_command("camps", "--user", analyst.username, "children", "--from", TODAY.isoformat(),
                 "--to", (TODAY + timedelta(days=365)).isoformat(), "--out", str(out), stdout=io.StringIO())
    refs = {row["ref"] for row in csv.DictReader(out.open(encoding="utf-8"))}
    assert {camp_world["boy"].ref, camp_world["daughter"].ref} <= refs
    outsider = make_user("CIO", "analyst")
    with pytest.raises(CommandError, match="protection purpose"):
        call_command("camps", "--user", outsider.username, "children", "--out", str(out), stdout=io.StringIO())
    clerk = make_user("MIL", "clerk")
    with pytest.raises(CommandError, match="is not in camp HOL"):
        call_command("camps", "--user", clerk.username, "depart", camp_world["detainee"].ref, "--camp", "HOL",
                     "--date", TODAY.isoformat(), "--reason", "released", stdout=io.StringIO())
    with pytest.raises(CommandError, match="only SDF may hand over") as refused:
        call_command("camps", "--user", clerk.username, "control", "HOL", "--to", "IRQ", "--date", TODAY.isoformat(), stdout=io.StringIO())
    assert refused.value.returncode == 3
    buf = io.StringIO()
    call_command("camps", "--as", make_user("SDF", "supervisor").username, "control", "HOL", "--to", "IRQ", "--date", TODAY.isoformat(), stdout=buf)
    assert "from SDF to IRQ" in buf.getvalue()
    buf = io.StringIO()
    call_command("camps", "--user", clerk.username, "population", "HOL", stdout=buf)
    assert "no census recorded" in buf.getvalue()
    with pytest.raises(CommandError, match="has no head"):
        call_command("camps", "--user", clerk.username, "household", "HOL", "H-77", stdout=io.StringIO())


def test_arabic_pages_render(camp_world: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("HUM", "viewer"))
    for url in ("/ar/camps/", "/ar/camps/HOL/", "/ar/camps/HOL/households/H-1/", "/ar/camps/children/",
                f"/ar/camps/trace/{camp_world['detainee'].ref}/"):
        r = c.get(url)
        assert r.status_code == 200, url
        assert 'dir="rtl"' in r.content.decode()
    # translated (the test scripts compile the catalogues)
    assert "المقيمون الحاضرون" in c.get("/ar/camps/").content.decode()
    assert "الأطفال الذين يقتربون من 15 و18 عاماً" in c.get("/ar/camps/children/").content.decode()
