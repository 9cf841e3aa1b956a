"""Spelling habits: how each roster's clerks write an Arabic name in Latin letters, and how Arabic script
drifts between registers.

A *habit* is a probability distribution over choices (ū as u/oo/ou, q as q/k/g, the article as al-/Al /el-
/nothing, ʿAbd al-Raḥmān as Abd al-Rahman/Abdulrahman/Abderrahmane ...). A *Style* is one clerk: one draw
from a habit, applied consistently to every name that clerk writes. A roster is written by a handful of
clerks, so one source is internally consistent-ish yet not uniform, as real registers are.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from functools import lru_cache

from custody.synth.rand import below, between, pick, weighted

Choice = tuple[tuple[object, float], ...]

SUN = frozenset({"t", "th", "d", "dh", "r", "z", "s", "sh", "ṣ", "ḍ", "ṭ", "ẓ", "l", "n"})
SHORT = frozenset({"a", "i", "u"})
LONG = frozenset({"ā", "ī", "ū", "á"})
VOWELS = SHORT | LONG | {"ay", "aw", "TA"}

# First option of each feature is the "strict" scholarly-without-diacritics spelling.
FEATURES: dict[str, tuple[object, ...]] = {
    "case": ("title", "upper"),
    "long_a": ("a", "aa"),
    "long_i": ("i", "ee", "î", "y"),
    "long_u": ("u", "oo", "ou", "û", "o"),
    "short_a": ("a", "e"),
    "short_i": ("i", "e"),
    "short_u": ("u", "o", "i", "ou"),
    "final_a": ("a", "e"),
    "final_i": ("i", "e"),
    "final_u": ("u", "e", "o"),
    "ay": ("ay", "ai", "ei", "ey"),
    "aw": ("aw", "ou", "au", "o"),
    "ḥ": ("h", "kh"),
    "h": ("h", "g"),
    "ayn_initial": ("", "'"),
    "ayn": ("", "'", "double"),
    "hamza": ("", "'"),
    "q": ("q", "k", "g"),
    "kh": ("kh", "x", "h"),
    "sh": ("sh", "ch", "sch", "ş", "sy", "s"),
    "j": ("j", "dj", "dsch", "c", "dzh", "g"),
    "dh": ("dh", "z", "th", "d", "dz"),
    "th": ("th", "t", "s", "ts"),
    "ḍ": ("d", "dh", "z"),
    "ẓ": ("z", "dh", "th", "d"),
    "gh": ("gh", "g", "ğ"),
    "w_initial": ("w", "ou", "v"),
    "w": ("w", "v"),
    "y_initial": ("y", "j", "i"),
    "gem": (True, False),
    "ta": ("ah", "a", "eh", "e", "at"),
    "article": ("al-", "Al-", "Al ", "el-", "El ", "", "Al", "al "),
    "assim": (False, True),
    "abd": ("sep", "ul_space", "ul_fused", "el_space", "el_fused", "assim_fused"),
    "bin": ("Bin", "Ben", "Ibn"),
    "bu": ("Bu", "Bou", "Abu"),
    "abu": ("Abu", "Abou", "Abo"),
    "umm": ("Umm", "Um", "Oum"),
    "s_double": (False, True),
    "an_final_e": (False, True),
    "muhammad": ("rules", "Mehmet", "Magomed", "Mihemed", "Mohamed", "Mohammed"),
}


def _h(**weights: dict[object, float]) -> dict[str, Choice]:
    return {k: tuple(v.items()) for k, v in weights.items()}


# Each habit overrides some features; the rest stay strict.
HABITS: dict[str, dict[str, Choice]] = {
    "strict": _h(ay={"ay": 0.8, "ai": 0.2}, ta={"ah": 0.6, "a": 0.4}),
    "english": _h(
        long_u={"u": 0.5, "oo": 0.25, "ou": 0.25}, short_u={"u": 0.4, "o": 0.6}, final_a={"a": 0.5, "e": 0.5},
        final_i={"i": 0.5, "e": 0.5}, ay={"ay": 0.3, "ai": 0.5, "ei": 0.2}, q={"q": 0.8, "k": 0.2},
        dh={"dh": 0.6, "z": 0.4}, ta={"a": 0.7, "ah": 0.3}, long_i={"i": 0.7, "ee": 0.3},
        article={"al-": 0.4, "Al-": 0.3, "": 0.2, "Al": 0.1}, ayn={"": 0.7, "'": 0.1, "double": 0.2},
        abd={"ul_space": 0.3, "ul_fused": 0.4, "sep": 0.2, "assim_fused": 0.1}, s_double={True: 0.5, False: 0.5},
    ),
    "sdf": _h(
        case={"upper": 0.6, "title": 0.4}, long_u={"u": 0.5, "oo": 0.3, "ou": 0.2}, short_u={"u": 0.3, "o": 0.7},
        final_a={"a": 0.4, "e": 0.6}, final_i={"i": 0.4, "e": 0.6}, ay={"ay": 0.3, "ai": 0.4, "ei": 0.3},
        q={"q": 0.7, "k": 0.3}, dh={"dh": 0.5, "z": 0.5}, ḍ={"d": 0.5, "dh": 0.5}, ẓ={"z": 0.6, "dh": 0.4},
        ta={"a": 0.7, "ah": 0.3}, long_i={"i": 0.7, "ee": 0.3}, ayn={"": 0.8, "'": 0.1, "double": 0.1},
        article={"al-": 0.3, "Al ": 0.3, "": 0.3, "Al": 0.1},
        abd={"ul_space": 0.4, "ul_fused": 0.4, "sep": 0.2}, s_double={True: 0.5, False: 0.5},
    ),
    "kurmanji": _h(
        case={"upper": 0.5, "title": 0.5}, short_a={"e": 0.8, "a": 0.2}, short_u={"i": 0.3, "u": 0.7},
        final_a={"e": 0.9, "a": 0.1}, final_i={"e": 0.7, "i": 0.3}, long_i={"î": 0.6, "i": 0.4},
        long_u={"û": 0.6, "u": 0.4}, ay={"ey": 0.7, "ay": 0.3}, kh={"x": 0.9, "kh": 0.1}, sh={"ş": 0.8, "sh": 0.2},
        j={"c": 0.8, "j": 0.2}, q={"q": 0.9, "k": 0.1}, dh={"z": 0.8, "d": 0.2}, th={"s": 0.6, "t": 0.4},
        ḍ={"z": 0.6, "d": 0.4}, ẓ={"z": 1.0}, ta={"e": 0.7, "a": 0.3}, article={"": 0.7, "el-": 0.3},
        abd={"ul_fused": 0.5, "ul_space": 0.5}, muhammad={"Mihemed": 0.7, "rules": 0.3},
    ),
    "iraqi": _h(
        case={"upper": 0.8, "title": 0.2}, long_u={"oo": 0.5, "u": 0.3, "ou": 0.2}, short_u={"o": 0.7, "u": 0.3},
        final_a={"e": 0.6, "a": 0.4}, final_i={"e": 0.5, "i": 0.5}, ay={"ai": 0.4, "ei": 0.3, "ay": 0.3},
        q={"q": 0.6, "g": 0.25, "k": 0.15}, dh={"dh": 0.7, "th": 0.3}, ḍ={"dh": 0.6, "d": 0.4},
        ẓ={"dh": 0.6, "z": 0.4}, ta={"a": 0.5, "ah": 0.3, "eh": 0.2}, long_i={"i": 0.6, "ee": 0.4},
        article={"Al-": 0.4, "Al": 0.35, "al-": 0.15, "": 0.1}, ayn={"": 0.7, "double": 0.3},
        abd={"ul_fused": 0.7, "ul_space": 0.3}, s_double={True: 0.3, False: 0.7}, gem={True: 0.7, False: 0.3},
    ),
    "levant": _h(
        long_u={"ou": 0.4, "u": 0.4, "oo": 0.2}, short_u={"o": 0.6, "u": 0.4}, final_a={"e": 0.5, "a": 0.5},
        final_i={"e": 0.6, "i": 0.4}, ay={"ei": 0.4, "ai": 0.3, "ay": 0.3}, q={"q": 0.7, "k": 0.3},
        dh={"z": 0.5, "dh": 0.5}, th={"th": 0.6, "t": 0.2, "s": 0.2}, ẓ={"z": 0.7, "dh": 0.3},
        ta={"a": 0.5, "eh": 0.3, "ah": 0.2}, article={"al-": 0.3, "Al": 0.2, "el-": 0.2, "": 0.3},
        abd={"ul_fused": 0.3, "el_space": 0.2, "ul_space": 0.3, "sep": 0.2}, s_double={True: 0.4, False: 0.6},
    ),
    "egyptian": _h(
        j={"g": 0.8, "j": 0.2}, th={"s": 0.5, "t": 0.5}, dh={"z": 0.9, "d": 0.1}, ẓ={"z": 1.0}, short_u={"o": 0.7, "u": 0.3},
        final_a={"e": 0.7, "a": 0.3}, final_i={"e": 0.7, "i": 0.3}, ta={"a": 0.8, "ah": 0.2}, long_u={"ou": 0.5, "u": 0.5},
        article={"el-": 0.6, "El ": 0.2, "al-": 0.2}, abd={"el_fused": 0.5, "el_space": 0.3, "ul_space": 0.2},
        ay={"ei": 0.5, "ai": 0.3, "ay": 0.2},
    ),
    "gulf": _h(
        short_u={"u": 0.6, "o": 0.4}, final_a={"a": 0.6, "e": 0.4}, ay={"ai": 0.5, "ay": 0.5},
        ta={"ah": 0.5, "a": 0.5}, article={"Al-": 0.5, "al-": 0.3, "": 0.2}, long_i={"i": 0.6, "ee": 0.4},
        abd={"ul_fused": 0.4, "ul_space": 0.3, "sep": 0.3}, dh={"dh": 0.7, "z": 0.3}, ayn={"": 0.6, "double": 0.4},
    ),
    "franco": _h(
        long_u={"ou": 0.9, "u": 0.1}, short_u={"ou": 0.4, "o": 0.4, "u": 0.2}, final_a={"e": 0.7, "a": 0.3},
        final_i={"e": 0.7, "i": 0.3}, ay={"ai": 0.5, "ei": 0.3, "ay": 0.2}, aw={"ou": 0.6, "aw": 0.4},
        q={"k": 0.6, "q": 0.4}, sh={"ch": 0.9, "sh": 0.1}, j={"dj": 0.7, "j": 0.3}, dh={"d": 0.4, "dh": 0.3, "z": 0.3},
        th={"t": 0.6, "th": 0.4}, w_initial={"ou": 0.6, "w": 0.4}, gem={False: 0.5, True: 0.5},
        ta={"a": 0.8, "ah": 0.2}, article={"el-": 0.3, "El ": 0.2, "": 0.3, "al-": 0.2},
        abd={"el_fused": 0.4, "el_space": 0.3, "assim_fused": 0.3}, bin={"Ben": 0.9, "Bin": 0.1},
        bu={"Bou": 0.9, "Bu": 0.1}, abu={"Abou": 0.7, "Abu": 0.3}, umm={"Oum": 0.7, "Umm": 0.3},
        s_double={True: 0.8, False: 0.2}, an_final_e={True: 0.5, False: 0.5}, ayn={"": 0.8, "double": 0.2},
    ),
    "german": _h(
        sh={"sch": 0.7, "sh": 0.3}, j={"dsch": 0.3, "j": 0.4, "dj": 0.3}, y_initial={"j": 0.5, "y": 0.5},
        long_u={"u": 0.7, "ou": 0.3}, gem={False: 0.4, True: 0.6}, short_u={"u": 0.5, "o": 0.5},
        final_a={"e": 0.5, "a": 0.5}, ay={"ai": 0.5, "ei": 0.3, "ay": 0.2}, ta={"a": 0.8, "ah": 0.2},
        article={"al-": 0.4, "el-": 0.2, "Al": 0.2, "": 0.2}, abd={"ul_fused": 0.3, "el_space": 0.3, "ul_space": 0.2, "sep": 0.2},
    ),
    "turkish": _h(
        kh={"h": 0.8, "kh": 0.2}, sh={"ş": 0.8, "sh": 0.2}, j={"c": 0.8, "j": 0.2}, w={"v": 0.8, "w": 0.2},
        w_initial={"v": 0.8, "w": 0.2}, q={"k": 1.0}, th={"s": 1.0}, dh={"z": 1.0}, ḍ={"z": 1.0}, ẓ={"z": 1.0},
        gh={"ğ": 0.5, "g": 0.5}, short_u={"u": 0.5, "o": 0.5}, final_a={"e": 0.9, "a": 0.1}, ta={"e": 0.6, "a": 0.4},
        article={"": 0.7, "el-": 0.3}, abd={"ul_fused": 0.6, "ul_space": 0.4}, ay={"ey": 0.7, "ay": 0.3},
        muhammad={"Mehmet": 0.7, "rules": 0.3},
    ),
    "russian": _h(
        ḥ={"kh": 0.8, "h": 0.2}, h={"g": 0.7, "h": 0.3}, q={"k": 1.0}, j={"dzh": 0.5, "j": 0.5}, w={"v": 0.7, "w": 0.3},
        w_initial={"v": 0.7, "w": 0.3}, dh={"z": 1.0}, th={"s": 1.0}, ḍ={"d": 0.5, "z": 0.5}, ẓ={"z": 1.0},
        ay={"ai": 0.5, "ay": 0.3, "ei": 0.2}, short_u={"u": 0.7, "o": 0.3}, final_a={"a": 0.5, "e": 0.5},
        ta={"a": 1.0}, gem={False: 0.6, True: 0.4}, article={"": 0.6, "al-": 0.2, "Al": 0.2},
        abd={"assim_fused": 0.4, "ul_fused": 0.4, "sep": 0.2}, muhammad={"Magomed": 0.6, "rules": 0.4},
    ),
    "malay": _h(
        sh={"sy": 0.8, "sh": 0.2}, dh={"dz": 0.7, "z": 0.3}, th={"ts": 0.5, "s": 0.5}, ay={"ai": 0.8, "ay": 0.2},
        ta={"ah": 0.6, "a": 0.4}, abd={"assim_fused": 0.6, "ul_fused": 0.4}, article={"": 0.5, "al-": 0.3, "Al": 0.2},
    ),
    "camp": _h(
        long_u={"u": 0.5, "ou": 0.3, "oo": 0.2}, short_u={"u": 0.5, "o": 0.5}, final_a={"a": 0.5, "e": 0.5},
        final_i={"i": 0.5, "e": 0.5}, ay={"ai": 0.5, "ay": 0.3, "ei": 0.2}, ta={"a": 0.8, "ah": 0.2},
        article={"Al-": 0.4, "al-": 0.3, "": 0.3}, abd={"ul_fused": 0.5, "ul_space": 0.3, "sep": 0.2},
        s_double={True: 0.5, False: 0.5}, ayn={"": 0.8, "double": 0.2},
    ),
}


@dataclass(slots=True, eq=False)
class Style:
    """One clerk's consistent spelling choices."""

    habit: str
    choices: dict[str, object]
    _cache: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> object:
        return self.choices[key]

    def render(self, lat: str) -> str:
        """Render one name part (ALA-LC romanisation) in this clerk's spelling."""
        out = self._cache.get(lat)
        if out is None:
            out = _render_part(lat, self)
            self._cache[lat] = out
        return out


def draw_style(habit: str, rng: random.Random) -> Style:
    spec = HABITS[habit]
    choices: dict[str, object] = {}
    for feat, options in FEATURES.items():
        if feat in spec:
            opts, weights = zip(*spec[feat], strict=True)
            choices[feat] = weighted(rng, opts, weights)
        else:
            choices[feat] = options[0]
    return Style(habit, choices)


STRICT = Style("strict", {feat: options[0] for feat, options in FEATURES.items()})


def plain(lat: str) -> str:
    """The scholarly form without diacritics: the reference spelling a variant is compared with."""
    return STRICT.render(lat)


_TOKEN = re.compile(r"th|kh|dh|sh|gh|ay(?![aiuāīūáy])|aw(?![aiuāīūáw])|.", re.S)


@lru_cache(maxsize=4096)
def _tokens(word: str) -> tuple[str, ...]:
    toks = _TOKEN.findall(word)
    if len(toks) > 2 and toks[-2:] == ["a", "h"]:
        toks[-2:] = ["TA"]
    return tuple(toks)


def _render_word(word: str, st: Style) -> str:
    """One word, already lower-case, without article."""
    if st["muhammad"] != "rules" and word.startswith("muḥammad"):
        return str(st["muhammad"]).lower() + _render_word(word[len("muḥammad"):], st) if len(word) > 8 else str(st["muhammad"]).lower()
    toks = _tokens(word)
    n = len(toks)
    vowel_idx = [i for i, t in enumerate(toks) if t in VOWELS]
    last_v = vowel_idx[-1] if vowel_idx else -1
    final_short = (
        last_v if 0 < last_v < n - 1 and toks[last_v] in SHORT and toks[last_v + 1] not in {"ʿ", "ʾ"} else -1
    )
    out: list[str] = []
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else ""
        nxt = toks[i + 1] if i + 1 < n else ""
        if t == prev and t not in VOWELS and t not in {"ʿ", "ʾ"}:
            if not st["gem"]:
                continue
            out.append(out[-1] if out else t)
            continue
        if t in SHORT:
            if i == final_short:
                out.append(str(st[f"final_{t}"]))
            else:
                out.append(str(st[f"short_{t}"]))
        elif t == "ā":
            out.append("ane" if st["an_final_e"] and nxt == "n" and i == n - 2 else str(st["long_a"]))
            if st["an_final_e"] and nxt == "n" and i == n - 2:
                break
        elif t == "ī":
            out.append(str(st["long_i"]))
        elif t == "ū":
            out.append(str(st["long_u"]))
        elif t == "á":
            out.append("a")
        elif t == "ay" or t == "aw":
            out.append(str(st[t]))
        elif t == "TA":
            out.append(str(st["ta"]))
        elif t == "ʿ":
            if i == 0:
                out.append(str(st["ayn_initial"]))
            else:
                mode = st["ayn"]
                if prev == "a" and nxt not in VOWELS and mode != "'":
                    # Saʿd is Saad or Sa'd in every habit, never "Sad".
                    out.append("a")
                elif mode == "double":
                    # Saad, Jumaa: only where no long vowel follows (Saʿīd stays Said, never Saaid).
                    out.append("a" if prev == "a" and nxt not in LONG else "")
                else:
                    out.append(str(mode))
        elif t == "ʾ":
            out.append(str(st["hamza"]))
        elif t in {"ḥ", "h", "q", "kh", "sh", "j", "dh", "th", "ḍ", "ẓ", "gh"}:
            out.append(str(st[t]))
        elif t == "ṣ":
            out.append("s")
        elif t == "ṭ":
            out.append("t")
        elif t == "w":
            out.append(str(st["w_initial"] if i == 0 else st["w"]))
        elif t == "y":
            out.append(str(st["y_initial"]) if i == 0 else "y")
        elif t == "s":
            intervocalic = prev in VOWELS and nxt in VOWELS
            out.append("ss" if st["s_double"] and intervocalic else "s")
        else:
            out.append(t)
    return "".join(out)


def _article(word: str, st: Style, joined_to_prev: bool = False) -> str:
    """'al-X': the article in this clerk's form, with sun-letter assimilation if the clerk does that."""
    body = word[3:]
    first = _tokens(body)[0] if body else ""
    rendered = _cap(_render_word(body, st))
    art = str(st["article"])
    if st["assim"] and first in SUN and art:
        letter = _render_word(first, st)[:1] or first[:1]
        art = art[:-2] + letter + art[-1] if art.endswith(("-", " ")) else art[:-1] + letter
    if art in {"Al", "al"}:
        return art + rendered.lower()
    return art + rendered


def _cap(s: str) -> str:
    for i, ch in enumerate(s):
        if ch.isalpha():
            return s[:i] + ch.upper() + s[i + 1:]
    return s


def _render_part(lat: str, st: Style) -> str:
    words = lat.lower().split()
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if w == "ʿabd" and (nxt.startswith("al-") or nxt == "allāh"):
            out.append(_abd(nxt, st))
            i += 2
            continue
        if nxt == "al-dīn":
            out.append(_compound_din(w, st))
            i += 2
            continue
        if w in {"abū", "umm", "bin", "bū"}:
            key = {"abū": "abu", "umm": "umm", "bin": "bin", "bū": "bu"}[w]
            out.append(str(st[key]))
        elif w.startswith("al-"):
            out.append(_article(w, st))
        else:
            out.append(_cap(_render_word(w, st)))
        i += 1
    text = " ".join(p for p in out if p)
    text = re.sub(r"\s+", " ", text).strip()
    if st["case"] == "upper":
        text = text.upper()
    return text


def _abd(second: str, st: Style) -> str:
    form = st["abd"]
    if second == "allāh":
        return {"sep": "Abd Allah", "ul_space": "Abdullah", "ul_fused": "Abdullah", "el_space": "Abdellah",
                "el_fused": "Abdellah", "assim_fused": "Abdallah"}[str(form)]
    body = second[3:]
    first = _tokens(body)[0]
    x = _render_word(body, st)
    if form == "sep":
        return "Abd " + _article(second, st)
    if form == "ul_space":
        return "Abdul " + _cap(x)
    if form == "ul_fused":
        return "Abdul" + x
    if form == "el_space":
        return "Abdel " + _cap(x)
    if form == "el_fused":
        return "Abdel" + x
    vowel = "e" if st.habit == "franco" else "u"
    if first in SUN:
        lead = x[:1]
        return "Abd" + vowel + (lead if st["gem"] else "") + x
    return "Abd" + vowel + "l" + x


def _compound_din(first: str, st: Style) -> str:
    a = _cap(_render_word(first, st))
    form = st["abd"]
    if form in {"ul_fused", "assim_fused"} or not st["article"]:
        return a + "uddin"
    if form in {"el_fused", "el_space"}:
        return a + ("eddine" if st.habit == "franco" else "eddin")
    return a + " " + _article("al-dīn", st)


# --- Arabic script drift -------------------------------------------------------------------------

_HAMZA_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا"})
_DIACRITICS = "\u064e\u064f\u0650\u0651"


def arabic_variant(ar: str, rng: random.Random, informal: float, typo: float) -> str:
    """The same Arabic name as another register writes it: hamza dropped on alef, ta marbuta as ha, final
    ya/alef maqsura swapped, 'Abd' joined to the next word, an occasional shadda or tatweel, typos."""
    s = ar
    if rng.random() < informal:
        s = s.translate(_HAMZA_ALEF)
    if rng.random() < informal * 0.5:
        s = re.sub(r"ة(?=\s|$)", "ه", s)
    if rng.random() < informal * 0.5:
        s = re.sub(r"ى(?=\s|$)", "ي", s)
    elif rng.random() < informal * 0.2:
        s = re.sub(r"ي(?=\s|$)", "ى", s)
    if rng.random() < informal:
        s = s.replace("عبد ال", "عبدال")
    if rng.random() < 0.03:
        s = s.replace("محمد", "محمّد")
    if rng.random() < 0.02 and len(s) > 4:
        i = between(rng, 1, len(s) - 1)
        if s[i] != " " and s[i - 1] != " ":
            s = s[:i] + "\u0640" + s[i:]
    if rng.random() < typo:
        s = typo_edit(s, rng)
    return s


# --- Latin typos ----------------------------------------------------------------------------------

_VOWEL_SWAP = {"a": "e", "e": "a", "i": "e", "o": "u", "u": "o", "A": "E", "E": "A", "I": "E", "O": "U", "U": "O"}


def typo_edit(s: str, rng: random.Random) -> str:
    """One keyboard-style error inside a word: a letter dropped, doubled, swapped or a vowel misheard."""
    idx = [i for i, ch in enumerate(s) if ch.isalpha() and ch not in _DIACRITICS]
    if len(idx) < 4:
        return s
    i = pick(rng, idx[1:-1])
    op = below(rng, 4)
    if op == 0:
        return s[:i] + s[i + 1:]
    if op == 1:
        return s[:i] + s[i] + s[i:]
    if op == 2 and i + 1 < len(s) and s[i + 1].isalpha():
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if s[i] in _VOWEL_SWAP:
        return s[:i] + _VOWEL_SWAP[s[i]] + s[i + 1:]
    return s[:i] + s[i + 1:]
