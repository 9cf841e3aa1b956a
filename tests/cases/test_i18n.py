"""Every user-visible string of cases and repatriation has an Arabic translation, and the Arabic pages
and generated files use them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2] / "custody"


def _entries(po: Path) -> list[tuple[str, str, bool]]:
    text = po.read_text(encoding="utf-8")
    out = []
    for block in text.split("\n\n"):
        m = re.search(r'^msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', block, re.M)
        if not m or block.lstrip().startswith("#~"):
            continue
        join = lambda s: "".join(re.findall(r'"(.*)"', s))  # noqa: E731
        out.append((join(m.group(1)), join(m.group(2)), "#, fuzzy" in block))
    return out


@pytest.mark.parametrize("app", ["cases", "repatriation"])
def test_every_string_has_an_arabic_translation(app: str) -> None:
    entries = [e for e in _entries(ROOT / app / "locale/ar/LC_MESSAGES/django.po") if e[0]]
    assert len(entries) > 100
    untranslated = [mid for mid, mstr, fuzzy in entries if not mstr or fuzzy]
    assert untranslated == []
    for mid, mstr, _ in entries:
        assert sorted(re.findall(r"%\(\w+\)s", mid)) == sorted(re.findall(r"%\(\w+\)s", mstr)), mid


@pytest.fixture
def compiled() -> None:
    """The .mo files are built, not committed (the start and test scripts compile them)."""
    import subprocess

    for app in ("cases", "repatriation"):
        po = ROOT / app / "locale/ar/LC_MESSAGES/django.po"
        subprocess.run(["msgfmt", "-o", str(po.with_suffix(".mo")), str(po)], check=True)
    from django.utils import translation

    translation.trans_real._translations = {}  # reload catalogues that may have been cached before the build


def test_arabic_pages(compiled: Any, cw: Any, make_user: Any, client_for: Any) -> None:
    c = client_for(make_user("CIO", "supervisor"))
    assert "مراجعة الإفصاح" in c.get("/ar/cases/disclosures/").content.decode()
    assert "حالة القضية" in c.get(f"/ar/cases/people/{cw.iq.ref}/").content.decode()
    assert "لوحة الإعادة إلى الوطن" in c.get("/ar/repatriation/").content.decode()
