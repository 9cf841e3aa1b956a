"""The camps' part of a person's page: household, camp movements, protection flags (protection users
only) and the way into family tracing."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.camps.models import Movement, ProtectionFlag
from custody.core.access import can, restrict
from custody.registry.models import PopulationGroup


def person_section(request: Any, person: Any) -> str:
    movements = list(restrict(Movement.objects.filter(person=person), request.user).select_related("camp"))
    flags = list(restrict(ProtectionFlag.objects.filter(person=person), request.user)) if can(request.user, "protection") else None
    is_resident = person.group == PopulationGroup.CAMP_RESIDENT
    return render_to_string("camps/_person_section.html", {
        "person": person, "movements": movements, "flags": flags, "is_resident": is_resident,
    }, request=request)


def facility_section(request: Any, facility: Any) -> str:
    """On a camp's facility page: who is there by the camp records, and the way to the camp's page."""
    if facility.kind != "camp":
        return ""
    from custody.camps import services
    from custody.registry.models import Person

    people = restrict(Person.objects.all(), request.user)
    census, missing = services.unaccounted(people, facility)
    return render_to_string("camps/_facility_section.html", {
        "camp": facility, "present": services.present(people, facility).count(),
        "census": census, "unaccounted": missing.count() if census else None,
    }, request=request)
