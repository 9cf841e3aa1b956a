"""Country names as rosters write them (ISO code, English, Arabic, common long forms) to one code,
so "SA", "Saudi Arabia" and "السعودية" agree. Unknown values are kept as folded text."""

from __future__ import annotations

from functools import lru_cache

from custody.engines.names.normalise import fold_latin, normalise_arabic

__all__ = ["country_key"]

_NAMES: dict[str, tuple[str, str]] = {
    "IQ": ("Iraq", "العراق"),
    "SY": ("Syria", "سوريا"),
    "TN": ("Tunisia", "تونس"),
    "SA": ("Saudi Arabia", "السعودية"),
    "MA": ("Morocco", "المغرب"),
    "EG": ("Egypt", "مصر"),
    "JO": ("Jordan", "الأردن"),
    "LB": ("Lebanon", "لبنان"),
    "LY": ("Libya", "ليبيا"),
    "DZ": ("Algeria", "الجزائر"),
    "YE": ("Yemen", "اليمن"),
    "KW": ("Kuwait", "الكويت"),
    "SD": ("Sudan", "السودان"),
    "PS": ("Palestine", "فلسطين"),
    "TR": ("Turkey", "تركيا"),
    "IR": ("Iran", "إيران"),
    "AF": ("Afghanistan", "أفغانستان"),
    "PK": ("Pakistan", "باكستان"),
    "RU": ("Russia", "روسيا"),
    "UZ": ("Uzbekistan", "أوزبكستان"),
    "TJ": ("Tajikistan", "طاجيكستان"),
    "KZ": ("Kazakhstan", "كازاخستان"),
    "KG": ("Kyrgyzstan", "قيرغيزستان"),
    "AZ": ("Azerbaijan", "أذربيجان"),
    "GE": ("Georgia", "جورجيا"),
    "FR": ("France", "فرنسا"),
    "DE": ("Germany", "ألمانيا"),
    "GB": ("United Kingdom", "المملكة المتحدة"),
    "BE": ("Belgium", "بلجيكا"),
    "NL": ("Netherlands", "هولندا"),
    "SE": ("Sweden", "السويد"),
    "DK": ("Denmark", "الدنمارك"),
    "NO": ("Norway", "النرويج"),
    "FI": ("Finland", "فنلندا"),
    "AT": ("Austria", "النمسا"),
    "ES": ("Spain", "إسبانيا"),
    "IT": ("Italy", "إيطاليا"),
    "CH": ("Switzerland", "سويسرا"),
    "BA": ("Bosnia and Herzegovina", "البوسنة والهرسك"),
    "XK": ("Kosovo", "كوسوفو"),
    "AL": ("Albania", "ألبانيا"),
    "MK": ("North Macedonia", "مقدونيا الشمالية"),
    "US": ("United States", "الولايات المتحدة"),
    "CA": ("Canada", "كندا"),
    "AU": ("Australia", "أستراليا"),
    "ID": ("Indonesia", "إندونيسيا"),
    "MY": ("Malaysia", "ماليزيا"),
    "PH": ("Philippines", "الفلبين"),
    "CN": ("China", "الصين"),
    "IN": ("India", "الهند"),
    "BD": ("Bangladesh", "بنغلاديش"),
    "SO": ("Somalia", "الصومال"),
    "NG": ("Nigeria", "نيجيريا"),
    "ML": ("Mali", "مالي"),
    "SN": ("Senegal", "السنغال"),
    "TT": ("Trinidad and Tobago", "ترينيداد وتوباغو"),
    "MV": ("Maldives", "جزر المالديف"),
    "UA": ("Ukraine", "أوكرانيا"),
    "IE": ("Ireland", "أيرلندا"),
    "PT": ("Portugal", "البرتغال"),
    "BH": ("Bahrain", "البحرين"),
    "QA": ("Qatar", "قطر"),
    "AE": ("United Arab Emirates", "الإمارات"),
    "OM": ("Oman", "عمان"),
    "ER": ("Eritrea", "إريتريا"),
    "ET": ("Ethiopia", "إثيوبيا"),
}  # fmt: skip

_ALIASES = {
    "russian federation": "RU", "former soviet union": "RU", "ussr": "RU", "syrian arab republic": "SY",
    "united states of america": "US", "usa": "US", "uk": "GB", "great britain": "GB", "england": "GB",
    "united republic of tanzania": "TZ", "tanzania": "TZ", "iran islamic republic of": "IR",
    "republic of iraq": "IQ", "kingdom of saudi arabia": "SA", "ksa": "SA", "turkiye": "TR",
    "democratic republic of the congo": "CD", "bosnia": "BA", "macedonia": "MK", "the netherlands": "NL",
    "holland": "NL", "kyrgyz republic": "KG", "palestinian territories": "PS", "state of palestine": "PS",
    "سورية": "SY", "الجمهورية العربية السورية": "SY", "المملكة العربية السعودية": "SA", "روسيا الاتحادية": "RU",
}  # fmt: skip


def _fold(text: str) -> str:
    return fold_latin(normalise_arabic(text))


_INDEX: dict[str, str] = {}
for _code, (_en, _ar) in _NAMES.items():
    _INDEX[_code.lower()] = _code
    _INDEX[_fold(_en)] = _code
    _INDEX[_fold(_ar)] = _code
for _alias, _code in _ALIASES.items():
    _INDEX[_fold(_alias)] = _code


@lru_cache(maxsize=4096)
def country_key(value: str) -> str:
    """ISO 3166-1 alpha-2 code when the value names a known country, else the folded text."""
    folded = _fold(value)
    if not folded:
        return ""
    return _INDEX.get(folded, folded)
