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


# The merge policy's reasons (custody.engines.linkage.policy.REASON_TEXT) and the app's own
# (services.APP_REASON_TEXT), by code, with the same named values.
REASON_LABELS = {
    "sex_differs": _("recorded sex differs (%(a)s / %(b)s)"),
    "same_household": _("same household (%(household)s)"),
    "family_link": _("recorded family link (%(relation)s)"),
    "birth_dates_differ": _("exact birth dates differ (%(a)s / %(b)s)"),
    "simultaneous_custody": _("held in two places at the same time (%(a_facility)s and %(b_facility)s from %(since)s)"),
    "keep_apart": _("a keep-apart pair (or decided: different people)"),
    "shared_identifier": _("same %(kind)s issued by %(authority)s: %(value)s"),
    "biometric_match": _("%(modality)s 1:1 match at the verification operating point (%(score)s ≥ %(threshold)s)"),
    "biometric_no_match": _("%(modality)s 1:1 verification did not match (%(score)s < %(threshold)s)"),
    "names_only": _("nothing beyond names supports a merge: names alone never merge"),
    "names_weak": _("names are in the review band only (weight %(weight)s)"),
    "names_disagree": _("names disagree (weight %(weight)s) and nothing beyond names links the records"),
    "identifier_names_disagree": _("an identifier is shared but the names disagree (weight %(weight)s): a mistyped number?"),
    "chain": _("would put %(x)s and %(y)s in one cluster, and %(x)s–%(y)s is not a merge on its own (%(state)s)"),
    "names_agree": _("names agree (weight %(weight)s)"),
    "two_custodians": _("held by two authorities (%(a)s and %(b)s): both, or the working group's adjudicator, must agree"),
    "both_held": _("both records are counted in custody now: a merge changes a headcount"),
    "custody_history": _("only one record is in custody: a merge gives the other its custody history"),
    "risk_tier": _("risk tier %(tier)s"),
    "decided_same": _("decided the same person by %(user)s"),
    "needs_consent": _("held by two authorities: a merge needs both, or the working group's adjudicator; never automatic"),
    "undone_before": _("an automatic merge of this pair was undone: a person decides"),
}
REASON_KINDS = {
    "against": _("against"), "for": _("for"), "doubt": _("doubt"), "names": _("names"), "stakes": _("at stake"),
}


def reason_label(reason: dict[str, Any]) -> str:
    """One stored reason ({code, kind, params, text}) in the user's language; the stored English text
    when the code is unknown (a newer engine)."""
    label = REASON_LABELS.get(reason.get("code", ""))
    if label is None:
        return str(reason.get("text", reason.get("code", "")))
    try:
        return str(label) % {k: str(v) for k, v in (reason.get("params") or {}).items()}
    except (KeyError, ValueError, TypeError):
        return str(reason.get("text", ""))


def localise_reasons(reasons: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"kind": r.get("kind", ""), "kind_local": str(REASON_KINDS.get(r.get("kind", ""), r.get("kind", ""))),
             "text": reason_label(r), "code": r.get("code", "")} for r in reasons]
