"""Roster import: read CSV or XLSX, map columns, validate every row, commit all or nothing.

Every problem names its row (as the spreadsheet numbers it: the header is row 1) and its column, and
nothing is written unless every row is valid.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import iterparse

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from custody.engines.names.normalise import script_of
from custody.registry.countries import is_country_code

TARGET_FIELDS: dict[str, str] = {
    "name": gettext_noop("Full name (required)"),
    "name_ar": gettext_noop("Name in Arabic script"),
    "given": gettext_noop("Given name"),
    "father": gettext_noop("Father's name (name part)"),
    "grandfather": gettext_noop("Grandfather's name"),
    "family": gettext_noop("Family or tribe"),
    "kunya": gettext_noop("Kunya"),
    "nisba": gettext_noop("Nisba"),
    "alias": gettext_noop("Alias"),
    "sex": gettext_noop("Sex"),
    "dob": gettext_noop("Date of birth"),
    "place_of_birth": gettext_noop("Place of birth"),
    "nationality": gettext_noop("Nationality (ISO codes, ; separated)"),
    "father_name": gettext_noop("Father's first name"),
    "mother_name": gettext_noop("Mother's full name"),
    "prisoner_number": gettext_noop("Prisoner number"),
    "wristband": gettext_noop("Wristband number"),
    "document_number": gettext_noop("Document number"),
    "facility": gettext_noop("Facility code"),
    "risk_tier": gettext_noop("Risk tier"),
    "capture_date": gettext_noop("Date of capture"),
    "capture_place": gettext_noop("Place of capture"),
    "next_of_kin": gettext_noop("Person to inform"),
}

# Headers a roster is likely to use for each field; used to propose a mapping the clerk can change.
HEADER_GUESSES: dict[str, tuple[str, ...]] = {
    "name": ("name", "full name", "full_name", "الاسم", "الاسم الكامل", "name_en"),
    "name_ar": ("name_ar", "arabic name", "الاسم بالعربية"),
    "sex": ("sex", "gender", "الجنس"),
    "dob": ("dob", "date of birth", "birth date", "تاريخ الميلاد", "birth_date"),
    "place_of_birth": ("place_of_birth", "place of birth", "pob", "مكان الولادة", "مكان الميلاد"),
    "nationality": ("nationality", "nationalities", "الجنسية", "country"),
    "father_name": ("father_name", "father", "father's name", "اسم الأب", "اسم الاب"),
    "mother_name": ("mother_name", "mother", "mother's name", "اسم الأم", "اسم الام"),
    "prisoner_number": ("prisoner_number", "prisoner no", "prisoner number", "رقم السجين", "number", "source_ref"),
    "wristband": ("wristband", "band"),
    "document_number": ("document_number", "document", "passport", "id number"),
    "facility": ("facility", "site", "prison", "السجن", "الموقع"),
    "risk_tier": ("risk_tier", "tier", "risk"),
    "capture_date": ("capture_date", "date of capture", "تاريخ القبض"),
    "capture_place": ("capture_place", "place of capture", "مكان القبض"),
    "next_of_kin": ("next_of_kin", "next of kin", "person to inform"),
    "kunya": ("kunya", "الكنية"),
    "alias": ("alias", "aka", "لقب"),
}

MAX_ROWS = 250_000


class ImportFileError(Exception):
    """The file itself cannot be read; nothing was written."""


@dataclass(frozen=True)
class Limits:
    """What a roster may be, checked before it is parsed: a 310 KB XLSX that declares a million rows of
    sixteen thousand columns, or a sheet that inflates from kilobytes to gigabytes, is refused from its
    zip directory and a streaming scan, without the parser ever holding it (issue 14)."""

    max_bytes: int = 50 * 1024 * 1024  # the upload as sent
    max_rows: int = MAX_ROWS  # data rows, the header not counted
    max_columns: int = 200
    max_cells: int = 3_000_000  # rows x columns, as the table is held (short rows are padded)
    max_xlsx_uncompressed: int = 256 * 1024 * 1024  # sum of the zip members' declared sizes
    max_xlsx_members: int = 2_000

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            max_bytes=getattr(settings, "IMPORT_MAX_BYTES", cls.max_bytes),
            max_rows=getattr(settings, "IMPORT_MAX_ROWS", cls.max_rows),
            max_columns=getattr(settings, "IMPORT_MAX_COLUMNS", cls.max_columns),
            max_cells=getattr(settings, "IMPORT_MAX_CELLS", cls.max_cells),
            max_xlsx_uncompressed=getattr(settings, "IMPORT_MAX_XLSX_UNCOMPRESSED", cls.max_xlsx_uncompressed),
        )


def size_text(n: int) -> str:
    """Bytes as a person reads them (the limit messages name both sizes)."""
    if n >= 1024 * 1024:
        return _("%(n).1f MB") % {"n": n / (1024 * 1024)}
    if n >= 1024:
        return _("%(n).1f KB") % {"n": n / 1024}
    return _("%(n)d bytes") % {"n": n}


def check_upload_size(size: int, limits: Limits | None = None) -> None:
    limits = limits or Limits.from_settings()
    if size > limits.max_bytes:
        raise ImportFileError(_("The file is %(size)s; a roster may be at most %(limit)s (IMPORT_MAX_BYTES). Split it into smaller files.")
                              % {"size": size_text(size), "limit": size_text(limits.max_bytes)})


def _too_many_rows(limits: Limits) -> ImportFileError:
    return ImportFileError(_("The file has more than %(limit)s data rows (IMPORT_MAX_ROWS); split it into smaller files.")
                           % {"limit": f"{limits.max_rows:,}"})


def _too_many_columns(row: int, columns: int, limits: Limits) -> ImportFileError:
    return ImportFileError(_("Row %(row)d reaches column %(columns)s; a roster may have at most %(limit)s columns (IMPORT_MAX_COLUMNS).")
                           % {"row": row, "columns": f"{columns:,}", "limit": f"{limits.max_columns:,}"})


def _too_many_cells(row: int, limits: Limits) -> ImportFileError:
    return ImportFileError(_("By row %(row)d the file holds more than %(limit)s cells (rows × columns, IMPORT_MAX_CELLS); split it into smaller files.")
                           % {"row": row, "limit": f"{limits.max_cells:,}"})


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, column “{self.column}”: {self.message}"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    encoding: str
    sha256: str
    file_name: str

    @property
    def content_sha256(self) -> str:
        return content_hash(self.headers, self.rows)


def content_hash(headers: list[str], rows: list[list[str]]) -> str:
    """SHA-256 of the roster's cells, whatever file carried them: headers case-folded, cells stripped,
    JSON-encoded. The same rows saved as UTF-8 or Windows-1256 CSV, or as XLSX, hash alike."""
    import json

    cells = [[h.strip().casefold() for h in headers], *[[c.strip() for c in r] for r in rows]]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def previous_imports(table: Table, user: Any) -> list[Any]:
    """Batches (not undone, visible to `user`) of the same file or the same rows, newest first."""
    from django.db.models import Q

    from custody.core.access import restrict
    from custody.registry.models import ImportBatch

    qs = restrict(ImportBatch.objects.select_related("user"), user, "import").filter(undone_at__isnull=True)
    return list(qs.filter(Q(sha256=table.sha256) | Q(content_sha256=table.content_sha256)).order_by("-at")[:5])


def duplicate_message(batch: Any) -> str:
    from django.utils import timezone

    return _("This file was imported on %(at)s by %(user)s (batch %(batch)d, %(rows)d rows).") % {
        "at": timezone.localtime(batch.at).strftime("%Y-%m-%d %H:%M"), "user": batch.user.username if batch.user else "—",
        "batch": batch.pk, "rows": batch.rows}


class DuplicateImport(Exception):
    """The roster was imported before and the caller did not say to import it again."""

    def __init__(self, previous: list[Any]) -> None:
        self.previous = previous
        self.message = " ".join([duplicate_message(b) for b in previous[:1]] + [
            _("Undo that import first, or confirm that the same people are to be imported again.")])
        super().__init__(self.message)


@dataclass
class ParsedRow:
    row: int
    values: dict[str, Any] = field(default_factory=dict)


def decode_bytes(data: bytes) -> tuple[str, str]:
    """UTF-8 (with or without BOM) first; Windows-1256 when the bytes are not UTF-8."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 4 and data[1:4:2] == b"\x00\x00"):
        raise ImportFileError("The file is UTF-16 encoded. Save it as UTF-8 CSV (or Windows-1256) and try again.")
    if b"\x00" in data[:4096]:
        offset = data.index(b"\x00")
        raise ImportFileError(f"The file holds a NUL byte at byte {offset}: it is not a text CSV file (is it a spreadsheet saved with a .csv name?).")
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        try:
            return data.decode("cp1256"), "windows-1256"
        except UnicodeDecodeError:
            raise ImportFileError(f"Byte {exc.start} (0x{data[exc.start]:02x}) is neither UTF-8 nor Windows-1256.") from exc


def _check_headers(headers: list[str]) -> list[str]:
    clean = [h.strip() for h in headers]
    if not any(clean):
        raise ImportFileError("Row 1 (the header row) is empty: the first row must name the columns.")
    seen: dict[str, int] = {}
    for i, h in enumerate(clean, start=1):
        if not h:
            continue
        key = h.casefold()
        if key in seen:
            raise ImportFileError(f"Row 1: the header “{h}” appears twice (columns {seen[key]} and {i}). Rename one of them.")
        seen[key] = i
    return clean


def read_table(data: bytes, file_name: str, limits: Limits | None = None) -> Table:
    limits = limits or Limits.from_settings()
    check_upload_size(len(data), limits)
    sha = hashlib.sha256(data).hexdigest()
    if not data:
        raise ImportFileError("The file is empty.")
    lower = file_name.lower()
    if lower.endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        return _read_xlsx(data, file_name, sha, limits)
    text, encoding = decode_bytes(data)
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    # Only the delimiter is taken from the sniffer: its guess of the quoting (doublequote=False) reads
    # a malformed line such as `"Ali" Hassan` without complaint; Excel's quoting rules catch it.
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel, delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    cells = 0
    try:
        for rec in reader:
            n = len(rows) + 1
            if n > limits.max_rows + 1:
                raise _too_many_rows(limits)
            if len(rec) > limits.max_columns:
                raise _too_many_columns(n, len(rec), limits)
            # Rows are padded to the header's width, so a row counts at least that many cells.
            cells += max(len(rec), len(rows[0]) if rows else 0)
            if cells > limits.max_cells:
                raise _too_many_cells(n, limits)
            rows.append(rec)
    except csv.Error as exc:
        raise ImportFileError(f"Row {reader.line_num}: the CSV is malformed or truncated ({exc}).") from exc
    if text and not text.endswith(("\n", "\r")) and rows and text.count('"') % 2 == 1:
        raise ImportFileError(f"Row {len(rows)}: the file ends inside a quoted value — it looks truncated.")
    if not rows:
        raise ImportFileError("The file has no rows.")
    headers = _check_headers(rows[0])
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    for i, r in enumerate(rows[1:], start=2):
        if any(c.strip() for c in r) and len(r) > len(headers):
            raise ImportFileError(f"Row {i} has {len(r)} values but the header names {len(headers)} columns (a stray separator, or a truncated line?).")
    return Table(headers, [r + [""] * (len(headers) - len(r)) for r in body], encoding, sha, file_name)


_XLSX_EAGER_PART_LIMIT = 16 * 1024 * 1024
"""Parts openpyxl reads whole into objects on opening (styles, theme, workbook, relationships) are small
in any real workbook; a styles.xml of a million cell formats is a bomb of its own."""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _column_index(ref: str) -> int:
    n = 0
    for ch in ref:
        if "A" <= ch <= "Z":
            n = n * 26 + ord(ch) - 64
        elif "a" <= ch <= "z":
            n = n * 26 + ord(ch) - 96
        else:
            break
    return n


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part) for `part` (an OOXML .rels file)."""
    folder, _sep, name = part.rpartition("/")
    rels_part = f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"
    out: dict[str, tuple[str, str]] = {}
    try:
        with zf.open(rels_part) as fh:
            for _event, el in iterparse(fh):
                if _local(el.tag) == "Relationship":
                    target = el.get("Target", "")
                    if target.startswith("/"):
                        target = target[1:]
                    elif folder:
                        target = f"{folder}/{target}"
                    out[el.get("Id", "")] = (el.get("Type", ""), target)
    except KeyError:
        pass
    return out


def _first_sheet_part(zf: zipfile.ZipFile) -> str:
    workbook = next((t for kind, t in _rels(zf, "").values() if kind.endswith("/officeDocument")), "xl/workbook.xml")
    sheet_rid = ""
    with zf.open(workbook) as fh:
        for _event, el in iterparse(fh):
            if _local(el.tag) == "sheet":
                sheet_rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), "")
                break
    target = _rels(zf, workbook).get(sheet_rid, ("", ""))[1]
    if not target:
        raise ImportFileError(_("The XLSX file names no worksheet; is it a roster?"))
    return target.replace("/./", "/")


def _scan_sheet(zf: zipfile.ZipFile, part: str, limits: Limits) -> tuple[int, int]:
    """Stream the sheet's XML, counting rows, columns and cells as the reader would lay them out (openpyxl
    pads every row to the widest column and fills skipped rows), and stop at the first limit passed.
    Memory stays constant: each row element is dropped once seen."""
    row = max_col = col = 0
    sheet_data = None
    with zf.open(part) as fh:
        for event, el in iterparse(fh, events=("start", "end")):
            tag = _local(el.tag)
            if event == "start":
                if tag == "sheetData":
                    sheet_data = el
                elif tag == "row":
                    r = el.get("r", "")
                    row = int(r) if r.isdigit() else row + 1
                    col = 0
                    if row > limits.max_rows + 1:
                        raise _too_many_rows(limits)
                elif tag == "c":
                    ref = el.get("r", "")
                    col = _column_index(ref) if ref else col + 1
                    if col > limits.max_columns:
                        raise _too_many_columns(row, col, limits)
                    max_col = max(max_col, col)
                    if row * max_col > limits.max_cells:
                        raise _too_many_cells(row, limits)
            elif tag == "row" and sheet_data is not None:
                sheet_data.clear()
    return row, max_col


def _count_shared_strings(zf: zipfile.ZipFile, part: str, limits: Limits) -> None:
    count = 0
    root = None
    with zf.open(part) as fh:
        for event, el in iterparse(fh, events=("start", "end")):
            if event == "start":
                root = root if root is not None else el
                continue
            if _local(el.tag) == "si":
                count += 1
                if count > limits.max_cells:
                    raise ImportFileError(_("The XLSX file holds more than %(limit)s distinct texts, more than a roster's cells (IMPORT_MAX_CELLS).")
                                          % {"limit": f"{limits.max_cells:,}"})
                if root is not None:
                    root.clear()


def check_xlsx(data: bytes, limits: Limits | None = None) -> tuple[str, int, int]:
    """Everything that bounds the work of reading an XLSX roster, decided before openpyxl sees it:
    the zip directory's declared sizes (zipfile never inflates a member past its declared size, so the
    declared total is a true bound), then a streaming scan of the first sheet. Returns the sheet's part
    name, its last row and its last column."""
    limits = limits or Limits.from_settings()
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as exc:
        raise ImportFileError(f"The XLSX file is damaged or truncated and cannot be opened ({exc.__class__.__name__}).") from exc
    if len(infos) > limits.max_xlsx_members:
        raise ImportFileError(_("The XLSX file packs %(n)s parts; a workbook holding a roster has far fewer (limit %(limit)s).")
                              % {"n": f"{len(infos):,}", "limit": f"{limits.max_xlsx_members:,}"})
    total = sum(i.file_size for i in infos)
    if total > limits.max_xlsx_uncompressed:
        raise ImportFileError(_("Unpacked, the XLSX file would be %(size)s (%(ratio)s times its %(packed)s); a roster may unpack to at most %(limit)s (IMPORT_MAX_XLSX_UNCOMPRESSED).")
                              % {"size": size_text(total), "ratio": f"{total // max(len(data), 1):,}", "packed": size_text(len(data)),
                                 "limit": size_text(limits.max_xlsx_uncompressed)})
    try:
        sheet = _first_sheet_part(zf)
        eager = [i for i in infos if not i.filename.startswith(("xl/worksheets/", "xl/media/")) and not i.filename.endswith("sharedStrings.xml")]
        for info in eager:
            if info.file_size > _XLSX_EAGER_PART_LIMIT:
                raise ImportFileError(_("The XLSX part %(part)s unpacks to %(size)s; such a part is at most %(limit)s in a workbook holding a roster.")
                                      % {"part": info.filename, "size": size_text(info.file_size), "limit": size_text(_XLSX_EAGER_PART_LIMIT)})
        rows, columns = _scan_sheet(zf, sheet, limits)
        for info in infos:
            if info.filename.endswith("sharedStrings.xml"):
                _count_shared_strings(zf, info.filename, limits)
    except ImportFileError:
        raise
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, SyntaxError, EOFError) as exc:
        # SyntaxError: xml.etree's ParseError; EOFError, BadZipFile: a truncated or corrupt member.
        raise ImportFileError(f"The XLSX file is damaged or truncated and cannot be opened ({exc.__class__.__name__}).") from exc
    return sheet, rows, columns


def _read_xlsx(data: bytes, file_name: str, sha: str, limits: Limits) -> Table:
    import openpyxl

    sheet, max_row, max_col = check_xlsx(data, limits)
    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ImportFileError(f"The XLSX file is damaged or truncated and cannot be opened ({exc.__class__.__name__}).") from exc
    if not wb.worksheets:
        raise ImportFileError("The first sheet is empty.")
    ws = wb.worksheets[0]
    if getattr(ws, "_worksheet_path", sheet) != sheet:
        # openpyxl chose another part than the one scanned: never read an unscanned sheet.
        raise ImportFileError(f"The XLSX file's first sheet could not be located ({sheet}).")
    rows: list[list[str]] = []
    if max_row and max_col:
        # Bounds from the scan, not the sheet's own <dimension>, which a hostile file inflates.
        for rec in ws.iter_rows(min_row=1, max_row=max_row, min_col=1, max_col=max_col, values_only=True):
            rows.append(["" if v is None else (v.date().isoformat() if isinstance(v, dt.datetime) else v.isoformat() if isinstance(v, dt.date) else str(v)) for v in rec])
    wb.close()
    if not rows:
        raise ImportFileError("The first sheet is empty.")
    headers = _check_headers(rows[0])
    width = len(headers)
    body = [(r + [""] * width)[:width] for r in rows[1:] if any(str(c).strip() for c in r)]
    return Table(headers, body, "xlsx", sha, file_name)


def propose_mapping(headers: list[str]) -> dict[str, str]:
    """header -> target field, for the headers we recognise."""
    mapping = {}
    used = set()
    for h in headers:
        key = h.strip().casefold()
        for target, guesses in HEADER_GUESSES.items():
            if target not in used and (key == target or key in guesses):
                mapping[h] = target
                used.add(target)
                break
    return mapping


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y/%m/%d")
_RANGE = re.compile(r"^(\d{4})\s*[/–-]\s*(\d{4})$")
DOB_HELP = "write an exact date (1990-05-01 or 01/05/1990), a year (1990), or an estimated range of years (1987/1991)"


@dataclass
class Birth:
    precision: str
    date: dt.date | None = None
    year_min: int | None = None
    year_max: int | None = None


def parse_birth(value: str, today: dt.date) -> Birth:
    v = value.strip()
    if not v:
        return Birth("unknown")
    if re.fullmatch(r"\d{4}", v):
        year = int(v)
        if not 1900 <= year <= today.year:
            raise ValueError(f"year {year} is impossible")
        return Birth("year", year_min=year, year_max=year)
    m = _RANGE.match(v)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if lo > hi or lo < 1900 or hi > today.year:
            raise ValueError(f"“{v}” is not a possible range of birth years")
        return Birth("range", year_min=lo, year_max=hi)
    for fmt in _DATE_FORMATS:
        try:
            d = dt.datetime.strptime(v, fmt).date()
        except ValueError:
            continue
        if d > today or d.year < 1900:
            raise ValueError(f"{d.isoformat()} is an impossible date of birth")
        return Birth("exact", date=d, year_min=d.year, year_max=d.year)
    raise ValueError(f"“{v}” is not a date: {DOB_HELP}")


def parse_date(value: str, today: dt.date) -> dt.date | None:
    v = value.strip()
    if not v:
        return None
    for fmt in _DATE_FORMATS:
        try:
            d = dt.datetime.strptime(v, fmt).date()
        except ValueError:
            continue
        if d > today:
            raise ValueError(f"{d.isoformat()} is in the future")
        return d
    raise ValueError(f"“{v}” is not a date: write 2025-01-31 or 31/01/2025")


SEX_VALUES = {"m": "M", "male": "M", "ذكر": "M", "f": "F", "female": "F", "أنثى": "F", "انثى": "F", "": "U", "u": "U", "unknown": "U"}


def validate(table: Table, mapping: dict[str, str], facility_codes: set[str], today: dt.date | None = None) -> tuple[list[ParsedRow], list[RowError]]:
    """Every row checked; all errors returned together so the clerk fixes the file once."""
    today = today or dt.date.today()
    targets = {t: table.headers.index(h) for h, t in mapping.items() if t and h in table.headers}
    errors: list[RowError] = []
    if "name" not in targets and "name_ar" not in targets:
        errors.append(RowError(1, "—", "no column is mapped to the name: map the column holding the person's full name"))
        return [], errors
    header_of = {t: table.headers[i] for t, i in targets.items()}
    parsed: list[ParsedRow] = []
    for n, raw in enumerate(table.rows, start=2):
        row = ParsedRow(n)
        vals = {t: raw[i].strip() for t, i in targets.items()}

        def err(target: str, message: str, n: int = n) -> None:
            errors.append(RowError(n, header_of.get(target, target), message))

        name = vals.get("name") or vals.get("name_ar") or ""
        if not name:
            err("name" if "name" in targets else "name_ar", "the name is empty")
        elif script_of(name) == "":  # no letters at all
            err("name" if vals.get("name") else "name_ar", f"“{name}” holds no letters of a known script")
        row.values.update(vals)
        try:
            row.values["birth"] = parse_birth(vals.get("dob", ""), today)
        except ValueError as exc:
            err("dob", str(exc))
        try:
            row.values["capture_date_parsed"] = parse_date(vals.get("capture_date", ""), today)
        except ValueError as exc:
            err("capture_date", str(exc))
        sex = SEX_VALUES.get(vals.get("sex", "").casefold())
        if sex is None:
            err("sex", f"“{vals['sex']}” is not a sex: write M, F or leave empty")
        row.values["sex"] = sex or "U"
        codes = [c.strip().upper() for c in re.split(r"[;,/]", vals.get("nationality", "")) if c.strip()]
        for c in codes:
            if not is_country_code(c):
                err("nationality", f"“{c}” is not a two-letter ISO country code")
        row.values["nationalities"] = codes
        fac = vals.get("facility", "")
        if fac and fac not in facility_codes:
            err("facility", f"unknown facility “{fac}” (known: {', '.join(sorted(facility_codes)[:12])})")
        tier = vals.get("risk_tier", "")
        if tier and tier not in {"1", "2", "3"}:
            err("risk_tier", f"“{tier}” is not a risk tier: write 1, 2 or 3")
        parsed.append(row)
    return parsed, errors


def commit(table: Table, mapping: dict[str, str], parsed: list[ParsedRow], *, user: Any, source: str = "",
           allow_duplicate: bool = False) -> Any:
    """Write every row in one transaction; returns the ImportBatch. A roster already imported (same
    file or same rows, not undone) raises DuplicateImport unless `allow_duplicate`."""
    from custody.registry.models import (
        Facility,
        Identifier,
        ImportBatch,
        Nationality,
        Person,
        PersonName,
        next_refs,
    )
    from custody.registry.search import reindex_people

    facilities = {f.code: f for f in Facility.objects.all()}
    with transaction.atomic():
        if not allow_duplicate:
            previous = previous_imports(table, user)
            if previous:
                raise DuplicateImport(previous)
        batch = ImportBatch.objects.create(user=user, file_name=table.file_name, sha256=table.sha256, content_sha256=table.content_sha256,
                                           source=source or table.file_name, rows=len(parsed), mapping=mapping)
        refs = next_refs(len(parsed))
        people = []
        for ref, row in zip(refs, parsed, strict=True):
            v = row.values
            birth = v["birth"]
            latin = v.get("name", "")
            arabic = v.get("name_ar", "")
            if latin and script_of(latin) == "Arab" and not arabic:
                latin, arabic = "", latin
            people.append(Person(
                ref=ref, display_name=latin or arabic, display_name_ar=arabic, sex=v["sex"],
                birth_precision=birth.precision, birth_date=birth.date, birth_year_min=birth.year_min, birth_year_max=birth.year_max,
                place_of_birth=v.get("place_of_birth", ""), father_name=v.get("father_name", ""), mother_name=v.get("mother_name", ""),
                capture_date=v.get("capture_date_parsed"), capture_place=v.get("capture_place", ""),
                next_of_kin_name=v.get("next_of_kin", ""), risk_tier=int(v["risk_tier"]) if v.get("risk_tier") else None,
                originating_agency=getattr(user, "agency", None), import_batch=batch,
                declared_facility=facilities.get(v.get("facility", "")),
            ))
        Person.objects.bulk_create(people, batch_size=2000)
        people = list(Person.objects.filter(import_batch=batch).order_by("ref"))
        names, idents, nats = [], [], []
        for person, row in zip(people, parsed, strict=True):
            v = row.values
            src = source or table.file_name
            parts = {k: v.get(k, "") for k in ("given", "father", "grandfather", "family", "kunya", "nisba")}
            if person.display_name and person.display_name != person.display_name_ar:
                names.append(PersonName(person=person, script="latn" if script_of(person.display_name) == "Latn" else "other", full=person.display_name, source=src, **parts))
            if person.display_name_ar:
                names.append(PersonName(person=person, script="arab", full=person.display_name_ar, source=src))
            if v.get("alias"):
                names.append(PersonName(person=person, script={"Arab": "arab", "Latn": "latn"}.get(script_of(v["alias"]), "other"), full=v["alias"], source=src, is_alias=True))
            for kind, key in (("prisoner", "prisoner_number"), ("wristband", "wristband"), ("document", "document_number")):
                if v.get(key):
                    idents.append(Identifier(person=person, kind=kind, value=v[key], value_norm=Identifier.normalise(v[key]), authority=getattr(user, "agency", None)))
            for c in v["nationalities"]:
                nats.append(Nationality(person=person, country=c, source=src))
        PersonName.objects.bulk_create(names, batch_size=2000)
        Identifier.objects.bulk_create(idents, batch_size=2000)
        Nationality.objects.bulk_create(nats, batch_size=2000, ignore_conflicts=True)
        reindex_people([p.pk for p in people])
    return batch


def record_intake(batch: Any, *, user: Any, when: Any = None) -> int:
    """Record in the custody ledger that the batch's people are physically held where the roster
    says: a `registered` and an `intake` event each. From then on the import can no longer be undone."""
    from django.utils import timezone

    from custody.core.errors import RuleError
    from custody.ledger.services import record_events_bulk
    from custody.ledger.specs import EventSpec

    if batch.undone_at:
        raise RuleError("This import was undone; there is nobody to take in.")
    people = list(batch.people.filter(current_facility__isnull=True).select_related("declared_facility"))
    missing = [p.ref for p in people if p.declared_facility_id is None]
    if missing:
        raise RuleError(f"{len(missing)} people of this import name no facility (first: {', '.join(missing[:5])}); record their intake one by one.")
    when = when or timezone.now()
    specs = []
    for p in people:
        specs.append(EventSpec(kind="registered", person=p.pk, occurred_at=when, reason=f"roster import {batch.pk}", idempotency_id=f"import-{batch.pk}-reg-{p.pk}"))
        specs.append(EventSpec(kind="intake", person=p.pk, occurred_at=when, facility=p.declared_facility_id, reason=f"roster import {batch.pk}", idempotency_id=f"import-{batch.pk}-intake-{p.pk}"))
    return record_events_bulk(specs, user=user)


def undo(batch: Any, *, user: Any) -> int:
    """Remove everything the batch created, if nothing else has come to depend on it."""
    from django.db.models.deletion import ProtectedError, RestrictedError
    from django.utils import timezone

    from custody.core.errors import RuleError
    from custody.registry.models import ImportBatch, Person

    if batch.undone_at:
        raise RuleError(f"This import was already undone on {batch.undone_at:%Y-%m-%d %H:%M} UTC.")
    with transaction.atomic():
        people = Person.objects.filter(import_batch=batch)
        n = people.count()
        try:
            people.delete()
        except (ProtectedError, RestrictedError) as exc:
            kinds = sorted({o._meta.verbose_name for o in list(exc.protected_objects if hasattr(exc, 'protected_objects') else exc.restricted_objects)[:50]})
            raise RuleError(
                "This import cannot be undone: other records now depend on its people (" + ", ".join(str(k) for k in kinds) + "). "
                "Custody events are never deleted; correct them in the ledger instead."
            ) from exc
        ImportBatch.objects.filter(pk=batch.pk).update(undone_at=timezone.now(), undone_by=user)
    return n
