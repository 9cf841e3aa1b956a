"""The projection rebuilt from the log equals the live one after a generated month of transfers,
and `custody ledger rebuild --check` notices when they differ."""

from __future__ import annotations

import random
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from custody.ledger.models import CustodyState
from custody.ledger.services import record_events_bulk, replay
from custody.ledger.specs import EventSpec

from .conftest import T0


def month_of_transfers(world: dict[str, Any], people: list[Any], seed: int = 3) -> list[EventSpec]:
    """Each person: intake at HSK, then over 30 days maybe a sortie to BIAP with both handovers, maybe a
    hospital stay, sometimes a release, death, escape or repatriation. Generated in time order per person."""
    rng = random.Random(seed)
    a = world["agencies"]
    specs: list[EventSpec] = []
    for n, p in enumerate(people):
        t = T0 + timedelta(hours=rng.randrange(0, 48))
        specs.append(EventSpec("registered", p.pk, t))
        specs.append(EventSpec("intake", p.pk, t + timedelta(minutes=5), facility=world["prison"].pk,
                               data={"block": rng.choice("ABC")}))
        t += timedelta(days=rng.randrange(1, 10))
        if rng.random() < 0.2:
            specs.append(EventSpec("hospitalised", p.pk, t, facility=world["hospital"].pk))
            t += timedelta(days=2)
            specs.append(EventSpec("returned", p.pk, t, facility=world["prison"].pk))
        if rng.random() < 0.7:
            m = f"M-{n // 25:03d}"
            specs += [
                EventSpec("manifested", p.pk, t, manifest=m, to_facility=world["biap"].pk,
                          expected_arrival=t + timedelta(hours=6)),
                EventSpec("handed_over", p.pk, t + timedelta(hours=1), custodian=a["MIL"].pk,
                          sending_officer=world["sdf"].pk, receiving_officer=world["mil"].pk, identity_check="match"),
                EventSpec("departed", p.pk, t + timedelta(hours=2), facility=world["prison"].pk, manifest=m),
            ]
            if rng.random() < 0.95:
                specs += [
                    EventSpec("arrived", p.pk, t + timedelta(hours=4), facility=world["biap"].pk, manifest=m),
                    EventSpec("handed_over", p.pk, t + timedelta(hours=5), custodian=a["IRQ"].pk,
                              sending_officer=world["mil"].pk, receiving_officer=world["irq"].pk,
                              identity_check=rng.choice(["match", "not_checked"])),
                ]
                t += timedelta(days=rng.randrange(1, 15))
                end = rng.random()
                if end < 0.05:
                    specs.append(EventSpec("repatriated", p.pk, t, country="TN", reason="accepted by Tunisia"))
                elif end < 0.08:
                    specs.append(EventSpec("died", p.pk, t, reason="natural causes"))
        elif rng.random() < 0.05:
            specs.append(EventSpec("escaped", p.pk, t))
    return specs


@pytest.mark.slow
def test_rebuild_equals_live_after_a_month(world: dict[str, Any], person_factory: Any) -> None:
    people = [person_factory() for _ in range(120)]
    specs = month_of_transfers(world, people)
    assert record_events_bulk(specs, batch_size=97) == len(specs)
    live = {s.person_id: (s.status, s.facility_id, s.custodian_id) for s in CustodyState.objects.all()}
    rebuilt = {pid: (s.status, s.facility_id, s.custodian_id) for pid, s in replay().items()}
    assert live == rebuilt
    statuses = {v[0] for v in live.values()}
    assert {"in_custody", "in_transit"} <= statuses
    out = StringIO()
    call_command("ledger", "rebuild", "--check", stdout=out)
    assert "OK" in out.getvalue()
    out = StringIO()
    call_command("ledger", "verify", stdout=out)
    assert out.getvalue().startswith("OK")


def test_rebuild_check_names_a_drifted_person_and_rebuild_repairs(world: dict[str, Any], person_factory: Any,
                                                                   transfer: Any) -> None:
    p = person_factory(ref="P-123456")
    transfer(p)
    CustodyState.objects.filter(person=p).update(status="escaped")
    out = StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("ledger", "rebuild", "--check", stdout=out)
    assert exc.value.code == 1 and "P-123456" in out.getvalue() and "status" in out.getvalue()
    call_command("ledger", "rebuild", stdout=StringIO())
    assert CustodyState.objects.get(person=p).status == "in_custody"
    p.refresh_from_db()
    assert p.custody_status == "in_custody" and p.current_facility.code == "BIAP"
