"""Figures from the transfer planner (issue 6) and biometrics (issue 5), read from their records
when their tables exist; otherwise None, and the situation report says "not available"."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Sum

from custody.coordination import sources


def planned_arrivals(viewer: sources.Viewer, day: date) -> dict[str, Any] | None:
    """Arrivals the latest finished plan (re-plans included) expected on the day and up to it. A plan's
    day 0 is its scenario's start_date."""
    PlanRun = sources.model_ready("planning", "PlanRun")
    PlanDay = sources.model_ready("planning", "PlanDay")
    if PlanRun is None or PlanDay is None:
        return None
    run = viewer.restrict(PlanRun.objects.filter(status="done")).select_related("scenario").order_by("-finished_at", "-id").first()
    if run is None:
        return None
    start_raw = (run.scenario.data or {}).get("start_date")
    if not start_raw:
        return None
    start = date.fromisoformat(start_raw)
    index = (day - start).days
    days = PlanDay.objects.filter(run=run)
    today = days.filter(day=index).aggregate(n=Sum("arrivals"))["n"] or 0 if index >= 0 else 0
    to_date = days.filter(day__lte=index).aggregate(n=Sum("arrivals"))["n"] or 0 if index >= 0 else 0
    return {"today": today, "to_date": to_date, "run": run.pk, "scenario": run.scenario.name, "start_date": start_raw}


def biometric_figures(viewer: sources.Viewer, day: date) -> dict[str, Any] | None:
    """People enrolled on the day and to date; enrolments identified (1:N match) to date."""
    Enrolment = sources.model_ready("biometrics", "Enrolment")
    if Enrolment is None:
        return None
    start, end = sources.day_bounds(day)
    enrolments = viewer.restrict(Enrolment.objects.filter(created_at__lt=end))
    out: dict[str, Any] = {
        "available": True,
        "enrolled_today": enrolments.filter(created_at__gte=start).values("person_id").distinct().count(),
        "enrolled_to_date": enrolments.values("person_id").distinct().count(),
        "identified_to_date": None,
    }
    Identification = sources.model_ready("biometrics", "Identification")
    if Identification is not None:
        matched = viewer.restrict(Identification.objects.filter(created_at__lt=end, decision="match"))
        out["identified_to_date"] = matched.count()
    out["classification"] = sources.max_classification(enrolments.values("person_id"))
    return out
