"""The biometric part of a person's page: enrolled or not, last verification, biometric links."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.biometrics.models import Enrolment, Identification, Verification
from custody.core.access import restrict


def person_section(request: Any, person: Any) -> str:
    enrolled = restrict(Enrolment.objects.filter(person=person), request.user).count()
    last = restrict(Verification.objects.filter(person=person), request.user).first()
    links = [i.linked_person for i in restrict(Identification.objects.filter(person=person, linked_person__isnull=False),
                                               request.user).select_related("linked_person")]
    links += [i.person for i in restrict(Identification.objects.filter(linked_person=person, person__isnull=False),
                                         request.user).select_related("person")]
    return render_to_string("biometrics/_person_section.html", {
        "person": person, "enrolled": enrolled, "last_verification": last, "links": links,
    }, request=request)
