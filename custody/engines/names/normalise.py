"""Script-aware normalisation of personal names.

Four public functions with stable signatures (the registry search box indexes with them):

- ``normalise_arabic(text)``: one spelling per Arabic-script letter that clerks write interchangeably.
- ``fold_latin(text)``: lower case, no accents, punctuation to spaces (apostrophes for ayn/hamza vanish).
- ``search_tokens(text)``: normalised tokens of a name for an index, articles split off.
- ``skeleton(token)``: a consonant-class key shared by Arabic script and its Latin transliterations,
  so that محمد, Mohamed and Muhammad all give ``MHMD`` (and علي, Ali give ``AL``).

Plain Python, no Django.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "normalise_arabic",
    "fold_latin",
    "search_tokens",
    "skeleton",
    "is_arabic",
    "script_of",
    "ARABIC_ARTICLES",
    "LATIN_ARTICLES",
]

# --- Arabic script -----------------------------------------------------------------------------

# Harakat, Quranic annotation marks and the superscript alef: Arabic writes short vowels optionally,
# so two spellings of one name differ in them all the time.
_AR_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed]")
_TATWEEL = "\u0640"

_AR_LETTER_MAP = str.maketrans(
    {
        # alef with hamza above/below, madda, wasla: all written as bare alef in rosters
        "\u0623": "\u0627",
        "\u0625": "\u0627",
        "\u0622": "\u0627",
        "\u0671": "\u0627",
        "\u0672": "\u0627",
        "\u0673": "\u0627",
        # hamza carriers
        "\u0624": "\u0648",  # waw with hamza -> waw
        "\u0626": "\u064a",  # yeh with hamza -> yeh
        "\u0621": "",  # lone hamza is dropped by many clerks
        # ta marbuta is pronounced h in pause; rosters write it either way
        "\u0629": "\u0647",
        "\u06c3": "\u0647",
        # alef maqsura and Persian/Urdu yeh forms
        "\u0649": "\u064a",
        "\u06cc": "\u064a",
        "\u06d2": "\u064a",
        "\u06d3": "\u064a",
        "\u06d0": "\u064a",
        # Persian keheh, Urdu heh forms
        "\u06a9": "\u0643",
        "\u06aa": "\u0643",
        "\u06c1": "\u0647",
        "\u06be": "\u0647",
        "\u06d5": "\u0647",
        "\u06c0": "\u0647",
        "\u06c2": "\u0647",
        # Urdu retroflex letters fold to their Arabic base letters
        "\u0679": "\u062a",
        "\u0688": "\u062f",
        "\u0691": "\u0631",
        "\u06ba": "\u0646",
        # Arabic-Indic and Persian digits
        **{chr(0x0660 + i): str(i) for i in range(10)},
        **{chr(0x06F0 + i): str(i) for i in range(10)},
        "\u060c": " ",  # Arabic comma
        "\u061b": " ",
        "\u061f": " ",
        "\u066b": ".",
        "\u066c": ",",
        "\u200c": "",  # ZWNJ inside Persian words
        "\u200d": "",
        "\u200f": "",
        "\u200e": "",
    }
)

ARABIC_ARTICLES = ("\u0627\u0644",)  # ال


def is_arabic(ch: str) -> bool:
    o = ord(ch)
    return 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0x08A0 <= o <= 0x08FF or 0xFB50 <= o <= 0xFEFF


# Name words repeat across a population (Muhammad, Abd al-Rahman...): caching these pure functions
# makes indexing and linkage cost grow with the distinct words, not the records.
@lru_cache(maxsize=262144)
def normalise_arabic(text: str) -> str:
    """Arabic-script text with one letter form per letter clerks confuse; other characters kept."""
    if not text:
        return ""
    # NFKC turns presentation forms (ﺁ, ﻻ) into base letters before the letter map sees them.
    text = unicodedata.normalize("NFKC", text)
    text = _AR_MARKS.sub("", text).replace(_TATWEEL, "")
    text = text.translate(_AR_LETTER_MAP)
    return re.sub(r"\s+", " ", text).strip()


# --- Latin script ------------------------------------------------------------------------------

_LATIN_SPECIAL = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        # ayn and hamza signs in scholarly transliteration carry no letter in everyday spelling
        "ʿ": "",
        "ʾ": "",
        "ʻ": "",
        "ʼ": "",
        "'": "",
        "’": "",
        "‘": "",
        "`": "",
        "´": "",
    }
)

# Cyrillic appears in the UN list for Central Asian and Caucasian names; a plain passport-style
# romanisation is enough to put it in the Latin comparison space.
_CYRILLIC = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r",
    "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch",
    "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya", "ә": "a", "ғ": "gh", "қ": "q",
    "ң": "ng", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
}  # fmt: skip


@lru_cache(maxsize=262144)
def fold_latin(text: str) -> str:
    """Lower-case ASCII-ish form: accents dropped, punctuation to single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text).lower().translate(_LATIN_SPECIAL)
    text = "".join(_CYRILLIC.get(c, c) for c in text)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    # Keep letters of any script (Arabic survives here and is handled by the caller) and digits.
    text = "".join(c if (c.isalnum()) else " " for c in text)
    return re.sub(r"\s+", " ", text).strip()


_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_LATIN_RE = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")


def script_of(text: str) -> str:
    """'Arab', 'Latn', 'Cyrl', 'mixed', 'other' or '' (no letters): by majority of letters."""
    letters = sum(1 for c in text if c.isalpha())
    if not letters:
        return ""
    counts = {
        "Arab": len(_ARABIC_RE.findall(text)),
        "Latn": len(_LATIN_RE.findall(text)),
        "Cyrl": len(_CYRILLIC_RE.findall(text)),
    }
    counts["other"] = max(0, letters - sum(counts.values()))
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] >= 0.8 * letters else "mixed"


LATIN_ARTICLES = frozenset({"al", "el", "ul", "il", "ol"})


def _strip_article_latin(tok: str) -> str | None:
    # "aljubouri" -> "jubouri"; only when a real word remains, so "ali" and "alam" stay whole.
    for art in ("al", "el", "ul"):
        if tok.startswith(art) and len(tok) - len(art) >= 4:
            return tok[len(art):]
    return None


def search_tokens(text: str) -> list[str]:
    """Normalised tokens for a search index and for a query, in the same way.

    Latin tokens are folded; Arabic tokens normalised; articles (al-, el-, ال) are dropped as
    separate tokens; an attached Latin article adds the bare form beside the whole token, so
    "Al-Jubouri", "al jubouri", "Aljubouri" and "jubouri" all produce "jubouri"; an attached
    Arabic article is removed ("الجبوري" gives "جبوري").
    Order is kept; duplicates are removed.
    """
    if not text:
        return []
    text = normalise_arabic(text)
    out: list[str] = []
    for raw in fold_latin(text).split():
        if any(is_arabic(c) for c in raw):
            if raw in ARABIC_ARTICLES:
                continue
            # ال is always the article on a name token (الله is shorter than the cut-off), so only
            # the bare form is indexed and "الجبوري" and "جبوري" meet.
            out.append(raw[2:] if raw.startswith("\u0627\u0644") and len(raw) >= 5 else raw)
        else:
            if raw in LATIN_ARTICLES:
                continue
            out.append(raw)
            stripped = _strip_article_latin(raw)
            if stripped:
                out.append(stripped)
    seen: set[str] = set()
    return [t for t in out if not (t in seen or seen.add(t))]


# --- cross-script skeleton ---------------------------------------------------------------------

# Consonant classes. Short vowels are absent from Arabic script and spelled at will in Latin, and
# alef/waw/yeh double as long vowels, so all vowels and semivowels drop out; letters that one
# transliteration habit or another renders alike share a class (q/k/g, dh/th/z, s/ṣ, t/ṭ).
_AR_SKELETON = {
    "\u0628": "B", "\u067e": "B",
    "\u062a": "T", "\u0637": "T", "\u062b": "T",
    "\u062c": "J",
    "\u0686": "C", "\u0634": "C",
    "\u062d": "H", "\u0647": "H",
    "\u062e": "X",
    "\u062f": "D", "\u0630": "D", "\u0636": "D", "\u0638": "D", "\u0632": "D", "\u0698": "D",
    "\u0631": "R",
    "\u0633": "S", "\u0635": "S",
    "\u063a": "K", "\u0642": "K", "\u0643": "K", "\u06af": "K",
    "\u0641": "F", "\u06a4": "F",
    "\u0644": "L",
    "\u0645": "M",
    "\u0646": "N",
}  # fmt: skip

# A word-initial vowel, alef or ayn is kept as one class "A" (and initial y/w as themselves): short
# names (Ali, Ayub, Issa, Omar) otherwise shrink to one consonant and collide with everything.
_AR_INITIAL = {"\u0627": "A", "\u0639": "A", "\u064a": "Y", "\u0648": "W"}
_LATIN_INITIAL = {"a": "A", "e": "A", "i": "A", "o": "A", "u": "A", "y": "Y", "w": "W"}

_LATIN_DIGRAPHS = [
    ("sch", "C"),
    ("dj", "J"),
    ("sh", "C"),
    ("ch", "C"),
    ("kh", "X"),
    ("gh", "K"),
    ("th", "T"),
    ("dh", "D"),
    ("zh", "D"),
    ("ph", "F"),
    ("ck", "K"),
    ("x", "KS"),
]
_LATIN_SKELETON = {
    "b": "B", "p": "B", "t": "T", "j": "J", "h": "H", "d": "D", "z": "D", "r": "R", "s": "S",
    "f": "F", "v": "F", "k": "K", "q": "K", "g": "K", "c": "K", "l": "L", "m": "M", "n": "N",
}  # fmt: skip


def _collapse(s: str) -> str:
    out: list[str] = []
    for c in s:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


@lru_cache(maxsize=262144)
@lru_cache(maxsize=200_000)
def skeleton(token: str) -> str:
    """Consonant-class key of one name token, equal across scripts for common transliterations.

    A leading article is removed first (al-/el-/ال), a word-final h (ta marbuta, "Fatimah") is
    dropped, and doubled consonants (shadda, "Muhammad") collapse.
    """
    if not token:
        return ""
    tok = normalise_arabic(token)
    if any(is_arabic(c) for c in tok):
        tok = "".join(c for c in tok if is_arabic(c))
        if tok.startswith("\u0627\u0644") and len(tok) >= 4:
            tok = tok[2:]
        key = _AR_INITIAL.get(tok[:1], "") + "".join(_AR_SKELETON.get(c, "") for c in tok)
    else:
        tok = fold_latin(tok).replace(" ", "")
        for art in ("al", "el", "ul"):
            if tok.startswith(art) and len(tok) - len(art) >= 3:
                tok = tok[len(art):]
                break
        initial = _LATIN_INITIAL.get(tok[:1], "")
        for a, b in _LATIN_DIGRAPHS:
            tok = tok.replace(a, b)
        key = initial + "".join(c if c.isupper() else _LATIN_SKELETON.get(c, "") for c in tok)
    key = _collapse(key)
    if len(key) > 1 and key.endswith("H"):
        key = key[:-1]
    return key
