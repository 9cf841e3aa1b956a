"""The person page's transfer section: the vehicle the latest finished plan puts this person on."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.core.access import restrict
from custody.planning.models import PlanRun, RunStatus


def person_section(request: Any, person: Any) -> str:
    run = restrict(PlanRun.objects.filter(status=RunStatus.DONE), request.user).defer("scenario__data").first()
    if run is None:
        return ""
    # One plan holds a few hundred vehicles at real scale: scanning their manifests is cheap and
    # works the same on SQLite and PostgreSQL (JSON containment does not).
    for vehicle_id, day, mode, site, manifest in run.vehicles.values_list("vehicle_id", "day", "mode", "site", "manifest"):
        if person.ref in manifest:
            return render_to_string("planning/_person_section.html", {
                "run": run, "vehicle_id": vehicle_id, "day": day + 1, "mode": mode, "site": site}, request=request)
    return ""
