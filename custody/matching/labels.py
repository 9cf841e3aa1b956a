"""Translatable forms of the engine's comparison and level labels (the engine is plain Python and
speaks English; the pages and the API's `label_local` show these)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

LABELS = {
    "Date of birth": _("Date of birth"),
    "Given name (first part)": _("Given name (first part)"),
    "Kunya (Abu/Umm X)": _("Kunya (Abu/Umm X)"),
    "Mother's name": _("Mother's name"),
    "Name tokens (order-insensitive) and their rarity": _("Name tokens (order-insensitive) and their rarity"),
    "Nationality": _("Nationality"),
    "Place of birth": _("Place of birth"),
    "Sex": _("Sex"),
    "all tokens agree, >=16 bits": _("all tokens agree, rare (≥16 bits)"),
    "all tokens agree, 10-16 bits": _("all tokens agree, uncommon (10–16 bits)"),
    "all tokens agree, <10 bits": _("all tokens agree, common (<10 bits)"),
    "one name contains the other, >=16 bits": _("one name contains the other, rare (≥16 bits)"),
    "one name contains the other, 10-16 bits": _("one name contains the other, uncommon (10–16 bits)"),
    "one name contains the other, <10 bits": _("one name contains the other, common (<10 bits)"),
    "most tokens agree, >=16 bits": _("most tokens agree, rare (≥16 bits)"),
    "most tokens agree, 10-16 bits": _("most tokens agree, uncommon (10–16 bits)"),
    "most tokens agree, <10 bits": _("most tokens agree, common (<10 bits)"),
    "some tokens agree, >=16 bits": _("some tokens agree, rare (≥16 bits)"),
    "some tokens agree, 10-16 bits": _("some tokens agree, uncommon (10–16 bits)"),
    "some tokens agree, <10 bits": _("some tokens agree, common (<10 bits)"),
    "names differ": _("names differ"),
    "different": _("different"),
    "missing on one side": _("missing on one side"),
    "one contains the other": _("one contains the other"),
    "partly similar": _("partly similar"),
    "ranges overlap": _("ranges overlap"),
    "same": pgettext_lazy("comparison level", "same"),
    "same date": _("same date"),
    "same year": _("same year"),
    "shared": _("shared"),
    "similar": _("similar"),
    "within 1 year": _("within 1 year"),
    "within 3 years": _("within 3 years"),
}


def localise(explanation: dict[str, Any]) -> dict[str, Any]:
    """The explanation with `label_local` and `level_local` added to each comparison."""
    out = dict(explanation)
    items = []
    for item in explanation.get("comparisons", []):
        item = dict(item)
        item["label_local"] = str(LABELS.get(item.get("label", ""), item.get("label", "")))
        item["level_local"] = str(LABELS.get(item.get("level", ""), item.get("level", "")))
        items.append(item)
    out["comparisons"] = items
    return out


def weight_words(weight: float) -> str:
    if weight >= 4:
        return gettext("strong evidence of the same person")
    if weight >= 0:
        return gettext("uncertain: needs a decision")
    return gettext("evidence of different people")
