"""Identity resolution through HTTP, the API and the CLI on a real database: scan, queue,
decisions, merges and un-merges, the registration check, reference lists, access and audit."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Q

from custody.core.models import AuditEvent
from custody.matching import services
from custody.matching.models import CandidatePair, MatchDecision, Merge, PairStatus, ReferenceEntry
from custody.registry.models import Identifier

FIXTURES = Path(__file__).parent / "fixtures"

pytestmark = pytest.mark.django_db


@pytest.fixture
def registry(person_factory: Any, agencies: dict[str, Any]) -> dict[str, Any]:
    services.reset_index()
    people = {
        # one man registered twice: a Latin roster and an Arabic-script register
        "jub_latn": person_factory("Mohammed Abdulrahman Al-Jubouri", "", birth_precision="year", birth_year_min=1987,
                                   birth_year_max=1987),
        "jub_arab": person_factory("محمد عبد الرحمن الجبوري", "", birth_precision="year", birth_year_min=1987,
                                   birth_year_max=1987),
        # another, whose second entry is only a partial spelling (uncertain: goes to the queue)
        "kub_1": person_factory("Khaled Marwan Al-Kubaisi", "خالد مروان الكبيسي", birth_precision="year",
                                birth_year_min=1979, birth_year_max=1979),
        "kub_2": person_factory("Khalid al-Kubaysi", "", nationality=""),
        # unrelated people
        "other1": person_factory("Yusuf Hamza Al-Shammari", "يوسف حمزة الشمري", birth_precision="year",
                                 birth_year_min=1990, birth_year_max=1990),
        "other2": person_factory("Bilal Qasim Al-Rawi", "بلال قاسم الراوي"),
        "other3": person_factory("Ziad Nasser Al-Dulaimi", "زياد ناصر الدليمي"),
        "other4": person_factory("Walid Majid Al-Obaidi", "وليد ماجد العبيدي"),
    }
    # the Jubouri records carry the same prisoner number issued by the partner force (handover papers):
    # evidence beyond names, so the merge policy merges them automatically
    for key in ("jub_latn", "jub_arab"):
        Identifier.objects.create(person=people[key], kind="prisoner", authority=agencies["SDF"], value="HSK-004711")
    return people


def _pair(a: Any, b: Any) -> CandidatePair:
    lo, hi = sorted([a.pk, b.pk])
    return CandidatePair.objects.get(person_a_id=lo, person_b_id=hi)


def test_scan_command_queues_and_merges(registry: dict[str, Any], make_user: Any) -> None:
    from django.core.management.base import CommandError

    # Without an acting user the scan changes nothing (and the refusal is kept).
    with pytest.raises(CommandError, match="No acting user") as refused:
        call_command("match-scan", stdout=StringIO())
    assert refused.value.returncode == 3 and not CandidatePair.objects.exists()
    assert AuditEvent.objects.filter(action="matching.scan", outcome="denied", user=None).count() == 1
    out = StringIO()
    analyst = make_user("CIO", "analyst")
    call_command("match-scan", "--as", analyst.username, stdout=out)
    assert AuditEvent.objects.filter(action="matching.scan", outcome="ok", user=analyst).count() == 1
    assert "people" in out.getvalue() and "queued" in out.getvalue()
    jub = _pair(registry["jub_latn"], registry["jub_arab"])
    assert jub.status == PairStatus.AUTO and jub.weight >= 4
    assert Merge.objects.filter(pair=jub, automatic=True, undone_at__isnull=True).exists()
    kub = _pair(registry["kub_1"], registry["kub_2"])
    assert kub.explanation["comparisons"], "every stored score carries its explanation"
    assert not CandidatePair.objects.filter(person_a=registry["other1"], person_b=registry["other2"]).exists()


def test_queue_shows_pairs_side_by_side_and_decisions_are_recorded(registry: dict[str, Any], make_user: Any,
                                                                   client_for: Any) -> None:
    Identifier.objects.all().delete()  # names only: nothing merges automatically, every candidate is queued
    services.do_scan(make_user("CIO", "analyst"))
    analyst = make_user("CIO", "analyst")
    c = client_for(analyst)
    page = c.get("/matching/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Al-Jubouri" in html and "الجبوري" in html and "Match weight" in html
    pair = _pair(registry["jub_latn"], registry["jub_arab"])
    r = c.post(f"/matching/pairs/{pair.pk}/decide/", {"decision": "same", "note": "same dob"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and "decided: same person" in r.content.decode()
    d = MatchDecision.objects.get(pair=pair)
    assert d.user == analyst and d.decision == "same" and d.weight == pytest.approx(pair.weight)
    merge = Merge.objects.get(pair=pair, undone_at__isnull=True)
    assert not merge.automatic and merge.user == analyst
    # decided once: not in the queue any more, and not asked again
    assert f"pair-{pair.pk}" not in c.get("/matching/").content.decode()
    again = c.post(f"/matching/pairs/{pair.pk}/decide/", {"decision": "different"}, HTTP_HX_REQUEST="true")
    assert "already decided" in again.content.decode()
    # the merge is reversible, and the undo recorded
    r = c.post(f"/matching/merges/{merge.pk}/undo/", {"reason": "wrong father's name"})
    assert r.status_code == 302
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == analyst and merge.undo_reason == "wrong father's name"
    actions = set(AuditEvent.objects.filter(user=analyst).values_list("action", flat=True))
    assert {"match_queue", "matching.decide", "matching.undo_merge"} <= actions


def test_different_blocks_any_later_automatic_merge(registry: dict[str, Any], make_user: Any, api_for: Any) -> None:
    services.do_scan(make_user("CIO", "analyst"))
    pair = _pair(registry["jub_latn"], registry["jub_arab"])
    assert pair.status == PairStatus.AUTO
    analyst = make_user("CIO", "analyst")
    r = api_for(analyst).post(f"/api/matching/pairs/{pair.pk}/decide/", {"decision": "different"}, format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "different"
    assert not Merge.objects.filter(pair=pair, undone_at__isnull=True).exists()  # the automatic merge is undone
    services.do_scan(make_user("CIO", "analyst"))
    services.do_scan(make_user("CIO", "analyst"))
    pair.refresh_from_db()
    assert pair.status == PairStatus.DIFFERENT
    assert not Merge.objects.filter(pair=pair, undone_at__isnull=True).exists()
    assert services.identity_of(registry["jub_latn"].pk) == {registry["jub_latn"].pk}


def test_api_pairs_explained_and_roles_enforced(registry: dict[str, Any], make_user: Any, api_for: Any) -> None:
    Identifier.objects.all().delete()
    services.do_scan(make_user("CIO", "analyst"))
    clerk, viewer = make_user("IRQ", "clerk"), make_user("IRQ", "viewer")
    listing = api_for(viewer).get("/api/matching/pairs/")
    assert listing.status_code == 200
    rows = listing.json()["results"] if isinstance(listing.json(), dict) else listing.json()
    assert rows and all(row["explanation"]["comparisons"] for row in rows)
    first = rows[0]
    item = first["explanation"]["comparisons"][0]
    assert {"comparison", "label", "level", "m", "u", "weight"} <= set(item)
    assert api_for(viewer).post(f"/api/matching/pairs/{first['id']}/decide/", {"decision": "same"},
                                format="json").status_code == 403
    refused = api_for(clerk).post(f"/api/matching/pairs/{first['id']}/decide/", {"decision": "same"}, format="json")
    assert refused.status_code == 403 and "adjudicate" in refused.json()["detail"]
    assert not MatchDecision.objects.exists()


def test_partner_force_sees_only_pairs_of_its_own_detainees(registry: dict[str, Any], make_user: Any,
                                                            api_for: Any, person_factory: Any) -> None:
    held = person_factory("Omar Faisal Al-Hamdani", "عمر فيصل الحمداني", held_by="SDF")
    person_factory("Umar Faysal al-Hamdani", "")
    Identifier.objects.all().delete()
    services.do_scan(make_user("CIO", "analyst"))
    sdf = make_user("SDF", "analyst")
    rows = api_for(sdf).get("/api/matching/pairs/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert rows == []  # the partner force holds only one side of every pair
    assert held.ref not in str(rows)
    # Nor may it decide one, whatever door it uses: the action reaches only pairs of people it may see.
    from custody.core.errors import NotFound

    pair = CandidatePair.objects.filter(Q(person_a=held) | Q(person_b=held)).first()
    assert pair is not None
    assert api_for(sdf).post(f"/api/matching/pairs/{pair.pk}/decide/", {"decision": "same"}, format="json").status_code == 404
    with pytest.raises(NotFound):
        services.do_decide(sdf, pair, "same")
    assert AuditEvent.objects.filter(action="matching.decide", outcome="denied", user=sdf).count() == 1
    assert not MatchDecision.objects.exists() and CandidatePair.objects.get(pk=pair.pk).status == PairStatus.OPEN


def test_registration_check_finds_the_person_across_scripts(registry: dict[str, Any], make_user: Any,
                                                            api_for: Any) -> None:
    services.do_scan(make_user("CIO", "analyst"))
    clerk = make_user("IRQ", "clerk")
    r = api_for(clerk).post("/api/matching/check/", {"name": "Muhammad Abd al-Rahman al-Juburi", "dob": "1987"},
                            format="json")
    assert r.status_code == 200, r.content
    refs = [m["person"] for m in r.json()["matches"]]
    assert refs[:2] and set(refs[:2]) == {registry["jub_latn"].ref, registry["jub_arab"].ref}
    assert r.json()["matches"][0]["explanation"]["comparisons"]
    bad = api_for(clerk).post("/api/matching/check/", {"name": "", "dob": "1987-02-30"}, format="json")
    assert bad.status_code == 200
    assert bad.json()["matches"] == [] and any("dob" in p for p in bad.json()["problems"])
    assert AuditEvent.objects.filter(user=clerk, action="match_check").count() == 2


def test_person_page_shows_possible_matches(registry: dict[str, Any], make_user: Any, client_for: Any) -> None:
    Identifier.objects.all().delete()
    services.do_scan(make_user("CIO", "analyst"))
    c = client_for(make_user("CIO", "viewer"))
    person = registry["jub_latn"]
    detail = c.get(f"/registry/people/{person.ref}/").content.decode()
    assert "Possible matches" in detail and registry["jub_arab"].ref in detail
    page = c.get(f"/matching/people/{person.ref}/").content.decode()
    assert registry["jub_arab"].ref in page and "Aligned name parts" in page
    arabic = c.get(f"/ar/matching/people/{person.ref}/").content.decode()
    assert 'dir="rtl"' in arabic and "مطابقات محتملة" in arabic


def test_un_list_import_and_reference_matches(registry: dict[str, Any], make_user: Any, client_for: Any) -> None:
    clerk = make_user("CIO", "clerk")
    out = StringIO()
    call_command("import-un-list", str(FIXTURES / "un-list-synthetic.xml"), "--as", clerk.username, stdout=out)
    assert "2 entries imported" in out.getvalue()
    entry = ReferenceEntry.objects.get(reference="QDi.900")
    assert "خالد مروان الكبيسي" in entry.other_names and entry.dob == "1979"
    assert ReferenceEntry.objects.get(reference="QDi.901").dob == "1970/1972"
    c = client_for(clerk)
    with (FIXTURES / "un-list-synthetic.xml").open("rb") as fh:
        r = c.post("/matching/lists/", {"file": fh, "name": "UN list (test)"})
    assert r.status_code == 302
    assert ReferenceEntry.objects.count() == 4
    page = c.get(f"/matching/people/{registry['kub_1'].ref}/").content.decode()
    assert "QDi.900" in page
    bad = c.post("/matching/lists/", {"file": _upload(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><x/>")},
                 follow=True)
    assert "DOCTYPE" in bad.content.decode()


def _upload(data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("list.xml", data, content_type="application/xml")
