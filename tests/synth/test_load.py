"""Loading a generated population into the registry (Django; runs in the main suite, not with -p no:django)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from custody.synth import Scale, generate
from custody.synth.load import (  # noqa: E402
    DEMO_PASSWORD,
    LedgerUnavailable,
    full_latin,
    ledger_bulk_service,
    load_population,
)


def _ledger_available() -> bool:
    try:
        ledger_bulk_service()
    except LedgerUnavailable:
        return False
    return True


@pytest.fixture(scope="module")
def pop():  # type: ignore[no-untyped-def]
    # A tenth of the small scale: loading is what is tested here, and the suite runs it on two databases.
    return generate(31, Scale(prisons=2, detainees=60, camps=1, residents=300))


@pytest.mark.django_db(transaction=False)
def test_registry_holds_the_population(pop: Any) -> None:
    from custody.accounts.models import Agency, User
    from custody.registry import models as reg

    load_population(pop, record_history=False)

    assert reg.Person.objects.count() == len(pop.persons)
    assert reg.Person.objects.filter(group="detainee").count() == len(pop.detainees)
    assert reg.FamilyLink.objects.count() == len(pop.family_links)
    assert reg.KeepApart.objects.count() == len(pop.keep_apart)
    assert reg.Household.objects.filter(head__isnull=True).count() == 0
    assert set(Agency.objects.values_list("code", flat=True)) == {"CIO", "MIL", "MFA", "FBI", "IRQ", "SDF", "HUM"}
    assert Agency.objects.get(code="SDF").custody_scope and not Agency.objects.get(code="HUM").sees_intelligence

    irq = User.objects.get(username="irq.clerk")
    assert irq.agency.code == "IRQ" and irq.role == "clerk" and irq.check_password(DEMO_PASSWORD)
    assert User.objects.filter(username__regex=r"^(cio|mil|mfa|fbi|irq|sdf|hum)\.").count() == 35

    # Every person as generated: names in both scripts, nationalities, identifiers, family links.
    sample = pop.detainees[17]
    assert pop.scale == "custom"
    row = reg.Person.objects.get(ref=sample.id)
    assert row.display_name_ar == sample.name.ar and row.risk_tier == sample.risk_tier
    assert set(row.nationalities.values_list("country", flat=True)) == set(sample.nationalities)
    assert row.names.filter(script="arab", is_alias=False).get().full == sample.name.ar
    assert row.identifiers.filter(kind="prisoner", value=sample.prisoner_number).exists()
    # The spelling the partner force registered the person under is kept, with its source.
    registered = {r.identity_id: r.name for r in pop.rosters["sdf-prisons"].rows}
    spelled = dict(reg.PersonName.objects.filter(source="sdf-prisons").values_list("person__ref", "full"))
    assert spelled and all(registered[ref] == full for ref, full in spelled.items())
    assert len(spelled) >= 0.8 * len(pop.detainees)
    by_relation = Counter(reg.FamilyLink.objects.values_list("relation", flat=True))
    assert by_relation == Counter(link.relation for link in pop.family_links)


@pytest.mark.django_db
def test_search_finds_a_generated_person_in_both_scripts(pop: Any) -> None:
    from custody.registry.models import NameToken, Person
    from custody.registry.search import tokens_for_name

    load_population(pop, record_history=False)
    person = pop.residents[5]
    pk = Person.objects.get(ref=person.id).pk
    for full in (person.name.ar, full_latin(person.name)):
        tokens = tokens_for_name(full)
        assert NameToken.objects.filter(person_id=pk, token__in=tokens).exists()


@pytest.mark.django_db
def test_fast_search_index_equals_the_registry_reindex(pop: Any) -> None:
    from custody.registry.models import NameToken, Person
    from custody.registry.search import reindex_people

    load_population(pop, record_history=False)
    ids = list(Person.objects.order_by("pk").values_list("pk", flat=True)[::7])

    def tokens() -> dict[int, set[str]]:
        out: dict[int, set[str]] = {}
        for pid, tok in NameToken.objects.filter(person_id__in=ids).values_list("person_id", "token"):
            out.setdefault(pid, set()).add(tok)
        return out

    fast = tokens()
    reindex_people(ids)
    assert tokens() == fast and len(fast) == len(ids)


@pytest.mark.django_db
def test_loading_twice_is_refused(pop: Any) -> None:
    from custody.core.errors import RuleError

    load_population(pop, record_history=False)
    with pytest.raises(RuleError, match="already holds"):
        load_population(pop, record_history=False)


@pytest.mark.django_db
def test_custody_history_goes_through_the_ledger(pop: Any) -> None:
    from custody.registry.models import Person

    if not _ledger_available():
        # Loud, and before anything is written.
        with pytest.raises(LedgerUnavailable, match="skip-ledger"):
            load_population(pop, record_history=True)
        assert not Person.objects.exists()
        return
    load_population(pop, record_history=True)
    expected = {p.id: (p.facility, p.custodian) for p in pop.persons if p.legal_status != "deceased"}
    got = {ref: (fac, cust) for ref, fac, cust in
           Person.objects.values_list("ref", "current_facility__code", "current_custodian__code")}
    wrong = [ref for ref, where in expected.items() if got[ref] != where]
    assert not wrong, f"{len(wrong)} people not where the generator put them, e.g. {wrong[:3]}"


@pytest.mark.django_db
def test_generate_command_writes_rosters(tmp_path: Any) -> None:
    from django.core.management import call_command

    from custody.registry.models import Person

    args = ["generate", "--seed", "31", "--scale", "small", "--rosters", str(tmp_path)]
    if not _ledger_available():
        args.append("--skip-ledger")
    call_command(*args)
    assert Person.objects.count() > 1_500
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "sdf-prisons.csv" in files and "camp-register.csv" in files and "irq-intake.csv" in files
    from custody.core.models import AuditEvent

    event = AuditEvent.objects.get(action="generate")
    assert event.outcome == "ok" and event.object_id == "seed 31" and event.detail["scale"] == "small"


@pytest.mark.django_db
def test_generate_command_refuses_a_non_empty_registry(pop: Any) -> None:
    from django.core.management import CommandError, call_command

    from custody.core.models import AuditEvent

    load_population(pop, record_history=False)
    with pytest.raises(CommandError, match="already holds"):
        call_command("generate", "--seed", "1", "--scale", "small", "--skip-ledger")
    assert AuditEvent.objects.get(action="generate").outcome == "failed"
