"""Planted duplicates through `custody generate --plant-duplicates`: loaded as ordinary records with
their custody history; the truth written beside the output, never into the registry (Django)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.synth.test_load import _ledger_available


@pytest.mark.django_db
def test_generate_command_plants_duplicates_and_keeps_the_truth_out_of_the_registry(tmp_path: Path) -> None:
    from django.core.management import call_command

    from custody.core.models import AuditEvent
    from custody.registry.models import FamilyLink, Identifier, KeepApart, Person, PersonName

    args = ["generate", "--seed", "31", "--scale", "small", "--rosters", str(tmp_path), "--plant-duplicates", "0.02"]
    ledger = _ledger_available()
    if not ledger:
        args.append("--skip-ledger")
    call_command(*args)
    truth = list(csv.DictReader((tmp_path / "planted-duplicates.csv").open(encoding="utf-8")))
    assert len(truth) == round(0.02 * (Person.objects.count() - len(truth)))
    dups = {r["duplicate"]: r for r in truth}
    # each second registration is an ordinary record: its own ref, names, identifiers
    assert Person.objects.filter(ref__in=dups).count() == len(dups)
    assert PersonName.objects.filter(person__ref__in=dups, script="arab", is_alias=False).count() == len(dups)
    # the truth is nowhere in the registry: no field, name or number of a second registration names its
    # original, and no family link or keep-apart pair ties them
    for row in Person.objects.filter(ref__in=dups).values():
        text = repr(row) + repr(list(PersonName.objects.filter(person_id=row["id"]).values_list("full", flat=True)))
        text += repr(list(Identifier.objects.filter(person_id=row["id"]).values_list("value", flat=True)))
        assert dups[row["ref"]]["original"] not in text
    assert not FamilyLink.objects.filter(person__ref__in=dups).exists()
    assert not FamilyLink.objects.filter(relative__ref__in=dups).exists()
    assert not KeepApart.objects.filter(person__ref__in=dups).exists()
    assert AuditEvent.objects.get(action="generate").detail["planted_duplicates"] == len(truth)
    if ledger:
        # a custody re-registration holds the record where the first one is held
        held = [r for r in truth if r["source"] in ("sdf-prisons", "camp-register", "irq-intake")]
        assert held
        for r in held:
            a, b = Person.objects.get(ref=r["original"]), Person.objects.get(ref=r["duplicate"])
            assert b.current_facility_id == a.current_facility_id is not None


@pytest.mark.django_db
def test_generate_command_refuses_a_share_out_of_range() -> None:
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--plant-duplicates"):
        call_command("generate", "--seed", "1", "--scale", "small", "--plant-duplicates", "2")
