"""Parse a personal name in Arabic script or Latin letters into its parts.

A name becomes a list of tokens, each carrying its cross-script skeleton key. Compounds that one
list writes as one word and another as two or three ("Abdulrahman" / "Abd al-Rahman" / "عبد الرحمن",
"Jalaluddin" / "Jalal al-Din" / "جلال الدين", "Habibullah" / "حبيب الله") become one token, so
token counts agree across habits. Then the parts: kunya (Abu X, Umm X), nisba (al-X-i), connectors
(bin, ibn, walad) marking the nasab, honorifics and noise words set aside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from custody.engines.names.normalise import (
    fold_latin,
    is_arabic,
    normalise_arabic,
    script_of,
    skeleton,
)
from custody.engines.names.translit import canonical_latin

__all__ = ["Token", "ParsedName", "parse_name"]

AR_ABD = "\u0639\u0628\u062f"  # عبد
AR_AL = "\u0627\u0644"  # ال
AR_DIN = "\u062f\u064a\u0646"  # دين
AR_ALLAH = "\u0627\u0644\u0644\u0647"  # الله
AR_ABU = {"\u0627\u0628\u0648", "\u0627\u0628\u064a", "\u0627\u0628\u0627"}  # ابو ابي ابا
AR_UMM = {"\u0627\u0645"}  # ام
AR_CONNECTORS = {"\u0628\u0646", "\u0627\u0628\u0646", "\u0628\u0646\u062a", "\u0648\u0644\u062f"}  # بن ابن بنت ولد
AR_HONORIFICS = {
    normalise_arabic(w)
    for w in [
        "حاجي", "حاج", "الحاج", "الحاجي", "شيخ", "الشيخ", "ملا", "الملا", "مولوي", "مولانا", "قاري",
        "حافظ", "دكتور", "الدكتور", "امير", "الامير", "مفتي", "استاذ", "الاستاذ",
        "انجنير", "مهندس", "المهندس", "قاضي", "ولد",
    ]
}  # fmt: skip

LATIN_CONNECTORS = {"bin", "ibn", "ben", "bint", "binti", "bent", "walad", "ould", "wuld", "son", "so", "do"}
LATIN_HONORIFICS = {
    "haji", "hajji", "hadji", "hadj", "hajj", "alhaj", "alhaji", "alhajj", "sheikh", "shaykh", "sheik",
    "shaikh", "cheikh", "sheekh", "mullah", "mulla", "molla", "mollah", "maulvi", "mawlawi", "maulavi",
    "moulvi", "mawlavi", "maulana", "mawlana", "moulana", "qari", "qary", "hafiz", "hafez", "dr",
    "doctor", "colonel", "col", "general", "gen", "commander", "cmdr", "emir", "imam", "ustad",
    "ustadh", "ustaz", "engineer", "eng", "mr", "mrs", "ms", "mufti", "qazi", "qadi", "kazi", "haj", "lt", "major", "captain", "capt", "brigadier",
}  # fmt: skip
NOISE = {
    "alias", "aka", "nee", "formerly", "also", "known", "as", "jr", "sr", "ii", "iii", "iv", "third",
    "second", "first", "and", "or", "the", "of", "born", "a", "k", "s", "d", "o", "mr",
}  # fmt: skip
LATIN_ABU = {"abu", "abou", "abo", "aboo", "abi", "aba", "bu"}
LATIN_UMM = {"umm", "um", "oum", "omm", "ummu"}
LATIN_ARTICLES = {"al", "el", "ul", "il", "ol", "ad", "ar", "as", "at", "az", "an", "ash", "ud", "ur", "us", "ed", "es", "er", "et", "ez"}
_ABD_PREFIX = re.compile(r"^abd(?:ul|ol|el|al|il|ur|ar|er|us|as|es|ud|ad|ed|un|an|ou|oul|u|i|o|a)?(?=[a-z]{3,}$)")
_DIN_SUFFIX = re.compile(r"^([a-z]{3,}?)(?:u|e|a|o|i)?(?:d|dd)(?:in|een|ine|ine)$")
_DIN_ATTACHED = re.compile(r"^([a-z]{3,}?)(?:uddin|uddeen|uddine|oddin|eddin|eddine|addin|aldin|uldin|udin|edin|adin|eldin|ed-din)$")
_ALLAH_SUFFIX = re.compile(r"^([a-z]{3,}?)(?:ullah|ullahi|ollah|allah|ulla|olla|alla|ulah|illah)$")
_DIN_TOKENS = {"din", "deen", "dine", "uddin", "uddeen", "eddine", "eddin", "addin", "oddin"}
_ALLAH_TOKENS = {"allah", "ullah", "ulla", "ollah", "alla", "lah", "llah", "illah", "allahi"}
_SUN_ARTICLES = {"ad", "ar", "as", "at", "az", "an", "ash", "ud", "ur", "us", "ed", "es", "er", "et", "ez"}


@dataclass(frozen=True)
class Token:
    """One name word (or compound), with the forms the comparison needs."""

    text: str  # as normalised for display/search ("abdulrahman", "عبد الرحمن")
    key: str  # cross-script consonant skeleton ("BDRHMN")
    latin: str  # canonical Latin spelling, "" for Arabic-script tokens
    script: str  # "Arab" or "Latn"
    kind: str = "plain"  # plain, kunya, nisba

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "key": self.key, "latin": self.latin, "script": self.script, "kind": self.kind}


@dataclass
class ParsedName:
    raw: str
    script: str
    tokens: list[Token] = field(default_factory=list)  # every comparable token, kunya and nisba included
    given: Token | None = None
    father: Token | None = None
    grandfather: Token | None = None
    family: Token | None = None
    kunya: Token | None = None
    nisba: Token | None = None
    honorifics: list[str] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.tokens

    def as_dict(self) -> dict[str, object]:
        def t(x: Token | None) -> str | None:
            return x.text if x else None

        return {
            "raw": self.raw,
            "script": self.script,
            "tokens": [x.as_dict() for x in self.tokens],
            "given": t(self.given),
            "father": t(self.father),
            "grandfather": t(self.grandfather),
            "family": t(self.family),
            "kunya": t(self.kunya),
            "nisba": t(self.nisba),
            "honorifics": list(self.honorifics),
            "noise": list(self.noise),
        }


def _mk(text: str, parts: list[str], script: str, kind: str = "plain") -> Token:
    return _mk_cached(text, tuple(parts), script, kind)


@lru_cache(maxsize=200_000)
def _mk_cached(text: str, parts: tuple[str, ...], script: str, kind: str) -> Token:
    # A compound's key is the concatenation of its parts' keys, each with its article removed, so
    # "abd" + "al-rahman" and "abdurrahman" and "عبد الرحمن" all give BD + RHMN.
    key = "".join(skeleton(p) for p in parts if p)
    if script == "Latn":
        latin = "".join(canonical_latin(p) for p in parts if p)
    else:
        latin = ""
    return Token(text=text, key=key, latin=latin, script=script, kind=kind)


def _strip_ar_article(w: str) -> str:
    return w[2:] if w.startswith(AR_AL) and len(w) >= 4 else w


def _words(raw: str) -> list[tuple[str, str]]:
    """(word, script) pairs; Arabic words normalised, Latin folded; hyphens split words."""
    text = normalise_arabic(raw)
    # brackets often hold a second rendering of the same name; their words still count
    out: list[tuple[str, str]] = []
    for w in fold_latin(text).split():
        if any(is_arabic(c) for c in w):
            out.append(("".join(c for c in w if is_arabic(c)), "Arab"))
        elif w.isdigit():
            continue
        else:
            out.append((w, "Latn"))
    return out


def parse_name(raw: str) -> ParsedName:
    """Parse one name string; never raises on odd input (an empty result has ``empty`` True)."""
    raw = raw or ""
    result = ParsedName(raw=raw, script=script_of(raw))
    words = _words(raw)
    tokens: list[Token] = []
    father_idx: int | None = None
    i = 0
    n = len(words)
    while i < n:
        w, sc = words[i]
        nxt = words[i + 1] if i + 1 < n else None
        nxt2 = words[i + 2] if i + 2 < n else None
        if sc == "Arab":
            if w in AR_CONNECTORS and tokens:
                father_idx = len(tokens) if father_idx is None else father_idx
                i += 1
                continue
            if w in AR_HONORIFICS:
                result.honorifics.append(w)
                i += 1
                continue
            if w == AR_ABD and nxt and nxt[1] == "Arab":
                tokens.append(_mk(f"{w} {nxt[0]}", ["abd", _strip_ar_article(nxt[0])], "Arab"))
                i += 2
                continue
            if w.startswith(AR_ABD) and len(w) > 4:
                tokens.append(_mk(w, ["abd", _strip_ar_article(w[3:])], "Arab"))
                i += 1
                continue
            if w in AR_ABU | AR_UMM and nxt and nxt[1] == "Arab":
                tokens.append(_mk(f"{w} {nxt[0]}", ["abu" if w in AR_ABU else "um", _strip_ar_article(nxt[0])], "Arab", "kunya"))
                i += 2
                continue
            if (nxt and nxt[1] == "Arab" and (nxt[0] in (AR_AL + AR_DIN, AR_ALLAH))):
                tokens.append(_mk(f"{w} {nxt[0]}", [w, _strip_ar_article(nxt[0])], "Arab"))
                i += 2
                continue
            for suffix in (AR_AL + AR_DIN, AR_ALLAH):
                if w.endswith(suffix) and len(w) > len(suffix) + 1:
                    tokens.append(_mk(w, [w[: -len(suffix)], suffix[2:]], "Arab"))
                    break
            else:
                kind = "nisba" if (w.startswith(AR_AL) and w.endswith("\u064a") and len(w) >= 5 and tokens) else "plain"
                tokens.append(_mk(w, [w], "Arab", kind))
            i += 1
            continue

        # Latin
        if w in NOISE and n > 1:
            result.noise.append(w)
            i += 1
            continue
        if w in LATIN_HONORIFICS and n > 1:
            result.honorifics.append(w)
            i += 1
            continue
        if w in LATIN_CONNECTORS and tokens and nxt:
            father_idx = len(tokens) if father_idx is None else father_idx
            i += 1
            continue
        if w in LATIN_ARTICLES and nxt and nxt[1] == "Latn":
            # "al Jubouri", "ash Shami": the article belongs to the next word; mark a nisba if -i
            nw = nxt[0]
            if nw in _DIN_TOKENS and tokens:
                prev = tokens.pop()
                tokens.append(_mk(f"{prev.text} {w} {nw}", [prev.text, "din"], "Latn"))
                i += 2
                continue
            if nw in _ALLAH_TOKENS and tokens:
                prev = tokens.pop()
                tokens.append(_mk(f"{prev.text} {w} {nw}", [prev.text, "lah"], "Latn"))
                i += 2
                continue
            kind = "nisba" if (nw.endswith(("i", "y")) and len(nw) >= 4 and tokens) else "plain"
            tokens.append(_mk(f"{w} {nw}", [nw], "Latn", kind))
            i += 2
            continue
        if w in _DIN_TOKENS and tokens and tokens[-1].script == "Latn" and tokens[-1].kind == "plain":
            prev = tokens.pop()
            tokens.append(_mk(f"{prev.text} {w}", [prev.text, "din"], "Latn"))
            i += 1
            continue
        if w in _ALLAH_TOKENS and tokens and tokens[-1].script == "Latn" and tokens[-1].kind == "plain":
            prev = tokens.pop()
            tokens.append(_mk(f"{prev.text} {w}", [prev.text, "lah"], "Latn"))
            i += 1
            continue
        if w in LATIN_ABU | LATIN_UMM and nxt and nxt[1] == "Latn":
            nw = nxt[0]
            step = 2
            if nw in LATIN_ARTICLES and nxt2 and nxt2[1] == "Latn":
                nw = nxt2[0]
                step = 3
            tokens.append(_mk(f"{w} {nw}", ["abu" if w in LATIN_ABU else "um", nw], "Latn", "kunya"))
            i += step
            continue
        if w in {"abd", "abdul", "abdel", "abdal", "abdol", "abdil", "abdur", "abdar", "abdus", "abdou", "abdoul", "abdu"} and nxt and nxt[1] == "Latn":
            nw = nxt[0]
            step = 2
            if nw in LATIN_ARTICLES and nxt2 and nxt2[1] == "Latn":
                nw = nxt2[0]
                step = 3
            tokens.append(_mk(f"{w} {nw}", ["abd", nw], "Latn"))
            i += step
            continue
        m = _ABD_PREFIX.match(w)
        if m and w not in {"abdi", "abdu", "abdo", "abda"}:
            tokens.append(_mk(w, ["abd", w[m.end():]], "Latn"))
            i += 1
            continue
        m = _DIN_ATTACHED.match(w)
        if m:
            tokens.append(_mk(w, [m.group(1), "din"], "Latn"))
            i += 1
            continue
        m = _ALLAH_SUFFIX.match(w)
        if m:
            tokens.append(_mk(w, [m.group(1), "lah"], "Latn"))
            i += 1
            continue
        if w.startswith(("abu", "abou")) and len(w) >= 7 and not w.startswith("abub"):
            # "Abuhafs" is rare; "Abubakar" is a given name in East Africa, so only non-b joins split
            rest = w[4:] if w.startswith("abou") else w[3:]
            tokens.append(_mk(w, ["abu", rest], "Latn", "kunya"))
            i += 1
            continue
        if len(w) == 1 and n > 1:
            result.noise.append(w)  # initials carry almost nothing across scripts
            i += 1
            continue
        kind = "nisba" if (w.startswith(("al", "el")) and w.endswith("i") and len(w) >= 6 and tokens) else "plain"
        tokens.append(_mk(w, [w], "Latn", kind))
        i += 1

    tokens = [t for t in tokens if t.key or t.latin]
    result.tokens = tokens
    plain = [t for t in tokens if t.kind == "plain"]
    for t in tokens:
        if t.kind == "kunya" and result.kunya is None:
            result.kunya = t
        if t.kind == "nisba":
            result.nisba = t
    if plain:
        result.given = plain[0]
        rest = plain[1:]
        if father_idx is not None:
            after = [t for t in tokens[father_idx:] if t.kind == "plain"]
            if after:
                result.father = after[0]
                if len(after) > 1:
                    result.grandfather = after[1]
        # a trailing tribal name (al-Jubouri) looks like a nisba but is the family name too
        tail = [t for t in tokens[1:] if t.kind in ("plain", "nisba")]
        if tail and (len(rest) >= 1 or tail[-1].kind == "nisba"):
            result.family = tail[-1]
        if result.father is None and len(rest) >= 2:
            result.father = rest[0]
        if result.grandfather is None and len(rest) >= 3:
            result.grandfather = rest[1]
    return result
