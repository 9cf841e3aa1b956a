"""The case section of the person page: status and counts, linking to the person's case page."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.cases.models import Case, DisclosureRequest, Item, ProsecutionFile
from custody.core.access import restrict


def person_section(request: Any, person: Any) -> str:
    user = request.user
    items = restrict(Item.objects.filter(people=person), user)
    return render_to_string("cases/_person_section.html", {
        "person": person, "case": restrict(Case.objects.filter(person=person), user).first(),
        "n_items": items.count(),
        "n_open": restrict(DisclosureRequest.objects.filter(item__in=items.values("pk"), state__in=["requested", "under_review"]), user).count(),
        "n_files": restrict(ProsecutionFile.objects.filter(person=person), user).count(),
    }, request=request)
