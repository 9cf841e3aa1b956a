"""ISO 3166-1 alpha-2 codes with English and Arabic names, for the countries a roster is likely to name.

Any valid two-letter code is accepted; a code missing here is shown as the code itself.
"""

from __future__ import annotations

from django.utils.translation import get_language

COUNTRIES: dict[str, tuple[str, str]] = {
    "IQ": ("Iraq", "العراق"), "SY": ("Syria", "سوريا"), "TN": ("Tunisia", "تونس"),
    "SA": ("Saudi Arabia", "السعودية"), "MA": ("Morocco", "المغرب"), "EG": ("Egypt", "مصر"),
    "JO": ("Jordan", "الأردن"), "LB": ("Lebanon", "لبنان"), "LY": ("Libya", "ليبيا"),
    "DZ": ("Algeria", "الجزائر"), "YE": ("Yemen", "اليمن"), "KW": ("Kuwait", "الكويت"),
    "SD": ("Sudan", "السودان"), "PS": ("Palestine", "فلسطين"), "TR": ("Turkey", "تركيا"),
    "IR": ("Iran", "إيران"), "AF": ("Afghanistan", "أفغانستان"), "PK": ("Pakistan", "باكستان"),
    "RU": ("Russia", "روسيا"), "UZ": ("Uzbekistan", "أوزبكستان"), "TJ": ("Tajikistan", "طاجيكستان"),
    "KZ": ("Kazakhstan", "كازاخستان"), "KG": ("Kyrgyzstan", "قيرغيزستان"), "AZ": ("Azerbaijan", "أذربيجان"),
    "GE": ("Georgia", "جورجيا"), "FR": ("France", "فرنسا"), "DE": ("Germany", "ألمانيا"),
    "GB": ("United Kingdom", "المملكة المتحدة"), "BE": ("Belgium", "بلجيكا"), "NL": ("Netherlands", "هولندا"),
    "SE": ("Sweden", "السويد"), "DK": ("Denmark", "الدنمارك"), "NO": ("Norway", "النرويج"),
    "FI": ("Finland", "فنلندا"), "AT": ("Austria", "النمسا"), "ES": ("Spain", "إسبانيا"),
    "IT": ("Italy", "إيطاليا"), "CH": ("Switzerland", "سويسرا"), "BA": ("Bosnia and Herzegovina", "البوسنة والهرسك"),
    "XK": ("Kosovo", "كوسوفو"), "AL": ("Albania", "ألبانيا"), "MK": ("North Macedonia", "مقدونيا الشمالية"),
    "US": ("United States", "الولايات المتحدة"), "CA": ("Canada", "كندا"), "AU": ("Australia", "أستراليا"),
    "ID": ("Indonesia", "إندونيسيا"), "MY": ("Malaysia", "ماليزيا"), "PH": ("Philippines", "الفلبين"),
    "CN": ("China", "الصين"), "IN": ("India", "الهند"), "BD": ("Bangladesh", "بنغلاديش"),
    "SO": ("Somalia", "الصومال"), "NG": ("Nigeria", "نيجيريا"), "ML": ("Mali", "مالي"),
    "SN": ("Senegal", "السنغال"), "TT": ("Trinidad and Tobago", "ترينيداد وتوباغو"), "MV": ("Maldives", "جزر المالديف"),
    "UA": ("Ukraine", "أوكرانيا"), "IE": ("Ireland", "أيرلندا"), "PT": ("Portugal", "البرتغال"),
    "BH": ("Bahrain", "البحرين"), "QA": ("Qatar", "قطر"), "AE": ("United Arab Emirates", "الإمارات"),
    "OM": ("Oman", "عمان"), "ER": ("Eritrea", "إريتريا"), "ET": ("Ethiopia", "إثيوبيا"),
}


def country_name(code: str, language: str | None = None) -> str:
    code = (code or "").upper()
    names = COUNTRIES.get(code)
    if not names:
        return code
    lang = language or get_language() or "en"
    return names[1] if lang.startswith("ar") else names[0]


def is_country_code(code: str) -> bool:
    return len(code) == 2 and code.isalpha() and code.isupper()
