"""A small world for the foundation tests: facilities of three custodians and five people whose
visibility differs by agency, releasability, clearance and custody scope.

Every person carries unmistakable markers (names, a risk rationale, a faction) so that a test can search
any response body for something the caller must not see. The expected visibility is written out here by
hand (`World.may_see`), independently of the code under test, so the tests can disagree with it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from custody.accounts.models import Classification


@dataclass
class PersonSpec:
    key: str
    name: str
    name_ar: str
    rationale: str
    faction: str
    obj: Any = None


@dataclass
class World:
    facilities: dict[str, Any]
    people: dict[str, PersonSpec]
    files: dict[str, Any] = field(default_factory=dict)

    # Who may see whom, by hand: agency -> keys of people, for users cleared SECRET.
    VISIBLE = {
        "CIO": {"sdf_held", "moved", "irq_only", "secret"},
        "MIL": {"sdf_held", "moved", "irq_only", "secret", "fbi_only"},  # MIL originated fbi_only
        "MFA": {"sdf_held", "moved", "irq_only", "secret"},
        "FBI": {"sdf_held", "moved", "irq_only", "secret", "fbi_only"},  # released to FBI
        "IRQ": {"sdf_held", "moved", "irq_only", "secret"},
        "SDF": {"sdf_held", "moved"},  # custody scope: only people it holds or held
        "HUM": {"sdf_held", "moved", "irq_only", "secret"},
    }
    # Facilities by agency: SDF (custody scope) sees its own and receiving/transit/hospital ones.
    FACILITIES_VISIBLE = {
        "SDF": {"sdf_prison", "receiving"},
    }

    def may_see(self, user: Any, key: str) -> bool:
        if key not in self.VISIBLE[user.agency.code]:
            return False
        level = {"secret": Classification.SECRET, "fbi_only": Classification.CONFIDENTIAL}.get(key, Classification.RESTRICTED)
        return user.clearance >= level

    def may_see_facility(self, user: Any, key: str) -> bool:
        allowed = self.FACILITIES_VISIBLE.get(user.agency.code)
        return allowed is None or key in allowed

    def person(self, key: str) -> Any:
        return self.people[key].obj


PEOPLE = [
    # key, Latin name, Arabic name, rationale marker, faction marker
    ("sdf_held", "Qutaiba Haddad Alnuaimi", "قتيبة حداد النعيمي", "RATIONALE-QUTAIBA-7731", "FACTION-QUTAIBA-1191"),
    ("moved", "Suhaib Ghanim Alkhazraji", "صهيب غانم الخزرجي", "RATIONALE-SUHAIB-4410", "FACTION-SUHAIB-5521"),
    ("irq_only", "Marwan Talal Albayati", "مروان طلال البياتي", "RATIONALE-MARWAN-9902", "FACTION-MARWAN-3371"),
    ("fbi_only", "Yasir Nawaf Alhamdani", "ياسر نواف الهمداني", "RATIONALE-YASIR-2284", "FACTION-YASIR-6650"),
    ("secret", "Bashar Khalaf Alobaidi", "بشار خلف العبيدي", "RATIONALE-BASHAR-3308", "FACTION-BASHAR-8817"),
]


@pytest.fixture
def world(agencies: dict[str, Any], facility_factory: Any, person_factory: Any, settings: Any, tmp_path: Any) -> World:
    from django.core.files.base import ContentFile

    from custody.registry.models import Identifier, PersonFile

    settings.MEDIA_ROOT = str(tmp_path / "media")
    fac = {
        "sdf_prison": facility_factory("TSDF1", custodian="SDF", kind="prison"),
        "irq_prison": facility_factory("TIRQ1", custodian="IRQ", kind="prison", country="IQ"),
        "receiving": facility_factory("TRCV1", custodian="IRQ", kind="receiving", country="IQ"),
    }
    people: dict[str, PersonSpec] = {}
    for i, (key, name, name_ar, rationale, faction) in enumerate(PEOPLE):
        spec = PersonSpec(key, name, name_ar, rationale, faction)
        extra: dict[str, Any] = {"risk_tier": 1, "risk_rationale": rationale, "faction": faction, "ref": f"P-7000{i:02d}"}
        if key == "sdf_held":
            spec.obj = person_factory(name, name_ar, facility=fac["sdf_prison"], **extra)
        elif key == "moved":
            spec.obj = person_factory(name, name_ar, facility=fac["receiving"], **extra)
            spec.obj.custodians_ever.add(agencies["SDF"])
        elif key == "irq_only":
            spec.obj = person_factory(name, name_ar, facility=fac["irq_prison"], **extra)
        elif key == "fbi_only":
            spec.obj = person_factory(name, name_ar, facility=fac["receiving"], release_all=False,
                                      originating_agency=agencies["MIL"], classification=Classification.CONFIDENTIAL, **extra)
            spec.obj.releasable_to.add(agencies["FBI"])
        elif key == "secret":
            spec.obj = person_factory(name, name_ar, facility=fac["irq_prison"], classification=Classification.SECRET, **extra)
        Identifier.objects.create(person=spec.obj, kind="prisoner", authority=agencies["IRQ"], value=f"PR-55{i}0-{i}")
        people[key] = spec
    w = World(fac, people)
    for key in ("sdf_held", "irq_only"):
        data = f"scan of {key}".encode()
        sha = hashlib.sha256(data).hexdigest()
        pf = PersonFile(person=people[key].obj, kind="document", original_name=f"{key}.txt", content_type="text/plain",
                        sha256=sha, size=len(data))
        pf.file.save(f"{key}.txt", ContentFile(data), save=True)
        w.files[key] = pf
    return w
