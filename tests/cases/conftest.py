"""A small cases world: two people, recipients, and helpers that build files of each type.

Markers in titles and texts (SECRET-PHRASE-..., TITLE-...) are unmistakable so a test can search a
generated PDF or bundle for what must not be in it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest


def png_bytes(w: int = 40, h: int = 30, color: tuple[int, int, int] = (250, 250, 250)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (w, h), color).save(buf, format="PNG")
    return buf.getvalue()


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class CasesWorld:
    iq: Any          # an Iraqi national held by the Iraqi authority
    fr: Any          # a French national, released to MIL and FBI only (originated by MIL)
    facility: Any
    ccc: Any         # the Iraqi court (created by the data migration)
    fr_pros: Any     # a French prosecutor


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def cw(agencies: dict[str, Any], facility_factory: Any, person_factory: Any) -> CasesWorld:
    from custody.cases.models import Recipient

    fac = facility_factory("CIRQ1", custodian="IRQ", kind="prison", country="IQ")
    iq = person_factory("Omar Faisal Al-Dulaimi", "عمر فيصل الدليمي", facility=fac, nationality="IQ", ref="P-810001",
                        risk_rationale="RATIONALE-OMAR-5521", faction="FACTION-OMAR-1", father_name="Faisal", mother_name="Amina Salih")
    fr = person_factory("Yassine Benali", "ياسين بن علي", facility=fac, nationality="FR", ref="P-810002",
                        release_all=False, originating_agency=agencies["MIL"])
    fr.releasable_to.add(agencies["FBI"])
    ccc = Recipient.objects.get(code="IQ-CCC")
    fr_pros = Recipient.objects.create(code="FR-PNAT", name="French national anti-terrorism prosecutor", name_ar="النيابة الوطنية الفرنسية لمكافحة الإرهاب",
                                       kind="prosecutor", country="FR")
    return CasesWorld(iq, fr, fac, ccc, fr_pros)


@pytest.fixture
def make_item(make_user: Any):  # type: ignore[no-untyped-def]
    from custody.cases import services

    def make(people: list[Any], *, by: Any = None, title: str = "Item", kind: str = "document", classification: int = 1,
             release_all: bool = True, releasable_to: tuple[str, ...] = (), nations: tuple[str, ...] = ("IQ",), body: str = "",
             attachments: tuple[tuple[str, bytes], ...] = ()) -> Any:
        by = by or make_user("FBI", "clerk")
        return services.do_create_item(by, kind=kind, title=title, source="test source", people=people, body=body,
                                    classification=classification, release_all=release_all, releasable_to=releasable_to,
                                    nations=nations, attachments=attachments)

    return make
