"""On the generated demo scenario (`custody generate --seed N --scale small`): the situation report's
figures reconcile with the registry and with the custody ledger, and the camp figures with the camp
records; family tracing finds the generated families."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from custody.accounts.models import User
from custody.camps import services as camps
from custody.camps import tracing
from custody.coordination import sitrep
from custody.registry.models import FamilyLink, Person

TODAY = timezone.localdate()


@pytest.fixture
def generated(db: Any) -> None:
    call_command("generate", "--seed", "11", "--scale", "small", stdout=io.StringIO(), stderr=io.StringIO())


@pytest.mark.slow
def test_sitrep_reconciles_on_the_generated_scenario(generated: None, client_for: Any) -> None:
    from custody.ledger.models import CustodyState
    from custody.ledger.services import headcounts

    cio = User.objects.get(username="cio.supervisor")
    report = sitrep.build(TODAY, cio.agency, cio)
    custody = report["custody"]
    assert custody["source"] == "ledger" and custody["total"] > 0
    got = Counter({(r["site"], r["custodian"]): r["n"] for r in custody["by_site"]})
    registry = Counter(Person.objects.filter(current_facility__isnull=False, custody_status__in=["in_custody", "hospital", "at_court"])
                       .values_list("current_facility__code", "current_custodian__code"))
    assert got == registry
    ledger = Counter(CustodyState.objects.filter(status__in=["in_custody", "hospital", "at_court"])
                     .values_list("facility__code", "custodian__code"))
    assert got == ledger
    by_facility = {r["facility__code"]: r["n"] for r in headcounts()["by_facility"]}
    assert by_facility == {site: sum(n for (s, _c), n in got.items() if s == site) for site in by_facility}
    assert custody["reconciliation"] == {"registry_total": custody["total"], "registry_agrees": True,
                                         "projection_total": custody["total"], "projection_agrees": True}
    # held plus in transit at the end of today, replayed from the events, is the trend's last point
    assert custody["trend"][-1][1] == custody["total"] + custody["in_transit"]
    # repatriations and arrivals to date are the ledger's events
    from custody.ledger.models import LedgerEvent

    assert report["repatriations"]["to_date"] == LedgerEvent.objects.filter(kind="repatriated").count()
    assert report["movement"]["arrived_to_date"] == LedgerEvent.objects.filter(kind="arrived", facility__kind="receiving").count()
    # camps: every generated resident is present (no movement recorded yet), per camp
    rows = {r["camp"]: r for r in report["camps"]["rows"]}
    residents = Counter(Person.objects.filter(group="resident", household__isnull=False).values_list("household__camp__code", flat=True))
    assert {code: r["population"] for code, r in rows.items()} == dict(residents)
    # a departure recorded today moves the figure by one
    camp_code, row = next(iter(rows.items()))
    leaver = Person.objects.filter(group="resident", household__camp__code=camp_code).order_by("ref").first()
    camps.do_record_departure(User.objects.get(username="mil.clerk"), leaver, camp_code, TODAY, "released")
    again = sitrep.build(TODAY, cio.agency, cio)["camps"]["rows"]
    changed = next(r for r in again if r["camp"] == camp_code)
    assert (changed["population"], changed["change"], changed["departures"]) == (row["population"] - 1, -1, 1)
    # the report for yesterday is computed from the events up to then
    yesterday = sitrep.build(TODAY - timedelta(days=1), cio.agency, cio)["custody"]
    assert yesterday["total"] + yesterday["in_transit"] == custody["trend"][-2][1]
    _family_tracing_finds_generated_families()


def _family_tracing_finds_generated_families() -> None:
    # (part of the test above: generating the scenario is the slow part)
    hum = User.objects.get(username="hum.analyst")
    link = (FamilyLink.objects.filter(person__group="resident", relative__group="detainee", relation="father")
            .select_related("person", "relative").order_by("id").first())
    assert link is not None, "the generator links children in the camps to fathers in custody"
    leads = tracing.trace_family_in_camps(hum, link.relative)
    assert link.person.pk in {lead.person.pk for lead in leads if lead.basis == "link"}
    parents = tracing.trace_parents_in_custody(hum, link.person)
    if link.relative.current_facility_id:
        assert [lead.person.pk for lead in parents if lead.basis == "link"] == [link.relative.pk]
    # the name evidence alone finds most recorded child-father pairs (85% on seed 11): a regression guard
    pairs = list(FamilyLink.objects.filter(person__group="resident", relative__group="detainee", relation="father")
                 .select_related("person", "relative"))
    found = sum(tracing.child_of_evidence(fl.person, tracing._names(fl.person), tracing._names(fl.relative))[0] > 0 for fl in pairs)
    assert len(pairs) > 50 and found / len(pairs) >= 0.8, (found, len(pairs))


@pytest.mark.slow
def test_the_generated_demo_has_incidents_and_danger_estimates_to_show(generated: None, client_for: Any) -> None:
    from custody.coordination.models import DangerEstimate, Incident

    assert Incident.objects.filter(occurred_on__gt=TODAY - timedelta(days=60)).count() >= 5
    # Every prison with estimates has one as of the day of loading, so the charts reach today.
    assert DangerEstimate.objects.filter(as_of=TODAY).count() == DangerEstimate.objects.values("site").distinct().count() > 0
    analyst = client_for(User.objects.get(username="cio.supervisor"))
    page = analyst.get("/coordination/warnings/").content.decode()
    incident = Incident.objects.select_related("site").first()
    assert incident.site.code in page and incident.source in page
    assert "<svg" in page  # the danger chart over the last 60 days
    assert "No change in the threat reporting this week." in page
    assert "<svg" in analyst.get("/coordination/").content.decode()
    # The humanitarian observer sees the incidents but not the analysts' danger estimates.
    observer = client_for(User.objects.get(username="hum.viewer")).get("/coordination/warnings/").content.decode()
    assert incident.source in observer
    assert "No change in the threat reporting this week." not in observer
    assert "not shown to your agency" in observer


@pytest.mark.slow
def test_the_dashboard_figures_without_the_full_replay_equal_the_replayed_ones(generated: None) -> None:
    from custody.ledger.services import record_event
    from custody.ledger.specs import EventSpec

    # A move today and one backdated into the trend window, so the window replay has work to do.
    cio = User.objects.get(username="cio.supervisor")
    held = Person.objects.filter(custody_status="in_custody")
    first, last = held.first(), held.last()
    # Each recorded by the agency holding the person (the custodian rule of the ledger).
    def custodian_of(p: Person) -> User:
        return User.objects.get(username=f"{p.current_custodian.code.lower()}.supervisor")

    record_event(EventSpec("hospitalised", first, timezone.now(), facility=first.current_facility, reason="test"), user=custodian_of(first))
    record_event(EventSpec("released", last, timezone.now() - timedelta(days=5), reason="court order"), user=custodian_of(last))
    replayed = sitrep.build(TODAY, cio.agency, cio)
    trend = [n for _d, n in replayed["custody"]["trend"]]
    assert trend[-1] < trend[0]  # the backdated release shows in the window
    fast = sitrep.build(TODAY, cio.agency, cio, replay=False)
    for key in ("total", "in_transit", "by_site", "by_custodian", "trend"):
        assert fast["custody"][key] == replayed["custody"][key], key
    assert fast["custody"]["source"] == "projection" and replayed["custody"]["source"] == "ledger"
    assert fast["classification"] == replayed["classification"]
    hum = User.objects.get(username="hum.viewer")
    assert sitrep.build(TODAY, hum.agency, hum, replay=False)["custody"]["trend"] == \
        sitrep.build(TODAY, hum.agency, hum)["custody"]["trend"]
