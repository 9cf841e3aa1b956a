"""A country's list, as the foreign ministry may share it with that country: nationality and identity,
nothing classified.

Rows: the country's nationals the exporting user may see, that the foreign ministry may see too (the
record is releasable to all agencies, to a repatriation agency, or originated by one), and whose record
is classified no higher than settings.REPATRIATION_EXPORT_MAX_CLASSIFICATION (default 1, Restricted:
the marking every roster entry carries; Confidential and Secret records are withheld).
Columns: identity only. Never risk tier, rationale, faction, facility, custodian, medical or case data.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custody.accounts.models import Agency, Classification
from custody.core.actions import require
from custody.core.errors import BadInput
from custody.core.exports import append_row, csv_writer
from custody.registry.countries import country_name
from custody.registry.models import IdentifierKind, Person
from custody.repatriation.models import Repatriation, StepKind, repatriation_agencies
from custody.repatriation.services import nationals, normalise_code, require_diplomat

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "pdf": ("application/pdf", "pdf"),
}
SHARED_DOCUMENTS = (IdentifierKind.PASSPORT, IdentifierKind.NATIONAL_ID)


def max_classification() -> int:
    return int(getattr(settings, "REPATRIATION_EXPORT_MAX_CLASSIFICATION", Classification.RESTRICTED))


def shareable_q() -> Q:
    """Records the foreign ministry itself may see and share."""
    agency_ids = list(Agency.objects.filter(code__in=repatriation_agencies()).values_list("pk", flat=True))
    through = Person.releasable_to.through
    return (Q(release_all=True) | Q(originating_agency_id__in=agency_ids)
            | Q(Exists(through.objects.filter(person_id=OuterRef("pk"), agency_id__in=agency_ids)))) & Q(classification__lte=max_classification())


@dataclass
class Export:
    code: str
    headers: list[str]
    rows: list[list[str]]
    people: list[Person]
    withheld: int


def collect(user: Any, code: str) -> Export:
    # A read, not an action: refused here (NotAllowed), audited as a denied export by the door that asked.
    require(user, "export")
    require_diplomat(user)
    code = normalise_code(code)
    visible = nationals(user, code)
    shared = list(visible.filter(shareable_q()).prefetch_related("nationalities", "identifiers").order_by("ref"))
    withheld = visible.count() - len(shared)
    stages = dict(Repatriation.objects.filter(country=code, person__in=[p.pk for p in shared]).values_list("person_id", "stage"))
    headers = [_("Reference"), _("Name"), _("Name (Arabic script)"), _("Sex"), _("Date of birth"), _("Place of birth"), _("Father's name"),
               _("Mother's full name"), _("Nationalities"), _("Dual national"), _("Documents issued by the country"), _("Repatriation stage")]
    rows = []
    for p in shared:
        nats = sorted(n.country for n in p.nationalities.all())
        nats = [code] + [c for c in nats if c != code]
        docs = [f"{i.get_kind_display()} {i.value}" for i in p.identifiers.all() if i.kind in SHARED_DOCUMENTS and i.country == code]
        stage = stages.get(p.pk) or ""
        rows.append([p.ref, p.display_name, p.display_name_ar, p.get_sex_display(), p.birth_display(), p.place_of_birth, p.father_name,
                     p.mother_name, ", ".join(nats), _("yes") if len(nats) > 1 else _("no"), "; ".join(docs),
                     str(StepKind(stage).label) if stage else ""])
    return Export(code, [str(h) for h in headers], rows, shared, withheld)


def render(user: Any, code: str, fmt: str, language: str = "en") -> tuple[bytes, str, str, Export]:
    """(file bytes, content type, file name, what went in)."""
    if fmt not in FORMATS:
        raise BadInput(_("Format must be csv, xlsx or pdf."), field="format")
    with translation.override(language):
        exp = collect(user, code)
        if fmt == "csv":
            data = _csv(exp)
        elif fmt == "xlsx":
            data = _xlsx(exp)
        else:
            data = _pdf(exp, user, language)
    content_type, ext = FORMATS[fmt]
    name = f"repatriation-{exp.code}-{timezone.now():%Y%m%d}.{ext}"
    return data, content_type, name, exp


def _csv(exp: Export) -> bytes:
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow(exp.headers)
    w.writerows(exp.rows)
    # BOM: spreadsheet programs then read the Arabic names as UTF-8.
    return buf.getvalue().encode("utf-8-sig")


def _xlsx(exp: Export) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = exp.code
    append_row(ws, exp.headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in exp.rows:
        append_row(ws, row)
    for col, width in zip("ABCDEFGHIJKL", (11, 30, 30, 8, 12, 18, 16, 26, 16, 10, 30, 24), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _pdf(exp: Export, user: Any, language: str) -> bytes:
    from weasyprint import HTML

    html = render_to_string("repatriation/export_pdf.html", {
        "exp": exp, "country": country_name(exp.code, language), "rtl": language == "ar", "lang": language,
        "generated_at": timezone.now(), "user": user,
    })
    return HTML(string=html).write_pdf()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
