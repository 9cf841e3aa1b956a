"""The ledger's section on the registry's person and facility pages."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from custody.core.access import can

from .models import CustodyState, LedgerEvent


def person_section(request: Any, person: Any) -> str:
    if not can(request.user, "view"):
        return ""
    events = LedgerEvent.objects.filter(person=person).select_related("facility", "custodian").order_by("-seq")[:12]
    return render_to_string("ledger/_person_section.html", {
        "person": person, "events": events, "state": CustodyState.objects.filter(person=person).first(),
    }, request=request)


def facility_section(request: Any, facility: Any) -> str:
    if not can(request.user, "view"):
        return ""
    n = CustodyState.objects.filter(facility=facility, status="in_custody").count()
    from django.urls import reverse
    from django.utils.html import format_html
    from django.utils.translation import gettext as _

    return format_html('<section class="panel"><h2>{}</h2><p>{} <a href="{}">{}</a></p></section>', _("Custody ledger"),
                       _("%(n)s people held here according to the ledger.") % {"n": n},
                       reverse("ledger:facility", args=[facility.code]), _("Population and today's events"))
