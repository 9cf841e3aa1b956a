"""Every ledger string has an Arabic translation with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "custody" / "ledger" / "locale" / "ar" / "LC_MESSAGES" / "django.po"


def entries() -> list[tuple[str, str]]:
    text = PO.read_text(encoding="utf-8")
    out = []
    for block in text.split("\n\n"):
        mid = re.search(r'^msgid ((?:".*"\n?)+)', block, re.M)
        mstr = re.search(r'^msgstr ((?:".*"\n?)+)', block, re.M)
        if mid and mstr:
            out.append(("".join(re.findall(r'"(.*)"', mid.group(1))), "".join(re.findall(r'"(.*)"', mstr.group(1)))))
    return out


def test_every_string_is_translated_with_its_placeholders() -> None:
    found = [(i, s) for i, s in entries() if i]
    assert len(found) > 150
    for msgid, msgstr in found:
        assert msgstr, f"untranslated: {msgid}"
        assert sorted(re.findall(r"%\(\w+\)s", msgid)) == sorted(re.findall(r"%\(\w+\)s", msgstr)), msgid
        assert re.search("[\u0600-\u06ff]", msgstr) or msgstr.isascii(), msgid
