"""The repatriation section of the person page: one line per nationality with the stage reached."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.core.access import restrict
from custody.registry.countries import country_name
from custody.repatriation.models import Repatriation


def person_section(request: Any, person: Any) -> str:
    if person.group != "detainee":
        return ""
    reps = {r.country: r for r in restrict(Repatriation.objects.filter(person=person), request.user)}
    rows = [{"code": n.country, "name": country_name(n.country), "rep": reps.get(n.country)} for n in person.nationalities.all()]
    if not rows:
        return ""
    return render_to_string("repatriation/_person_section.html", {"person": person, "rows": rows, "dual": len(rows) > 1}, request=request)
