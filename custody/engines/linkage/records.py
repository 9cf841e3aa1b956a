"""Person records for linkage, read from CSV with every problem reported by row and column.

Nothing is silently dropped: a row with an empty or unreadable name is kept (it cannot match
anything and is written back with a cluster of its own), and a value that cannot be used (an
impossible date) is ignored for matching and reported.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from custody.engines.names.normalise import fold_latin, normalise_arabic, script_of
from custody.engines.names.parse import ParsedName, parse_name

__all__ = [
    "Dob",
    "Record",
    "InputError",
    "Problem",
    "parse_dob",
    "parse_sex",
    "parse_nationality",
    "make_record",
    "read_csv",
    "NAME_COLUMNS",
]

NAME_COLUMNS = ("name", "full_name", "fullname", "person_name", "name_en", "الاسم", "name_ar")
_OPTIONAL = {
    "dob": ("dob", "date_of_birth", "birth_date", "birthdate"),
    "sex": ("sex", "gender"),
    "nationality": ("nationality", "nationalities", "citizenship"),
    "mother_name": ("mother_name", "mother", "mothers_name", "mother_full_name"),
    "place_of_birth": ("place_of_birth", "pob", "birth_place", "birthplace"),
    "name_ar": ("name_ar", "arabic_name", "name_arabic", "الاسم_بالعربية"),
    "aliases": ("aliases", "alias", "aka", "kunya"),
}
MIN_YEAR = 1900


class InputError(ValueError):
    """The input cannot be processed at all (no name column, unreadable file)."""


@dataclass(frozen=True)
class Problem:
    row: int  # 1-based data row (the header is row 0)
    column: str
    message: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column!r}: {self.message}"


@dataclass(frozen=True)
class Dob:
    """Birth date knowledge: exact dates where known, and the span of possible years."""

    dates: frozenset[dt.date]
    lo: int
    hi: int

    @property
    def exact(self) -> bool:
        return bool(self.dates)


@dataclass
class Record:
    rid: str
    row: int
    name: str
    parsed: ParsedName
    source: str = ""
    dob: Dob | None = None
    sex: str | None = None
    nationality: frozenset[str] = frozenset()
    place_of_birth: str = ""
    mother: ParsedName | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # other names of the same row: the Arabic-script rendering, aliases, kunya
    alt_names: list[ParsedName] = field(default_factory=list)
    # derived forms for comparison (name profiles under a rarity table), filled by the model
    prepared: dict[str, object] = field(default_factory=dict, repr=False, compare=False)

    @property
    def script(self) -> str:
        return self.parsed.script

    @property
    def names(self) -> list[ParsedName]:
        return [n for n in (self.parsed, *self.alt_names) if not n.empty]


_YEAR = re.compile(r"^(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$")
_RANGE = re.compile(r"^(\d{4})\s*(?:/|-|to|–)\s*(\d{4})$")
_APPROX = re.compile(
    r"^(?:~|c\.?|ca\.?|circa|about|approx\.?|approximately|est\.?|estimated)\s*(\d{4})\??$|^(\d{4})\?$"
)
# an age instead of a birth date ("about 25", "25 years"): rosters of camps write these
_AGE = re.compile(
    r"^(?:~|c\.?|ca\.?|about|approx\.?|approximately|aged?)?\s*(\d{1,2})\s*(?:y|yrs?|years?(?: old)?)?\??$"
)


def parse_dob(value: str, today: dt.date | None = None) -> tuple[Dob | None, str | None]:
    """(Dob, None) or (None, why-not). Accepts ';'-separated alternatives of full dates, years,
    'from/to' year ranges and approximate years ('c. 1980' means 1978-1982)."""
    value = (value or "").strip()
    if not value:
        return None, None
    today = today or dt.date.today()
    dates: set[dt.date] = set()
    lo, hi = 10_000, 0
    for part in (p.strip().lower() for p in value.split(";")):
        if not part:
            continue
        m_iso, m_dmy = _ISO.match(part), _DMY.match(part)
        if m_iso or m_dmy:
            if m_iso:
                y, mo, d = (int(g) for g in m_iso.groups())
            else:
                assert m_dmy is not None
                d, mo, y = (int(g) for g in m_dmy.groups())
            try:
                date = dt.date(y, mo, d)
            except ValueError:
                return None, f"{part!r} is not a real date"
            if date > today or y < MIN_YEAR:
                return None, f"{part!r} is outside {MIN_YEAR}..{today.isoformat()}"
            dates.add(date)
            lo, hi = min(lo, y), max(hi, y)
            continue
        if m := _YEAR.match(part):
            a = b = int(m.group(1))
        elif m := _RANGE.match(part):
            a, b = sorted((int(m.group(1)), int(m.group(2))))
        elif m := _APPROX.match(part):
            y = int(m.group(1) or m.group(2))
            a, b = y - 2, min(y + 2, today.year)
        elif m := _AGE.match(part):
            a, b = today.year - int(m.group(1)) - 3, today.year - int(m.group(1)) + 1
        else:
            return None, f"{part!r} is not a date, a year, or a year range"
        if a < MIN_YEAR or b > today.year:
            return None, f"{part!r} is outside {MIN_YEAR}..{today.year}"
        lo, hi = min(lo, a), max(hi, b)
    if hi == 0:
        return None, None
    return Dob(frozenset(dates), lo, hi), None


_SEX = {
    "m": "M", "male": "M", "man": "M", "ذكر": "M", "h": "M",
    "f": "F", "female": "F", "woman": "F", "انثى": "F", "انثي": "F",
}  # fmt: skip


def parse_sex(value: str) -> tuple[str | None, str | None]:
    v = normalise_arabic((value or "").strip().lower())
    if not v or v in {"u", "unknown", "x", "?"}:
        return None, None
    if v in _SEX:
        return _SEX[v], None
    return None, f"{value!r} is not a recognised sex (M/F)"


def parse_nationality(value: str) -> frozenset[str]:
    from custody.engines.linkage.countries import country_key

    parts = re.split(r"[;,|/]", value or "")
    return frozenset(f for f in (country_key(p) for p in parts) if f)


def make_record(
    rid: str,
    name: str,
    *,
    row: int = 0,
    source: str = "",
    dob: str = "",
    sex: str = "",
    nationality: str = "",
    place_of_birth: str = "",
    mother_name: str = "",
    alt_names: Sequence[str] = (),
    extra: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
) -> Record:
    """One record from plain strings; problems found are appended to ``problems``."""
    probs = problems if problems is not None else []
    parsed = parse_name(name)
    alts = [p for p in (parse_name(a) for a in alt_names if a and a.strip()) if not p.empty]
    if not (name or "").strip() and alts:
        parsed, alts = alts[0], alts[1:]  # a row with only an Arabic name or an alias still matches
    elif not (name or "").strip():
        probs.append(Problem(row, "name", "empty name; the row is kept but cannot be matched"))
    elif parsed.empty:
        sc = script_of(name)
        what = "no letters" if not sc else f"no comparable name words (script: {sc})"
        probs.append(Problem(row, "name", f"{name!r} has {what}; the row is kept but cannot be matched"))
    elif parsed.script in ("other",):
        probs.append(
            Problem(
                row,
                "name",
                f"{name!r} is in a script the name engine does not know; matched on its letters only",
            )
        )
    d, why = parse_dob(dob)
    if why:
        probs.append(Problem(row, "dob", f"{why}; ignored for matching"))
    s, why = parse_sex(sex)
    if why:
        probs.append(Problem(row, "sex", f"{why}; ignored for matching"))
    mother = parse_name(mother_name) if (mother_name or "").strip() else None
    return Record(
        rid=rid,
        row=row,
        name=name or "",
        parsed=parsed,
        source=source,
        dob=d,
        sex=s,
        nationality=parse_nationality(nationality),
        place_of_birth=fold_latin(normalise_arabic(place_of_birth or "")),
        mother=mother if mother and not mother.empty else None,
        extra=dict(extra or {}),
        alt_names=alts,
    )


def _find(columns: Sequence[str], options: Iterable[str]) -> str | None:
    low = {c.strip().lower(): c for c in columns}
    for o in options:
        if o in low:
            return low[o]
    return None


def read_csv(
    path: str | Path,
    *,
    source: str = "",
    name_column: str | None = None,
    max_rows: int | None = None,
) -> tuple[list[Record], list[str], list[Problem]]:
    """Records, the file's column order, and the problems found. Raises InputError when the file
    cannot be used at all."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise InputError(f"{path}: cannot be read ({e.strerror})") from e
    with fh:
        try:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
        except (UnicodeDecodeError, csv.Error) as e:
            raise InputError(f"{path}: not a UTF-8 CSV file ({e})") from e
        if not columns:
            raise InputError(f"{path}: empty file, no header row")
        name_col = name_column if name_column in columns else _find(columns, NAME_COLUMNS)
        if name_column and name_column not in columns:
            raise InputError(f"{path}: no column {name_column!r}; columns are: {', '.join(columns)}")
        if name_col is None:
            raise InputError(
                f"{path}: no name column (expected one of: {', '.join(NAME_COLUMNS)}); "
                f"columns are: {', '.join(columns)}"
            )
        cols = {k: _find(columns, v) for k, v in _OPTIONAL.items()}
        id_col = _find(columns, ("record_id", "id", "rid"))
        records: list[Record] = []
        problems: list[Problem] = []
        try:
            for n, row in enumerate(reader, start=1):
                if max_rows is not None and n > max_rows:
                    raise InputError(
                        f"{path}: more than {max_rows:,} rows; split the file or raise the limit with --max-rows"
                    )
                if None in row:  # more cells than header columns
                    problems.append(
                        Problem(n, "*", f"{len(row[None])} extra cell(s) beyond the header ignored")
                    )
                    row.pop(None)
                values = {k: (v or "") for k, v in row.items()}
                rid = values.get(id_col, "") if id_col else ""
                records.append(
                    make_record(
                        rid or f"{source or 'row'}:{n}",
                        values.get(name_col, ""),
                        row=n,
                        source=source,
                        dob=values.get(cols["dob"], "") if cols["dob"] else "",
                        sex=values.get(cols["sex"], "") if cols["sex"] else "",
                        nationality=values.get(cols["nationality"], "") if cols["nationality"] else "",
                        place_of_birth=values.get(cols["place_of_birth"], "")
                        if cols["place_of_birth"]
                        else "",
                        mother_name=values.get(cols["mother_name"], "") if cols["mother_name"] else "",
                        alt_names=[
                            *(
                                [values.get(cols["name_ar"], "")]
                                if cols["name_ar"] and cols["name_ar"] != name_col
                                else []
                            ),
                            *(values.get(cols["aliases"], "").split(";") if cols["aliases"] else []),
                        ],
                        extra=values,
                        problems=problems,
                    )
                )
        except UnicodeDecodeError as e:
            raise InputError(f"{path}: not UTF-8 text after row {len(records)} ({e.reason})") from e
        except csv.Error as e:
            raise InputError(f"{path}: malformed CSV at row {len(records) + 1} ({e})") from e
    return records, columns, problems
