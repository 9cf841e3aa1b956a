"""Generic Arabic name parts the synthetic population is built from.

Each entry is written once in a scholarly romanisation (ALA-LC with macrons and dots, ʿ for ayn, ʾ for
hamza, á for alef maqsura, -ah for ta marbuta) and once in Arabic script. The romanisation keeps every
distinction the Arabic makes so that each roster's own spelling habit (see translit.py) can be derived
from it, the way a clerk derives "Mohammed" or "Mouhamed" from the same name.

These are common given names, tribal and family names, nisbas and kunya bases: no list here is, or is
taken from, a record of any real person.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Part:
    """One name part: scholarly romanisation and Arabic script."""

    lat: str
    ar: str


def _parse(block: str) -> tuple[Part, ...]:
    parts = []
    for line in block.strip().splitlines():
        for item in line.split(","):
            item = item.strip()
            if not item:
                continue
            lat, ar = item.split("|")
            parts.append(Part(lat.strip(), ar.strip()))
    return tuple(parts)


MALE_GIVEN = _parse("""
Muḥammad|محمد, Aḥmad|أحمد, ʿAlī|علي, Ḥusayn|حسين, Ḥasan|حسن, ʿUmar|عمر, ʿUthmān|عثمان, Khālid|خالد
Ibrāhīm|إبراهيم, Yūsuf|يوسف, Maḥmūd|محمود, Muṣṭafá|مصطفى, ʿAbd Allāh|عبد الله, ʿAbd al-Raḥmān|عبد الرحمن
ʿAbd al-Karīm|عبد الكريم, ʿAbd al-ʿAzīz|عبد العزيز, ʿAbd al-Qādir|عبد القادر, ʿAbd al-Salām|عبد السلام
ʿAbd al-Ḥamīd|عبد الحميد, ʿAbd al-Raḥīm|عبد الرحيم, ʿAbd al-Laṭīf|عبد اللطيف, ʿAbd al-Majīd|عبد المجيد
ʿAbd al-Nāṣir|عبد الناصر, ʿAbd al-Jabbār|عبد الجبار, ʿAbd al-Wahhāb|عبد الوهاب, ʿAbd al-Ghanī|عبد الغني
Ṣāliḥ|صالح, Saʿd|سعد, Saʿīd|سعيد, Sulaymān|سليمان, Ismāʿīl|إسماعيل, Yāsīn|ياسين, Ḥamzah|حمزة
Ḥāmid|حامد, Jāsim|جاسم, Qāsim|قاسم, Karīm|كريم, Khalīl|خليل, Jamāl|جمال, Fāḍil|فاضل, Fayṣal|فيصل
Ṭāriq|طارق, Ziyād|زياد, Bilāl|بلال, Anas|أنس, Usāmah|أسامة, Muʿādh|معاذ, Ḥudhayfah|حذيفة, ʿAmmār|عمار
Yaḥyá|يحيى, Zakarīyā|زكريا, Idrīs|إدريس, Mūsá|موسى, ʿĪsá|عيسى, Hārūn|هارون, Ayyūb|أيوب, Sufyān|سفيان
Hishām|هشام, Walīd|وليد, Nāṣir|ناصر, Manṣūr|منصور, Rashīd|رشيد, Majīd|مجيد, Salīm|سليم, Salmān|سلمان
Sāmī|سامي, Mahdī|مهدي, ʿAbbās|عباس, Jumʿah|جمعة, Khalaf|خلف, Ḥammād|حماد, Ḍiyāʾ|ضياء, Dhiyāb|ذياب
Ẓāfir|ظافر, Shākir|شاكر, Ghānim|غانم, Marwān|مروان, Muhannad|مهند, Riyāḍ|رياض, Fāris|فارس, Nawwāf|نواف
Turkī|تركي, ʿĀdil|عادل, Wāʾil|وائل, Rāʾid|رائد, Haytham|هيثم, Thāmir|ثامر, Luqmān|لقمان, Mujāhid|مجاهد
Ṭalḥah|طلحة, Khaṭṭāb|خطاب, Qutaybah|قتيبة, Shuʿayb|شعيب, Hādī|هادي, Ḍirār|ضرار, Sharīf|شريف, Ghassān|غسان
Nūr al-Dīn|نور الدين, Ṣalāḥ al-Dīn|صلاح الدين, Jalāl|جلال, Kamāl|كمال, Ayman|أيمن, Ḥātim|حاتم
""")

# Given names also common in the Caucasus and Central Asia, written as Arabic script renders them.
MALE_GIVEN_CENTRAL = _parse("""
Rustam|رستم, Tīmūr|تيمور, Ruslān|رسلان, Islām|إسلام, Ramaḍān|رمضان, Shāmil|شامل, Jamshīd|جمشيد
Farrukh|فرخ, Bahrām|بهرام, Sardār|سردار, Anwar|أنور, Ilyās|إلياس, Dāwūd|داود, Murād|مراد, Zubayr|زبير
Abū Bakr|أبو بكر, Rasūl|رسول, Naẓar|نظر, Shukr|شكر, Akbar|أكبر
""")

FEMALE_GIVEN = _parse("""
Fāṭimah|فاطمة, ʿĀʾishah|عائشة, Khadījah|خديجة, Maryam|مريم, Zaynab|زينب, Asmāʾ|أسماء, Ḥafṣah|حفصة
Sumayyah|سمية, Ruqayyah|رقية, Āminah|آمنة, Ḥalīmah|حليمة, Salmá|سلمى, Laylá|ليلى, Nūr|نور, Hudá|هدى
Ḥanān|حنان, Samīrah|سميرة, Saʿdīyah|سعدية, Nādiyah|نادية, Rīm|ريم, Ṣafīyah|صفية, Sārah|سارة, Hājar|هاجر
Jamīlah|جميلة, Khawlah|خولة, Raḥmah|رحمة, ʿAbīr|عبير, Īmān|إيمان, Amal|أمل, Ghādah|غادة, Shaymāʾ|شيماء
Duʿāʾ|دعاء, Walāʾ|ولاء, Ibtisām|ابتسام, Sawsan|سوسن, Widād|وداد, Yāsamīn|ياسمين, Nuhá|نهى, Rashā|رشا
Bushrá|بشرى, Marwah|مروة, Lubná|لبنى, Ṭayyibah|طيبة, Naʿīmah|نعيمة, Zahrāʾ|زهراء, Shahad|شهد, Raghad|رغد
Malak|ملك, Hind|هند, Saḥar|سحر, Wafāʾ|وفاء, Fāʾizah|فائزة, Najāḥ|نجاح, Ḥasnāʾ|حسناء, Umaymah|أميمة
""")

# Family, tribal and house names by region. Maghrebi "Bin"/"Bū" names keep their particle.
FAMILY = {
    "iraq": _parse("""
al-Jubūrī|الجبوري, al-Dulaymī|الدليمي, al-ʿUbaydī|العبيدي, al-Shammarī|الشمري, al-ʿAzzāwī|العزاوي
al-Janābī|الجنابي, al-Ḥadīdī|الحديدي, al-Lahaybī|اللهيبي, al-Mashhadānī|المشهداني, al-Karbūlī|الكربولي
al-Fahdāwī|الفهداوي, al-ʿĪsāwī|العيساوي, al-Nuʿaymī|النعيمي, al-Samarrāʾī|السامرائي, al-Bayātī|البياتي
al-Zawbaʿī|الزوبعي, al-Qaysī|القيسي, al-Hāshimī|الهاشمي, al-Juḥayshī|الجحيشي, al-ʿAbbāsī|العباسي
al-Khazrajī|الخزرجي, al-Tamīmī|التميمي, al-Ṭāʾī|الطائي, al-Sabʿāwī|السبعاوي, al-Rāwī|الراوي
al-ʿĀnī|العاني, al-Hītī|الهيتي, al-Mawlā|المولى, al-Ḥamdānī|الحمداني, al-Khātūnī|الخاتوني
"""),
    "syria": _parse("""
al-ʿAkīdī|العكيدي, al-Bakkārī|البكاري, al-Shaʿīṭī|الشعيطي, al-ʿAnizī|العنزي, al-Ḥasan|الحسن
al-Khalaf|الخلف, al-Muḥammad|المحمد, al-ʿAlī|العلي, al-Aḥmad|الأحمد, al-Ḥusayn|الحسين, al-ʿUmar|العمر
al-Shaykh|الشيخ, al-Ḥamūd|الحمود, al-Khalīl|الخليل, al-Hindāwī|الهنداوي, al-Ṣāliḥ|الصالح
al-Ibrāhīm|الإبراهيم, al-Dandal|الدندل, al-Jāsim|الجاسم, al-Ḥamad|الحمد, al-Dahhām|الدهام
al-Mashhūr|المشهور, al-Saʿīd|السعيد, al-Naṣr|النصر, al-Hawīdī|الهويدي
"""),
    "gulf": _parse("""
al-Qaḥṭānī|القحطاني, al-ʿUtaybī|العتيبي, al-Ghāmidī|الغامدي, al-Zahrānī|الزهراني, al-Shahrī|الشهري
al-Ḥarbī|الحربي, al-Muṭayrī|المطيري, al-Dawsarī|الدوسري, al-ʿAsīrī|العسيري, al-Subayʿī|السبيعي
al-Yāmī|اليامي, al-Shammarī|الشمري, al-ʿAnizī|العنزي, al-Rashīdī|الرشيدي, al-Ḥāmid|الحامد
"""),
    "maghreb": _parse("""
Bin ʿAlī|بن علي, Bin Ṣāliḥ|بن صالح, al-Ṭarābulsī|الطرابلسي, al-Jabālī|الجبالي, Bū Zayd|بوزيد
Bin Yūsuf|بن يوسف, al-ʿAmrī|العمري, al-Idrīsī|الإدريسي, al-Ḥasanī|الحسني, Bin ʿUmar|بن عمر
al-Filālī|الفيلالي, al-Mabrūk|المبروك, al-Shābbī|الشابي, Bin Mūsá|بن موسى, al-Sūsī|السوسي
al-ʿAlawī|العلوي, Bū ʿAzzah|بوعزة, Bin Saʿīd|بن سعيد, al-Manṣūrī|المنصوري, al-Ḥamdī|الحمدي
"""),
    "levant": _parse("""
al-Sayyid|السيد, al-Khaṭīb|الخطيب, al-Najjār|النجار, al-Ḥaddād|الحداد, al-Shāmī|الشامي, Manṣūr|منصور
Ḥijāzī|حجازي, Abū Zayd|أبو زيد, ʿAwaḍ|عوض, Salāmah|سلامة, Darwīsh|درويش, ʿĀshūr|عاشور
al-ʿUmarī|العمري, al-Ḥusaynī|الحسيني, Ṣabrī|صبري, al-ʿAṭṭār|العطار, Ḥammūdah|حمودة, al-Faqīh|الفقيه
"""),
    "central": _parse("""
Aḥmadov|أحمدوف, Muḥammadov|محمدوف, Yūsupov|يوسوبوف, Ismāʿīlov|إسماعيلوف, ʿUmarov|عمروف
Ibrāhīmov|إبراهيموف, Karīmov|كريموف, Rasūlov|رسولوف, Naẓarov|نظروف, Saʿīdov|سعيدوف, Ḥasanov|حسنوف
Murādov|مرادوف, Sharīpov|شريبوف, Khalīlov|خليلوف, ʿAlīev|علييف, Dāwūdov|داوودوف
"""),
    "south_asia": _parse("""
Khān|خان, Malik|ملك, Shāh|شاه, Iqbāl|إقبال, Qurayshī|قريشي, Mīr|مير, Ṣiddīqī|صديقي, Anṣārī|أنصاري
Ḥaydar|حيدر, Raḥmān|رحمن
"""),
}

# Origin nisbas, by ISO 3166 alpha-2 code; "*" is the fallback for any other country.
NISBA = {
    "IQ": _parse("al-ʿIrāqī|العراقي, al-Mawṣilī|الموصلي, al-Anbārī|الأنباري, al-Baghdādī|البغدادي, al-Ramādī|الرمادي"),
    "SY": _parse("al-Sūrī|السوري, al-Shāmī|الشامي, al-Ḥalabī|الحلبي, al-Raqqāwī|الرقاوي, al-Dayrī|الديري, al-Ḥimṣī|الحمصي"),
    "TN": _parse("al-Tūnisī|التونسي"),
    "MA": _parse("al-Maghribī|المغربي"),
    "DZ": _parse("al-Jazāʾirī|الجزائري"),
    "LY": _parse("al-Lībī|الليبي"),
    "EG": _parse("al-Miṣrī|المصري"),
    "JO": _parse("al-Urdunī|الأردني"),
    "LB": _parse("al-Lubnānī|اللبناني"),
    "PS": _parse("al-Filasṭīnī|الفلسطيني"),
    "SA": _parse("al-Jazrāwī|الجزراوي, al-Najdī|النجدي"),
    "YE": _parse("al-Yamanī|اليمني"),
    "KW": _parse("al-Kuwaytī|الكويتي"),
    "SD": _parse("al-Sūdānī|السوداني"),
    "SO": _parse("al-Ṣūmālī|الصومالي"),
    "TR": _parse("al-Turkī|التركي"),
    "RU": _parse("al-Shīshānī|الشيشاني, al-Dāghistānī|الداغستاني, al-Rūsī|الروسي"),
    "UZ": _parse("al-Uzbakī|الأوزبكي"),
    "TJ": _parse("al-Ṭājīkī|الطاجيكي"),
    "KZ": _parse("al-Kazākhī|الكازاخي"),
    "KG": _parse("al-Qirghīzī|القرغيزي"),
    "AZ": _parse("al-Adharī|الأذري"),
    "GE": _parse("al-Shīshānī|الشيشاني, al-Jūrjī|الجورجي"),
    "FR": _parse("al-Faransī|الفرنسي"),
    "BE": _parse("al-Baljīkī|البلجيكي"),
    "DE": _parse("al-Almānī|الألماني"),
    "GB": _parse("al-Barīṭānī|البريطاني"),
    "NL": _parse("al-Hūlandī|الهولندي"),
    "ID": _parse("al-Indūnīsī|الإندونيسي"),
    "MY": _parse("al-Mālīzī|الماليزي"),
    "PH": _parse("al-Filibbīnī|الفلبيني"),
    "CN": _parse("al-Turkistānī|التركستاني"),
    "PK": _parse("al-Pākistānī|الباكستاني"),
    "AF": _parse("al-Afghānī|الأفغاني"),
    "US": _parse("al-Amrīkī|الأمريكي"),
    "AU": _parse("al-Usturālī|الأسترالي"),
    "CA": _parse("al-Kanadī|الكندي"),
    "BA": _parse("al-Būsnī|البوسني"),
    "XK": _parse("al-Albānī|الألباني"),
    "AL": _parse("al-Albānī|الألباني"),
    "MK": _parse("al-Albānī|الألباني"),
    "*": _parse("al-Muhājir|المهاجر, al-Gharīb|الغريب"),
}

# Kunyas are "Abū X" (men) or "Umm X" (women); X is usually a male given name.
ABU = Part("Abū", "أبو")
UMM = Part("Umm", "أم")

# Words a roster may use for "son of" between the given name and the father's name.
BIN = Part("bin", "بن")
