"""`custody match-scan` on the generated demo (seed 7, small scale: every generated person a different
person) with 5% of people planted a second time from another roster (custody generate --plant-duplicates;
the truth CSV is read only to score): no automatic merge joins two different people, and at least 95% of
the planted duplicates are merged or queued. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from custody.matching import services
from custody.matching.models import CandidatePair, Merge, PairStatus
from custody.registry.models import Person
from tests.synth.test_load import _ledger_available

pytestmark = pytest.mark.django_db


def test_match_scan_on_the_demo_merges_no_strangers_and_finds_the_planted(tmp_path: Path, agencies: object) -> None:
    args = ["generate", "--seed", "7", "--scale", "small", "--rosters", str(tmp_path), "--plant-duplicates", "0.05"]
    if not _ledger_available():
        args.append("--skip-ledger")
    call_command(*args, stdout=StringIO(), stderr=StringIO())
    services.reset_index()
    truth = list(csv.DictReader((tmp_path / "planted-duplicates.csv").open(encoding="utf-8")))
    assert len(truth) >= 80
    pk = dict(Person.objects.values_list("ref", "pk"))
    planted = {frozenset((pk[r["original"]], pk[r["duplicate"]])) for r in truth}
    call_command("match-scan", "--as", "cio.analyst", stdout=StringIO(), stderr=StringIO())

    merges = {frozenset(m) for m in Merge.objects.filter(undone_at__isnull=True).values_list("survivor_id", "merged_id")}
    assert merges, "the demo's handover papers carry prisoner numbers: some planted duplicates merge automatically"
    wrong = [sorted(m) for m in merges if m not in planted]
    assert wrong == [], f"merged different people: {wrong[:10]}"
    # identities too (clusters never chain): every record of a merged identity is one planted person
    for group in {g for g in services.identities().values()}:
        assert len(group) == 2 and group in planted

    queued = {frozenset(p) for p in CandidatePair.objects.filter(status=PairStatus.OPEN).values_list("person_a_id", "person_b_id")}
    found = sum(1 for p in planted if p in merges or p in queued)
    assert found / len(planted) >= 0.95, f"{found} of {len(planted)} planted duplicates merged or queued"
