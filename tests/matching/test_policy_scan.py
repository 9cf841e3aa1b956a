"""`custody match-scan` decides through the merge policy (docs/matching-policy.md): a test per rule through
the scan on a real database, the dry run, the undo of a whole run (CLI, page, API), the custodian rule for
merges across two authorities, and one person in search and on the person page."""

from __future__ import annotations

import datetime as dt
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custody.core.models import AuditEvent, HistoryChange
from custody.matching import services
from custody.matching.models import CandidatePair, LinkageRun, MatchDecision, Merge, PairStatus
from custody.registry.models import FamilyLink, Household, Identifier, KeepApart, Person

pytestmark = pytest.mark.django_db

NAME, NAME_AR = "Abdullah Hamid Ahmed Al-Rubaie", "عبد الله حامد أحمد الربيعي"
OTHER = [("Yusuf Hamza Al-Shammari", "يوسف حمزة الشمري"), ("Bilal Qasim Al-Rawi", "بلال قاسم الراوي"),
         ("Ziad Nasser Al-Dulaimi", "زياد ناصر الدليمي"), ("Walid Majid Al-Obaidi", "وليد ماجد العبيدي"),
         ("Omar Faruq Al-Tikriti", "عمر فاروق التكريتي"), ("Hassan Karim Al-Zubaidi", "حسن كريم الزبيدي")]


@pytest.fixture
def world(person_factory: Any, agencies: dict[str, Any]) -> Any:
    """Unrelated people (so the model has something to estimate on) and a maker of look-alike records."""
    services.reset_index()
    for name, ar in OTHER:
        person_factory(name, ar, sex="M")

    def twin(number: str | None = "HSK-000101", authority: str = "SDF", **extra: Any) -> Person:
        extra.setdefault("sex", "M")
        p = person_factory(NAME, NAME_AR, **extra)
        if number:
            Identifier.objects.create(person=p, kind="prisoner", authority=agencies[authority], value=number)
        return p

    return twin


def pair_of(a: Person, b: Person) -> CandidatePair:
    lo, hi = sorted([a.pk, b.pk])
    return CandidatePair.objects.get(person_a_id=lo, person_b_id=hi)


def scan(user: Any, *args: str) -> str:
    out = StringIO()
    call_command("match-scan", "--as", user.username, *args, stdout=out)
    return out.getvalue()


def codes(pair: CandidatePair) -> set[str]:
    return {r["code"] for r in pair.reasons}


def merged(a: Person, b: Person) -> bool:
    return b.pk in services.identity_of(a.pk)


# ---------------------------------------------------------------- one test per rule, through match-scan


def test_shared_number_and_names_merge_automatically(world: Any, make_user: Any) -> None:
    a, b = world(), world()
    out = scan(make_user("CIO", "analyst"))
    pair = pair_of(a, b)
    assert pair.status == PairStatus.AUTO and "shared_identifier" in codes(pair)
    assert merged(a, b) and "1 merged automatically" in out
    m = Merge.objects.get(pair=pair)
    assert m.automatic and m.run is not None and m.survivor_id == min(a.pk, b.pk)
    assert services.survivor_of(b) == a and services.survivor_of(a) == a


def test_names_alone_never_merge(world: Any, make_user: Any) -> None:
    a, b = world(number=None), world(number=None)
    scan(make_user("CIO", "analyst"))
    pair = pair_of(a, b)
    assert pair.status == PairStatus.OPEN and "names_only" in codes(pair)
    assert not merged(a, b)


@pytest.mark.parametrize("rule", ["sex_differs", "same_household", "family_link", "birth_dates_differ", "keep_apart"])
def test_evidence_against_keeps_apart_whatever_the_names_and_number(rule: str, world: Any, make_user: Any,
                                                                     facility_factory: Any) -> None:
    extra_a: dict[str, Any] = {}
    extra_b: dict[str, Any] = {}
    if rule == "sex_differs":
        extra_b["sex"] = "F"
    if rule == "same_household":
        camp = facility_factory(kind="camp")
        extra_a["household"] = extra_b["household"] = Household.objects.create(camp=camp, ref="H-1")
    if rule == "birth_dates_differ":
        extra_a.update(birth_precision="exact", birth_date=dt.date(1990, 3, 1))
        extra_b.update(birth_precision="exact", birth_date=dt.date(1992, 7, 9))
    a, b = world(**extra_a), world(**extra_b)
    if rule == "family_link":
        FamilyLink.objects.create(person=a, relative=b, relation="brother")
    if rule == "keep_apart":
        KeepApart.objects.create(person=b, other=a, reason="co-accused")
    scan(make_user("CIO", "analyst"))
    pair = pair_of(a, b)
    assert pair.status == PairStatus.KEPT_APART and rule in codes(pair)
    assert {r["kind"] for r in pair.reasons if r["code"] == rule} == {"against"}
    assert not merged(a, b) and not Merge.objects.exists()


def test_same_person_decision_is_refused_against_a_recorded_fact(world: Any, make_user: Any, api_for: Any) -> None:
    a, b = world(number=None), world(number=None, sex="F")
    scan(make_user("CIO", "analyst"))
    pair = pair_of(a, b)
    r = api_for(make_user("CIO", "analyst")).post(f"/api/matching/pairs/{pair.pk}/decide/", {"decision": "same"},
                                                   format="json")
    assert r.status_code == 409 and r.json()["rule"] == "evidence_against" and "sex" in r.json()["detail"]
    assert not Merge.objects.exists()


def test_clusters_never_chain(world: Any, make_user: Any) -> None:
    # A~B share one number, B~C another; A and C have different exact birth dates: never one person
    a = world(number="HSK-1", birth_precision="exact", birth_date=dt.date(1990, 1, 1))
    b = world(number="HSK-1", birth_precision="year", birth_year_min=1990, birth_year_max=1990)
    Identifier.objects.create(person=b, kind="prisoner", authority=a.identifiers.get().authority, value="HSK-2")
    c = world(number="HSK-2", birth_precision="exact", birth_date=dt.date(1990, 6, 6))
    scan(make_user("CIO", "analyst"))
    assert pair_of(a, c).status == PairStatus.KEPT_APART
    ab, bc = pair_of(a, b), pair_of(b, c)
    assert sorted([ab.status, bc.status]) == [PairStatus.AUTO, PairStatus.OPEN]
    held = ab if ab.status == PairStatus.OPEN else bc
    assert "chain" in codes(held)
    assert not merged(a, c) and len(services.identity_of(b.pk)) == 2
    # a second scan does not chain either, now that one merge is open
    scan(make_user("CIO", "analyst"))
    assert not merged(a, c) and Merge.objects.filter(undone_at__isnull=True).count() == 1


def test_queue_shows_the_reasons_in_both_languages_most_consequential_first(world: Any, make_user: Any,
                                                                            client_for: Any, agencies: Any) -> None:
    a, b = world(number=None), world(number=None)  # names only: queued
    held_a, held_b = world(number=None, held_by="SDF"), world(number=None, held_by="IRQ")
    scan(make_user("CIO", "analyst"))
    c_ = client_for(make_user("CIO", "analyst"))
    html = c_.get("/matching/").content.decode()
    assert "nothing beyond names supports a merge" in html
    # two authorities' records first: their merge would need both
    first = html.index(f"pair-{pair_of(held_a, held_b).pk}")
    assert first < html.index(f"pair-{pair_of(a, b).pk}")
    assert "held by two authorities (IRQ and SDF)" in html or "held by two authorities (SDF and IRQ)" in html
    html_ar = c_.get("/ar/matching/").content.decode()
    assert "لا شيء سوى الأسماء يدعم الدمج" in html_ar


# ---------------------------------------------------------------- the custodian rule


def test_merge_across_two_custodians_needs_both_or_the_adjudicator(world: Any, make_user: Any, api_for: Any) -> None:
    a, b = world(held_by="MIL"), world(held_by="IRQ")
    scan(make_user("CIO", "analyst"))
    pair = pair_of(a, b)
    # the policy would merge (same number, same names) but never automatically across two authorities
    assert pair.status == PairStatus.OPEN and {"shared_identifier", "needs_consent", "two_custodians"} <= codes(pair)
    url = f"/api/matching/pairs/{pair.pk}/decide/"
    # an analyst of neither custodian: refused, audited, nothing recorded
    r = api_for(make_user("CIO", "analyst")).post(url, {"decision": "same"}, format="json")
    assert r.status_code == 403 and r.json()["rule"] == "merge_custodians"
    assert "only those two authorities together" in r.json()["detail"]
    assert AuditEvent.objects.filter(action="matching.decide", outcome="denied").count() == 1
    assert not MatchDecision.objects.exists() and not merged(a, b)
    # one custodian agrees: recorded, still open, not merged
    r = api_for(make_user("MIL", "analyst")).post(url, {"decision": "same"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "open" and not merged(a, b)
    # the other agrees: merged
    r = api_for(make_user("IRQ", "analyst")).post(url, {"decision": "same"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "same" and merged(a, b)


def test_the_working_group_adjudicator_may_merge_across_custodians_alone(world: Any, make_user: Any,
                                                                         api_for: Any) -> None:
    a, b = world(held_by="MIL"), world(held_by="IRQ")
    scan(make_user("CIO", "analyst"))
    r = api_for(make_user("CIO", "supervisor")).post(f"/api/matching/pairs/{pair_of(a, b).pk}/decide/",
                                                      {"decision": "same"}, format="json")
    assert r.status_code == 200 and merged(a, b)


# ---------------------------------------------------------------- dry run and undo of a whole run


def _counts() -> dict[str, int]:
    return {"pairs": CandidatePair.objects.count(), "merges": Merge.objects.count(), "runs": LinkageRun.objects.count(),
            "decisions": MatchDecision.objects.count(), "history": HistoryChange.objects.count(),
            "people": Person.objects.count()}


def test_dry_run_lists_and_changes_nothing(world: Any, make_user: Any) -> None:
    a, b = world(), world()
    c, d = world(number="HSK-9", sex="F"), world(number="HSK-9")
    analyst = make_user("CIO", "analyst")
    before, audit_before = _counts(), AuditEvent.objects.count()
    out = scan(analyst, "--dry-run")
    assert _counts() == before
    assert AuditEvent.objects.count() == audit_before + 1  # the dry run's own audit row, nothing else
    row = AuditEvent.objects.latest("pk")
    assert row.action == "matching.scan" and row.user == analyst and row.detail["dry_run"] is True
    assert "DRY RUN, nothing changed" in out and "1 would be merged automatically" in out
    assert f"{a.ref} / {b.ref}" in out and "same prisoner issued by SDF: HSK-000101" in out
    assert not merged(a, b) and c.pk and d.pk


def test_a_whole_run_is_undone_as_one_action_and_search_is_restored(world: Any, make_user: Any,
                                                                    client_for: Any) -> None:
    a, b = world(), world()
    world(number="HSK-500", ref="P-800001"), world(number="HSK-500", ref="P-800002")
    viewer = client_for(make_user("CIO", "viewer"))

    def search() -> tuple[str, str, str]:
        html = viewer.get("/registry/search/", {"q": "Rubaie"}).content.decode()
        # what differs between two identical searches: the time taken and the form's token
        html = re.sub(r"\d+ ms|[A-Za-z0-9]{48,}", "", html)
        person = viewer.get(f"/registry/people/{b.ref}/").content.decode()
        return html, person, repr(list(Person.objects.order_by("pk").values()))

    before = search()
    analyst = make_user("CIO", "analyst")
    scan(analyst)
    run = LinkageRun.objects.get()
    assert Merge.objects.filter(run=run, undone_at__isnull=True).count() >= 2  # a~b and c~d (and maybe more)
    during = search()
    # one person: the merged-away record is listed once, under the survivor, "also recorded as"
    assert "4 people found" in before[0] and "2 people found" in during[0]
    assert "Also recorded as" in during[0] and f">{b.ref}</a>" in during[0]
    assert "Merged into" in during[1] and a.ref in during[1]
    assert during[2] == before[2]  # the registry rows themselves are never touched by a merge
    with pytest.raises(CommandError, match="--yes"):
        call_command("match-undo-run", str(run.pk), "--as", analyst.username, stdout=StringIO())
    out = StringIO()
    call_command("match-undo-run", str(run.pk), "--as", analyst.username, "--yes", stdout=out)
    assert f"run {run.pk} undone" in out.getvalue()
    assert not Merge.objects.filter(undone_at__isnull=True).exists()
    assert AuditEvent.objects.filter(action="matching.undo_run", outcome="ok", user=analyst).count() == 1
    after = search()
    assert after[0] == before[0] and after[2] == before[2]  # search and the registry exactly as before
    assert "Merged into" not in after[1] and "Also recorded as" not in after[1]
    assert pair_of(a, b).status == PairStatus.OPEN  # back in the queue for a person
    # undone once; and no later scan redoes those merges by itself
    with pytest.raises(CommandError, match="already undone"):
        call_command("match-undo-run", str(run.pk), "--as", analyst.username, "--yes", stdout=StringIO())
    scan(analyst)
    assert not Merge.objects.filter(undone_at__isnull=True).exists()
    assert "undone_before" in codes(pair_of(a, b))


def test_undo_run_through_the_page_and_the_api(world: Any, make_user: Any, client_for: Any, api_for: Any) -> None:
    a, b = world(), world()
    analyst = make_user("CIO", "analyst")
    preview = client_for(analyst).post("/matching/runs/", {"dry_run": "1"})  # the page's dry run
    assert "same prisoner issued by SDF" in preview.content.decode() and not LinkageRun.objects.exists()
    r = api_for(analyst).post("/api/matching/runs/", {"dry_run": True}, format="json")
    assert r.status_code == 200 and r.json()["dry_run"] and r.json()["merged"] == 1 and not LinkageRun.objects.exists()
    r = api_for(analyst).post("/api/matching/runs/", {}, format="json")
    assert r.status_code == 201
    run_id = r.json()["run"]["id"]
    # a viewer may read scans but not undo them
    assert api_for(make_user("CIO", "viewer")).post(f"/api/matching/runs/{run_id}/undo/", {"reason": "x"},
                                                     format="json").status_code == 403
    page = client_for(analyst).get("/matching/runs/")
    assert page.status_code == 200 and "Undo the whole scan" in page.content.decode()
    assert "ألغِ الفحص كله" in client_for(analyst).get("/ar/matching/runs/").content.decode()
    # a dry run now: the run's merge is open already, so nothing more would be merged
    preview = client_for(analyst).post("/matching/runs/", {"dry_run": "1"})
    assert preview.status_code == 200 and "Dry run: nothing was changed" in preview.content.decode()
    assert "0 pairs would be merged automatically" in preview.content.decode() and LinkageRun.objects.count() == 1
    r = client_for(analyst).post(f"/matching/runs/{run_id}/undo/", {"reason": "wrong thresholds"})
    assert r.status_code == 302 and not merged(a, b)
    assert LinkageRun.objects.get(pk=run_id).undo_reason == "wrong thresholds"
    r = api_for(analyst).post(f"/api/matching/runs/{run_id}/undo/", {"reason": "again"}, format="json")
    assert r.status_code == 409


def test_undo_run_refused_to_an_analyst_who_cannot_see_every_merge(world: Any, make_user: Any) -> None:
    world(held_by="SDF"), world(held_by="SDF")
    world(number="HSK-77", ref="P-810001"), world(number="HSK-77", ref="P-810002")  # held by nobody: SDF cannot see
    scan(make_user("CIO", "analyst"))
    run = LinkageRun.objects.get()
    with pytest.raises(CommandError, match="may not see") as refused:
        call_command("match-undo-run", str(run.pk), "--as", make_user("SDF", "analyst").username, "--yes",
                     stdout=StringIO())
    assert refused.value.returncode == 3
    assert Merge.objects.filter(run=run, undone_at__isnull=True).count() == run.merged
