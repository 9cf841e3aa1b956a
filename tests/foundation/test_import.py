"""Roster import through its pages: real bytes in several encodings and an XLSX file, mapping, preview,
validation, commit, all or nothing, errors naming row and column, undo, and double submission."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.test import Client

from custody.core.models import AuditEvent
from custody.registry.models import ImportBatch, Person, PersonName

ROSTER_AR = "الاسم,الجنس,تاريخ الميلاد,الجنسية,السجن,رقم السجين\n" \
            "محمد عبد الله الدليمي,ذكر,1988,IQ,IMP1,IMP-0001\n" \
            "عبد الرحمن خالد العيساوي,ذكر,01/02/1990,IQ;SY,IMP1,IMP-0002\n"


@pytest.fixture
def imp_facility(facility_factory: Any) -> Any:
    return facility_factory("IMP1", custodian="IRQ", kind="prison", country="IQ")


def upload(c: Client, data: bytes, name: str, source: str = "test roster") -> Any:
    return c.post("/registry/import/", {"file": _file(data, name), "source": source})


def _file(data: bytes, name: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


def map_form(page: Any, mapping: dict[str, str] | None = None) -> dict[str, str]:
    """The mapping form as the browser would send it: the proposed mapping, or `mapping` header->field."""
    chosen = mapping if mapping is not None else page.context["mapping"]
    return {f"map_{i}": chosen.get(h, "") for i, h in page.context["columns"]}


def upload_and_commit(c: Client, data: bytes, name: str, mapping: dict[str, str] | None = None) -> Any:
    r = upload(c, data, name)
    assert r.status_code == 302, r.content.decode()[:2000]
    page = c.get(r["Location"])
    r = c.post(r["Location"], {**map_form(page, mapping), "action": "commit"})
    assert r.status_code == 302 and r["Location"].endswith("/registry/import/batches/"), _errors(r)
    return ImportBatch.objects.latest("id")


def _errors(r: Any) -> list[str]:
    ctx = getattr(r, "context", None)
    if ctx and "errors" in ctx:
        return [str(e) for e in ctx["errors"]]
    return re.findall(r'<p class="errorlist" role="alert">(.*?)</p>', r.content.decode())


@pytest.mark.parametrize(("encoding", "expected_label"), [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1256", "windows-1256"),
])
def test_csv_encodings_read_correctly(make_user: Any, client_for: Any, imp_facility: Any, encoding: str, expected_label: str) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    data = ROSTER_AR.encode(encoding)
    if encoding == "utf-8-sig":
        assert data.startswith(b"\xef\xbb\xbf")
    r = upload(c, data, "roster.csv")
    page = c.get(r["Location"])
    assert page.context["table"].encoding == expected_label
    assert page.context["table"].headers[0] == "الاسم", "a BOM must not stick to the first header"
    assert page.context["mapping"]["الاسم"] == "name" and page.context["mapping"]["السجن"] == "facility"
    assert "محمد عبد الله الدليمي" in page.content.decode(), "the preview shows the rows"
    assert Person.objects.count() == 0, "nothing is written before commit"
    r = c.post(r["Location"], {**map_form(page), "action": "commit"})
    assert r.status_code == 302
    people = {p.display_name_ar: p for p in Person.objects.all()}
    assert set(people) == {"محمد عبد الله الدليمي", "عبد الرحمن خالد العيساوي"}
    p = people["عبد الرحمن خالد العيساوي"]
    assert p.birth_precision == "exact" and p.birth_date.isoformat() == "1990-02-01" and p.sex == "M"
    assert sorted(n.country for n in p.nationalities.all()) == ["IQ", "SY"]
    assert p.identifiers.get().value == "IMP-0002" and p.declared_facility == imp_facility
    assert people["محمد عبد الله الدليمي"].birth_precision == "year"
    assert PersonName.objects.filter(person=p, script="arab", full="عبد الرحمن خالد العيساوي").exists()
    batch = ImportBatch.objects.get()
    assert batch.rows == 2 and batch.user.agency.code == "IRQ" and len(batch.sha256) == 64


def test_xlsx_with_manual_mapping_preview_validate_commit(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Col A", "Col B", "Born", "Where held", "Notes"])
    ws.append(["Khalid Ibrahim Alani", "خالد ابراهيم العاني", dt.datetime(1985, 7, 14), "IMP1", "x"])
    ws.append(["Ahmed Salim", "", 1979, "IMP1", ""])
    buf = io.BytesIO()
    wb.save(buf)
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, buf.getvalue(), "roster.xlsx")
    assert r.status_code == 302
    url = r["Location"]
    page = c.get(url)
    assert page.context["table"].encoding == "xlsx" and "Khalid Ibrahim Alani" in page.content.decode()
    mapping = {"Col A": "name", "Col B": "name_ar", "Born": "dob", "Where held": "facility"}
    r = c.post(url, {**map_form(page, mapping), "action": "validate"})
    assert r.status_code == 200 and r.context["validated"] and not r.context["errors"]
    assert Person.objects.count() == 0, "validation writes nothing"
    r = c.post(url, {**map_form(page, mapping), "action": "commit"})
    assert r.status_code == 302
    k = Person.objects.get(display_name="Khalid Ibrahim Alani")
    assert k.display_name_ar == "خالد ابراهيم العاني" and k.birth_date == dt.date(1985, 7, 14)
    assert Person.objects.get(display_name="Ahmed Salim").birth_year_min == 1979


def test_two_columns_mapped_to_one_field_is_refused(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, b"a,b\nAli,Omar\n", "x.csv")
    page = c.get(r["Location"])
    r = c.post(r["Location"], {**map_form(page, {"a": "name", "b": "name"}), "action": "commit"})
    assert r.status_code == 200 and "same field" in " ".join(_errors(r)) and Person.objects.count() == 0


# File-level problems: refused at upload, message names the row (and column where there is one).
@pytest.mark.parametrize(("data", "expected"), [
    (b'name,dob\n"Ali" Hassan,1990\n', r"^Row 2: the CSV is malformed or truncated"),
    (b'name,dob\nOmar,1990\n"Ali Hass', r"^Row 3: .*(truncated|ends inside a quoted value)"),
    (b"name,dob,Name\nAli,1990,x\n", r"^Row 1: the header .Name. appears twice \(columns 1 and 3\)"),
    ("name,dob\nعلي,1990\n".encode("utf-16"), r"UTF-16"),
    ("name,dob\nعلي,1990\n".encode("utf-16-le"), r"UTF-16"),
    (b"", r"empty"),
    (b"name,dob\nAli,1990,extra,values\n", r"^Row 2 has 4 values but the header names 2 columns"),
    (b"PK\x03\x04truncated zip", r"XLSX file is damaged or truncated"),
])
def test_bad_files_are_refused_with_row(make_user: Any, client_for: Any, data: bytes, expected: str) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, data, "bad.xlsx" if data.startswith(b"PK") else "bad.csv")
    assert r.status_code == 200, "stays on the upload page"
    errors = _errors(r)
    assert errors and re.search(expected, errors[0]), errors
    assert AuditEvent.objects.filter(action="import_upload", outcome="failed").exists()
    assert ImportBatch.objects.count() == 0 and Person.objects.count() == 0


# Row-level problems: all reported at once, each naming row and column, and nothing written.
BAD_ROWS = ("name,dob,facility,sex,nationality,risk_tier\n"
            "Good Person One,1980,IMP1,M,IQ,1\n"
            "Uncertain Year,1990?,IMP1,M,IQ,2\n"
            "Approximate Age,about 35,IMP1,M,IQ,2\n"
            ",1975,IMP1,M,IQ,3\n"
            "Wrong Place,1970,NOPE,M,IQ,3\n"
            "Bad Codes,1970,IMP1,X,Iraq,5\n"
            "Good Person Two,1981,IMP1,M,SY,1\n")


def test_bad_rows_are_all_named_and_nothing_is_written(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, BAD_ROWS.encode(), "rows.csv")
    url = r["Location"]
    page = c.get(url)
    r = c.post(url, {**map_form(page), "action": "commit"})
    assert r.status_code == 200
    errors = _errors(r)
    expected = [
        r"^Row 3, column .dob.: .1990\?. is not a date",
        r"^Row 4, column .dob.: .about 35. is not a date",
        r"^Row 5, column .name.: the name is empty",
        r"^Row 6, column .facility.: unknown facility .NOPE.",
        r"^Row 7, column .sex.: .X. is not a sex",
        r"^Row 7, column .nationality.: .IRAQ. is not a two-letter ISO country code",
        r"^Row 7, column .risk_tier.: .5. is not a risk tier",
    ]
    for pattern in expected:
        assert any(re.search(pattern, e) for e in errors), (pattern, errors)
    assert len(errors) == len(expected)
    assert "nothing was written" in r.content.decode()
    assert Person.objects.count() == 0 and ImportBatch.objects.count() == 0


def test_partner_force_cannot_import_into_another_custodians_facility(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    c = client_for(make_user("SDF", "clerk"))
    r = upload(c, b"name,facility\nAli Hassan,IMP1\n", "x.csv")
    page = c.get(r["Location"])
    r = c.post(r["Location"], {**map_form(page), "action": "commit"})
    assert any("unknown facility" in e for e in _errors(r)) and Person.objects.count() == 0


def test_viewer_may_not_import(make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("IRQ", "viewer"))
    assert upload(c, b"name\nAli\n", "x.csv").status_code == 403
    assert AuditEvent.objects.filter(action="import", outcome="denied").exists()


def test_undo_removes_the_whole_batch_once(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    from custody.core.models import HistoryChange

    user = make_user("IRQ", "clerk")
    c = client_for(user)
    batch = upload_and_commit(c, ROSTER_AR.encode(), "roster.csv")
    assert Person.objects.filter(import_batch=batch).count() == 2
    # Another agency's clerk cannot undo it.
    other = client_for(make_user("MIL", "clerk"))
    assert other.post(f"/registry/import/batches/{batch.pk}/undo/").status_code == 404
    r = c.post(f"/registry/import/batches/{batch.pk}/undo/", follow=True)
    assert r.status_code == 200
    assert Person.objects.count() == 0 and PersonName.objects.count() == 0
    batch.refresh_from_db()
    assert batch.undone_at is not None and batch.undone_by == user
    assert HistoryChange.objects.filter(table_name="registry_person", op="D").count() == 2
    r = c.post(f"/registry/import/batches/{batch.pk}/undo/", follow=True)
    assert "already undone" in r.content.decode()
    assert AuditEvent.objects.filter(action="registry.import_undo", outcome="failed", user=user).exists()


def test_undo_refused_after_intake(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    user = make_user("IRQ", "clerk")
    c = client_for(user)
    batch = upload_and_commit(c, ROSTER_AR.encode(), "roster.csv")
    assert c.get(f"/registry/import/batches/{batch.pk}/intake/").status_code == 405
    r = c.post(f"/registry/import/batches/{batch.pk}/intake/", follow=True)
    assert r.status_code == 200
    assert Person.objects.filter(import_batch=batch, current_facility=imp_facility).count() == 2
    r = c.post(f"/registry/import/batches/{batch.pk}/undo/", follow=True)
    assert "cannot be undone" in r.content.decode()
    assert Person.objects.filter(import_batch=batch).count() == 2


def test_double_submitted_commit_does_not_duplicate(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, ROSTER_AR.encode(), "roster.csv")
    url = r["Location"]
    form = {**map_form(c.get(url)), "action": "commit"}
    first = c.post(url, form)
    again = c.post(url, form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert "already imported" in again.content.decode()
    assert ImportBatch.objects.count() == 1 and Person.objects.count() == 2


def test_concurrent_submit_loser_writes_nothing(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    """Two submits racing: the first claims the upload (an atomic rename) before writing; the second,
    arriving while the first is still writing, finds the upload gone and writes nothing."""
    from custody.registry.uploads import upload_dir

    UPLOAD_DIR = upload_dir()  # noqa: N806
    c = client_for(make_user("IRQ", "clerk"))
    r = upload(c, ROSTER_AR.encode(), "roster.csv")
    url = r["Location"]
    token = url.rstrip("/").split("/")[-2]
    form = {**map_form(c.get(url)), "action": "commit"}
    # The winner is mid-commit: its claim exists, the upload is no longer where it was.
    (UPLOAD_DIR / token).rename(UPLOAD_DIR / f"{token}.committing")
    try:
        r = c.post(url, form, follow=True)
    finally:
        (UPLOAD_DIR / f"{token}.committing").unlink(missing_ok=True)
    assert ImportBatch.objects.count() == 0 and Person.objects.count() == 0
    assert r.status_code in {200, 404}
