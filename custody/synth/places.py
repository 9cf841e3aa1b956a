"""Countries, their weights among the detainees, towns of birth, and the scenario's facilities.

Weights are shares of the detainee population, shaped on public descriptions of the north-east Syrian
prisons (Iraqis and Syrians the large majority, then Tunisia, Saudi Arabia, Turkey, Russia, Morocco,
Egypt, Central Asia, Western Europe, South-East Asia ...). They are illustrative, not statistics.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str
    name_ar: str
    weight: float  # relative share among detainees
    region: str  # family-name pool in words.FAMILY
    habit: str  # transliteration habit of the country's own lists (translit.HABITS)
    phone: str  # international dialling prefix
    towns: tuple[tuple[str, str], ...]  # (English, Arabic)


def _towns(block: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in block.split(","):
        en, ar = item.strip().split("|")
        out.append((en.strip(), ar.strip()))
    return tuple(out)


COUNTRIES: tuple[Country, ...] = (
    Country("IQ", "Iraq", "العراق", 40.0, "iraq", "iraqi", "+964", _towns(
        "Mosul|الموصل, Baghdad|بغداد, Ramadi|الرمادي, Fallujah|الفلوجة, Tikrit|تكريت, Kirkuk|كركوك, "
        "Tal Afar|تلعفر, Hawija|الحويجة, Baiji|بيجي, Samarra|سامراء, Baqubah|بعقوبة, al-Qaim|القائم, "
        "Haditha|حديثة, Anah|عنة, Sharqat|الشرقاط")),
    Country("SY", "Syria", "سوريا", 33.0, "syria", "levant", "+963", _towns(
        "Raqqa|الرقة, Deir ez-Zor|دير الزور, Aleppo|حلب, Homs|حمص, al-Bab|الباب, Manbij|منبج, "
        "Hasakah|الحسكة, Idlib|إدلب, Mayadin|الميادين, Abu Kamal|البوكمال, Tabqa|الطبقة, Hajin|هجين, "
        "Shaddadi|الشدادي")),
    Country("TN", "Tunisia", "تونس", 2.6, "maghreb", "franco", "+216", _towns(
        "Tunis|تونس, Ben Guerdane|بن قردان, Bizerte|بنزرت, Sfax|صفاقس, Kairouan|القيروان")),
    Country("SA", "Saudi Arabia", "السعودية", 2.0, "gulf", "gulf", "+966", _towns(
        "Riyadh|الرياض, Jeddah|جدة, Buraydah|بريدة, Dammam|الدمام, Taif|الطائف")),
    Country("TR", "Turkey", "تركيا", 1.8, "levant", "turkish", "+90", _towns(
        "Istanbul|إسطنبول, Gaziantep|غازي عنتاب, Adana|أضنة, Konya|قونية, Urfa|أورفة")),
    Country("RU", "Russia", "روسيا", 1.6, "central", "russian", "+7", _towns(
        "Grozny|غروزني, Makhachkala|محج قلعة, Nalchik|نالتشيك, Khasavyurt|خاسافيورت, Kazan|قازان")),
    Country("MA", "Morocco", "المغرب", 1.5, "maghreb", "franco", "+212", _towns(
        "Casablanca|الدار البيضاء, Tangier|طنجة, Tetouan|تطوان, Fez|فاس")),
    Country("EG", "Egypt", "مصر", 1.4, "levant", "egyptian", "+20", _towns(
        "Cairo|القاهرة, Alexandria|الإسكندرية, Giza|الجيزة, Arish|العريش")),
    Country("JO", "Jordan", "الأردن", 1.2, "levant", "levant", "+962", _towns(
        "Zarqa|الزرقاء, Amman|عمان, Irbid|إربد, Salt|السلط, Maan|معان")),
    Country("UZ", "Uzbekistan", "أوزبكستان", 1.1, "central", "russian", "+998", _towns(
        "Tashkent|طشقند, Andijan|أنديجان, Namangan|نمنغان, Samarkand|سمرقند")),
    Country("TJ", "Tajikistan", "طاجيكستان", 1.0, "central", "russian", "+992", _towns(
        "Dushanbe|دوشنبه, Khujand|خجند, Kulob|كولاب")),
    Country("FR", "France", "فرنسا", 1.0, "maghreb", "franco", "+33", _towns(
        "Paris|باريس, Lyon|ليون, Toulouse|تولوز, Nice|نيس, Strasbourg|ستراسبورغ")),
    Country("DE", "Germany", "ألمانيا", 0.8, "levant", "german", "+49", _towns(
        "Berlin|برلين, Hamburg|هامبورغ, Dinslaken|دينسلاكن, Frankfurt|فرانكفورت")),
    Country("ID", "Indonesia", "إندونيسيا", 0.8, "south_asia", "malay", "+62", _towns(
        "Jakarta|جاكرتا, Surabaya|سورابايا, Bandung|باندونغ, Solo|سولو")),
    Country("KZ", "Kazakhstan", "كازاخستان", 0.6, "central", "russian", "+7", _towns(
        "Almaty|ألماتي, Shymkent|شيمكنت, Atyrau|أتيراو")),
    Country("LB", "Lebanon", "لبنان", 0.6, "levant", "levant", "+961", _towns(
        "Tripoli|طرابلس, Sidon|صيدا, Beirut|بيروت")),
    Country("LY", "Libya", "ليبيا", 0.6, "maghreb", "gulf", "+218", _towns(
        "Derna|درنة, Benghazi|بنغازي, Sirte|سرت, Misrata|مصراتة")),
    Country("AZ", "Azerbaijan", "أذربيجان", 0.5, "central", "turkish", "+994", _towns(
        "Baku|باكو, Sumqayit|سومقاييت, Ganja|كنجة")),
    Country("KG", "Kyrgyzstan", "قيرغيزستان", 0.5, "central", "russian", "+996", _towns(
        "Bishkek|بيشكك, Osh|أوش, Jalal-Abad|جلال آباد")),
    Country("GB", "United Kingdom", "المملكة المتحدة", 0.5, "south_asia", "english", "+44", _towns(
        "London|لندن, Birmingham|برمنغهام, Manchester|مانشستر, Cardiff|كارديف")),
    Country("BE", "Belgium", "بلجيكا", 0.45, "maghreb", "franco", "+32", _towns(
        "Brussels|بروكسل, Antwerp|أنتويرب, Vilvoorde|فيلفورده")),
    Country("DZ", "Algeria", "الجزائر", 0.4, "maghreb", "franco", "+213", _towns(
        "Algiers|الجزائر, Oran|وهران, Constantine|قسنطينة")),
    Country("YE", "Yemen", "اليمن", 0.4, "gulf", "gulf", "+967", _towns(
        "Sanaa|صنعاء, Aden|عدن, Taiz|تعز")),
    Country("CN", "China", "الصين", 0.4, "central", "english", "+86", _towns(
        "Kashgar|كاشغر, Urumqi|أورومتشي, Hotan|خوتان")),
    Country("PS", "Palestine", "فلسطين", 0.3, "levant", "levant", "+970", _towns(
        "Gaza|غزة, Nablus|نابلس, Hebron|الخليل")),
    Country("XK", "Kosovo", "كوسوفو", 0.3, "levant", "german", "+383", _towns(
        "Pristina|بريشتينا, Prizren|بريزرن")),
    Country("NL", "Netherlands", "هولندا", 0.3, "maghreb", "german", "+31", _towns(
        "Amsterdam|أمستردام, Rotterdam|روتردام, The Hague|لاهاي")),
    Country("SE", "Sweden", "السويد", 0.3, "levant", "german", "+46", _towns(
        "Stockholm|ستوكهولم, Malmo|مالمو, Gothenburg|غوتنبرغ")),
    Country("PK", "Pakistan", "باكستان", 0.3, "south_asia", "english", "+92", _towns(
        "Karachi|كراتشي, Lahore|لاهور, Peshawar|بيشاور")),
    Country("SD", "Sudan", "السودان", 0.3, "levant", "egyptian", "+249", _towns(
        "Khartoum|الخرطوم, Omdurman|أم درمان")),
    Country("MY", "Malaysia", "ماليزيا", 0.2, "south_asia", "malay", "+60", _towns(
        "Kuala Lumpur|كوالالمبور, Johor Bahru|جوهور بهرو")),
    Country("KW", "Kuwait", "الكويت", 0.2, "gulf", "gulf", "+965", _towns("Kuwait City|مدينة الكويت, Jahra|الجهراء")),
    Country("SO", "Somalia", "الصومال", 0.2, "levant", "english", "+252", _towns("Mogadishu|مقديشو, Kismayo|كسمايو")),
    Country("AF", "Afghanistan", "أفغانستان", 0.2, "south_asia", "english", "+93", _towns(
        "Kabul|كابل, Jalalabad|جلال آباد, Kunduz|قندوز")),
    Country("GE", "Georgia", "جورجيا", 0.2, "central", "russian", "+995", _towns("Duisi|دويسي, Tbilisi|تبليسي")),
    Country("BA", "Bosnia and Herzegovina", "البوسنة والهرسك", 0.2, "levant", "german", "+387", _towns(
        "Sarajevo|سراييفو, Zenica|زينيتسا")),
    Country("AT", "Austria", "النمسا", 0.2, "levant", "german", "+43", _towns("Vienna|فيينا, Graz|غراتس")),
    Country("AU", "Australia", "أستراليا", 0.2, "levant", "english", "+61", _towns("Sydney|سيدني, Melbourne|ملبورن")),
    Country("DK", "Denmark", "الدنمارك", 0.12, "levant", "german", "+45", _towns("Copenhagen|كوبنهاغن, Aarhus|آرهوس")),
    Country("NO", "Norway", "النرويج", 0.1, "south_asia", "german", "+47", _towns("Oslo|أوسلو, Fredrikstad|فريدريكستاد")),
    Country("FI", "Finland", "فنلندا", 0.1, "levant", "german", "+358", _towns("Helsinki|هلسنكي, Turku|توركو")),
    Country("CH", "Switzerland", "سويسرا", 0.1, "levant", "franco", "+41", _towns("Geneva|جنيف, Winterthur|فينترتور")),
    Country("ES", "Spain", "إسبانيا", 0.1, "maghreb", "franco", "+34", _towns("Ceuta|سبتة, Madrid|مدريد")),
    Country("IT", "Italy", "إيطاليا", 0.1, "maghreb", "franco", "+39", _towns("Milan|ميلانو, Turin|تورينو")),
    Country("AL", "Albania", "ألبانيا", 0.1, "levant", "german", "+355", _towns("Tirana|تيرانا, Elbasan|إلباسان")),
    Country("MK", "North Macedonia", "مقدونيا الشمالية", 0.1, "levant", "german", "+389", _towns(
        "Skopje|سكوبيه, Kumanovo|كومانوفو")),
    Country("US", "United States", "الولايات المتحدة", 0.1, "levant", "english", "+1", _towns(
        "Minneapolis|مينيابوليس, Houston|هيوستن")),
    Country("CA", "Canada", "كندا", 0.1, "levant", "english", "+1", _towns("Toronto|تورونتو, Calgary|كالغاري")),
    Country("PH", "Philippines", "الفلبين", 0.1, "south_asia", "malay", "+63", _towns("Marawi|مراوي, Cotabato|كوتاباتو")),
    Country("TT", "Trinidad and Tobago", "ترينيداد وتوباغو", 0.1, "south_asia", "english", "+1", _towns(
        "Port of Spain|بورت أوف سبين")),
    Country("IN", "India", "الهند", 0.08, "south_asia", "english", "+91", _towns("Hyderabad|حيدر آباد, Kerala|كيرالا")),
    Country("BD", "Bangladesh", "بنغلاديش", 0.06, "south_asia", "english", "+880", _towns("Dhaka|دكا")),
    Country("IR", "Iran", "إيران", 0.06, "levant", "english", "+98", _towns("Ahvaz|الأهواز")),
    Country("BH", "Bahrain", "البحرين", 0.05, "gulf", "gulf", "+973", _towns("Manama|المنامة")),
    Country("IE", "Ireland", "أيرلندا", 0.04, "levant", "english", "+353", _towns("Dublin|دبلن")),
    Country("PT", "Portugal", "البرتغال", 0.04, "maghreb", "franco", "+351", _towns("Lisbon|لشبونة")),
)

BY_CODE: dict[str, Country] = {c.code: c for c in COUNTRIES}

# Second nationalities a national of the first country plausibly also holds (dual nationals).
DUAL = {
    "FR": ("MA", "DZ", "TN"), "BE": ("MA",), "NL": ("MA",), "DE": ("TR",), "GB": ("PK", "BD"),
    "SE": ("IQ", "SO"), "DK": ("TR",), "AT": ("BA",), "US": ("SO",), "CA": ("EG",), "AU": ("LB",),
    "SY": ("IQ",), "IQ": ("SY",), "JO": ("PS",), "ES": ("MA",), "IT": ("TN",),
}

# Where men were captured, by period; (English, Arabic, country).
CAPTURE_PLACES: tuple[tuple[str, str, str], ...] = (
    ("Baghuz", "الباغوز", "SY"), ("Baghuz", "الباغوز", "SY"), ("Baghuz", "الباغوز", "SY"),
    ("Hajin", "هجين", "SY"), ("Susah", "السوسة", "SY"), ("Raqqa", "الرقة", "SY"), ("Tabqa", "الطبقة", "SY"),
    ("Manbij", "منبج", "SY"), ("Shaddadi", "الشدادي", "SY"), ("Deir ez-Zor countryside", "ريف دير الزور", "SY"),
    ("Hasakah", "الحسكة", "SY"), ("al-Hol road", "طريق الهول", "SY"),
)

# Scenario facilities. "share" splits the scale's detainee or resident count between sites or camps.
@dataclass(frozen=True, slots=True)
class FacilitySpec:
    code: str
    name: str
    name_ar: str
    kind: str  # prison, camp, transit, receiving, hospital
    country: str
    lat: float
    lon: float
    custodian: str  # agency code
    share: float = 0.0
    danger: float = 0.0  # daily hazard the planners start from; prisons only


PRISONS: tuple[FacilitySpec, ...] = (
    FacilitySpec("HSK", "Hasakah Central (Ghuwayran)", "سجن الحسكة المركزي (غويران)", "prison", "SY", 36.4747, 40.7216, "SDF", 0.39, 0.020),
    FacilitySpec("SHD", "Shaddadi", "سجن الشدادي", "prison", "SY", 36.0580, 40.7290, "SDF", 0.215, 0.030),
    FacilitySpec("QMS", "Qamishli", "سجن القامشلي", "prison", "SY", 37.0522, 41.2272, "SDF", 0.13, 0.010),
    FacilitySpec("DRK", "Derik (al-Malikiyah)", "سجن ديريك (المالكية)", "prison", "SY", 37.0820, 42.1460, "SDF", 0.095, 0.006),
    FacilitySpec("RQA", "Raqqa", "سجن الرقة", "prison", "SY", 35.9594, 39.0110, "SDF", 0.065, 0.035),
    FacilitySpec("TBQ", "Tabqa", "سجن الطبقة", "prison", "SY", 35.8370, 38.5480, "SDF", 0.05, 0.040),
    FacilitySpec("RML", "Rumeilan", "سجن رميلان", "prison", "SY", 36.8600, 41.8700, "SDF", 0.04, 0.008),
)

CAMPS: tuple[FacilitySpec, ...] = (
    FacilitySpec("HOL", "al-Hol camp", "مخيم الهول", "camp", "SY", 36.3797, 41.1497, "SDF", 0.9125),
    FacilitySpec("ROJ", "Roj camp", "مخيم روج", "camp", "SY", 36.8760, 42.1630, "SDF", 0.0875),
)

RECEIVING = FacilitySpec(
    "BRF", "Baghdad Airport Receiving Facility", "منشأة الاستقبال قرب مطار بغداد الدولي", "receiving", "IQ", 33.2625, 44.2346, "IRQ"
)
TRANSIT = FacilitySpec("KJR", "Kharab al-Jir airstrip transit point", "نقطة عبور مدرج خراب الجير", "transit", "SY", 36.8560, 42.0330, "MIL")
HOSPITAL = FacilitySpec("HSH", "Hasakah National Hospital (secure ward)", "مستشفى الحسكة الوطني (الجناح المؤمن)", "hospital", "SY", 36.5021, 40.7490, "SDF")
