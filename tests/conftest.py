"""Shared fixtures: the seven agencies, users by agency and role, clients, people and facilities.

Tests run on whatever DATABASE_URL names (SQLite by default; PostgreSQL in the second CI pass).
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

os.environ.setdefault("CUSTODY_FAST_HASHER", "1")

AGENCIES = {
    # code: (name, sees_intelligence, custody_scope, biometric_access, protection_purpose, is_custodian)
    "CIO": ("Coordinating intelligence office", True, False, False, False, False),
    "MIL": ("Military command", True, False, False, False, True),
    "MFA": ("Foreign ministry and embassy", True, False, False, False, False),
    "FBI": ("Federal investigators", True, False, True, False, False),
    "IRQ": ("Iraqi custodial authority", True, False, True, False, True),
    "SDF": ("Partner force", True, True, False, False, True),
    "HUM": ("Humanitarian observer", False, False, False, True, False),
}

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _english_after_each_test() -> Any:
    """LocaleMiddleware leaves the language of the last request active in the thread, so a test that
    visits an /ar/ page would otherwise turn the next test's messages Arabic."""
    yield
    from django.utils import translation

    translation.activate("en")


@pytest.fixture
def agencies(db: Any) -> dict[str, Any]:
    from custody.accounts.models import Agency

    out = {}
    for code, (name, intel, scope, bio, prot, cust) in AGENCIES.items():
        out[code], _ = Agency.objects.get_or_create(code=code, defaults=dict(
            name=name, sees_intelligence=intel, custody_scope=scope, biometric_access=bio,
            protection_purpose=prot, is_custodian=cust))
    return out


@pytest.fixture
def make_user(agencies: dict[str, Any]):  # type: ignore[no-untyped-def]
    from custody.accounts.models import Classification, User

    def make(agency_code: str = "CIO", role: str = "viewer", *, clearance: int = Classification.SECRET, **extra: Any) -> Any:
        n = next(_seq)
        return User.objects.create_user(
            username=f"{agency_code.lower()}.{role}.{n}", password="a-long-test-password",
            agency=agencies[agency_code], role=role, clearance=clearance, **extra)

    return make


@pytest.fixture
def client_for(settings: Any):  # type: ignore[no-untyped-def]
    from django.test import Client

    settings.DEMO_MODE = True

    def make(user: Any) -> Client:
        c = Client()
        c.force_login(user)
        return c

    return make


@pytest.fixture
def api_for():  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    def make(user: Any) -> APIClient:
        c = APIClient()
        c.force_authenticate(user)
        return c

    return make


@pytest.fixture
def facility_factory(agencies: dict[str, Any]):  # type: ignore[no-untyped-def]
    from custody.registry.models import Facility

    def make(code: str | None = None, *, custodian: str = "SDF", kind: str = "prison", **extra: Any) -> Any:
        code = code or f"F{next(_seq)}"
        defaults = dict(name=f"Facility {code}", name_ar=f"منشأة {code}", kind=kind, country="SY", custodian=agencies[custodian], capacity=1000)
        defaults.update(extra)
        return Facility.objects.create(code=code, **defaults)

    return make


@pytest.fixture
def person_factory(agencies: dict[str, Any]):  # type: ignore[no-untyped-def]
    """A registered person with a Latin and an Arabic name, indexed for search. `held_by` sets the
    custody fields directly (as the ledger projection would) for tests that do not exercise the ledger."""
    from custody.registry.models import Nationality, Person, PersonName
    from custody.registry.search import reindex_people

    def make(name: str = "Mohammed Abdulrahman Al-Jubouri", name_ar: str = "محمد عبد الرحمن الجبوري", *,
             facility: Any = None, held_by: str | None = None, nationality: str = "IQ", **extra: Any) -> Any:
        ref = extra.pop("ref", f"P-{900000 + next(_seq):06d}")
        p = Person.objects.create(ref=ref, display_name=name, display_name_ar=name_ar, current_facility=facility,
                                  current_custodian=agencies[held_by] if held_by else (facility.custodian if facility else None),
                                  custody_status="in_custody" if facility else "", **extra)
        PersonName.objects.create(person=p, script="latn", full=name, source="test")
        if name_ar:
            PersonName.objects.create(person=p, script="arab", full=name_ar, source="test")
        if nationality:
            Nationality.objects.create(person=p, country=nationality)
        custodian = held_by or (facility.custodian.code if facility else None)
        if custodian:
            p.custodians_ever.add(agencies[custodian])
        reindex_people([p.pk])
        return p

    return make


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        parts = item.path.parts
        if "engines" in parts or "synth" in parts:
            item.add_marker(pytest.mark.engine_only)
