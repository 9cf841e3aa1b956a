"""A small seeded generator of invented people written in Arabic script and in several Latin
transliteration habits, with truth ids. Our own synthetic data, for tests only."""

from __future__ import annotations

import csv
import random
from pathlib import Path

GIVEN = [
    ("محمد", ["Mohammed", "Muhammad", "Mohamed", "Mohamad"]),
    ("أحمد", ["Ahmed", "Ahmad"]),
    ("عبد الرحمن", ["Abdulrahman", "Abd al-Rahman", "Abdel Rahman", "Abdurrahman"]),
    ("عمر", ["Omar", "Umar"]),
    ("يوسف", ["Yousef", "Yusuf", "Youssef"]),
    ("خالد", ["Khalid", "Khaled"]),
    ("حسين", ["Hussein", "Husain", "Hussain"]),
    ("إبراهيم", ["Ibrahim", "Ebrahim"]),
    ("مصطفى", ["Mustafa", "Moustafa"]),
    ("عبد الله", ["Abdullah", "Abdallah", "Abd Allah"]),
    ("صالح", ["Saleh", "Salih"]),
    ("جمال", ["Jamal", "Gamal"]),
    ("طارق", ["Tariq", "Tarek", "Tarik"]),
    ("فيصل", ["Faisal", "Faysal"]),
    ("حمزة", ["Hamza", "Hamzah"]),
    ("زياد", ["Ziad", "Ziyad"]),
    ("ماجد", ["Majid", "Majed"]),
    ("وليد", ["Walid", "Waleed"]),
    ("ناصر", ["Nasser", "Nasir"]),
    ("بلال", ["Bilal", "Belal"]),
    ("مروان", ["Marwan", "Merwan"]),
    ("قاسم", ["Qasim", "Kasim", "Qassem"]),
]
FAMILY = [
    ("الجبوري", ["Al-Jubouri", "al-Juburi", "Aljubouri"]),
    ("الدليمي", ["Al-Dulaimi", "al-Dulaymi"]),
    ("العبيدي", ["Al-Obaidi", "al-Ubaydi"]),
    ("التكريتي", ["Al-Tikriti", "al-Takriti"]),
    ("الشمري", ["Al-Shammari", "al-Shamari"]),
    ("العنزي", ["Al-Anazi", "al-Enezi"]),
    ("الكبيسي", ["Al-Kubaisi", "al-Kubaysi"]),
    ("الحمداني", ["Al-Hamdani", "el-Hamdany"]),
    ("السامرائي", ["Al-Samarrai", "al-Samarra'i"]),
    ("الراوي", ["Al-Rawi", "el-Rawi"]),
    ("الفلاحي", ["Al-Falahi", "al-Fallahi"]),
    ("المشهداني", ["Al-Mashhadani", "al-Mashadani"]),
]


def people(n: int, seed: int = 7) -> list[dict[str, str]]:
    """n people, each written 1-3 times (Arabic script, Latin habits), with identity_id."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for pid in range(n):
        g, f, fam = rng.choice(GIVEN), rng.choice(GIVEN), rng.choice(FAMILY)
        year = rng.randint(1965, 2004)
        dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        nat = rng.choice(["Iraq", "Syria", "Tunisia", "Saudi Arabia"])
        for k in range(rng.choice([1, 2, 2, 3])):
            if k == 0 or rng.random() < 0.4:
                name = f"{g[0]} {f[0]} {fam[0]}"
                script = "Arab"
            else:
                name = f"{rng.choice(g[1])} {rng.choice(f[1])} {rng.choice(fam[1])}"
                script = "Latn"
            row_dob = dob if rng.random() < 0.5 else (str(year) if rng.random() < 0.6 else "")
            rows.append(
                {
                    "record_id": f"s{len(rows):05d}",
                    "identity_id": f"P{pid:04d}",
                    "name": name,
                    "script": script,
                    "dob": row_dob,
                    "nationality": nat if rng.random() < 0.7 else "",
                }
            )
    rng.shuffle(rows)
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


MOTHERS = [
    ("خديجة", ["Khadija", "Khadijah"]),
    ("فاطمة", ["Fatima", "Fatma"]),
    ("زينب", ["Zainab", "Zeinab"]),
    ("مريم", ["Maryam", "Mariam"]),
    ("عائشة", ["Aisha", "Aysha"]),
    ("هدى", ["Huda", "Hoda"]),
]


def households(n: int, seed: int = 5, repeat: float = 0.5) -> list[dict[str, str]]:
    """n households as a camp register writes them: 2-4 children sharing father's, grandfather's,
    family and mother's names, with their own given names and birth years; each child written once
    in Arabic script and, with probability ``repeat``, again in Latin letters. identity_id per
    child, household_id."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for hid in range(n):
        father, grand, fam = rng.choice(GIVEN), rng.choice(GIVEN), rng.choice(FAMILY)
        mother, mfam = rng.choice(MOTHERS), rng.choice(FAMILY)
        year = rng.randint(2000, 2012)
        for c, g in enumerate(rng.sample([x for x in GIVEN if x not in (father, grand)], rng.randint(2, 4))):
            year += rng.randint(2, 4)
            sex = rng.choice("MF")
            dob = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            for k in range(2 if rng.random() < repeat else 1):
                if k == 0:
                    name = f"{g[0]} {father[0]} {grand[0]} {fam[0]}"
                    mname = f"{mother[0]} {mfam[0]}"
                else:
                    name = f"{rng.choice(g[1])} {rng.choice(father[1])} {rng.choice(grand[1])} {rng.choice(fam[1])}"
                    mname = f"{rng.choice(mother[1])} {rng.choice(mfam[1])}"
                rows.append(
                    {
                        "record_id": f"h{len(rows):05d}",
                        "identity_id": f"H{hid:03d}-{c}",
                        "household_id": f"H{hid:03d}",
                        "name": name,
                        "dob": dob if k == 0 else str(year),
                        "sex": sex,
                        "mother_name": mname,
                        "nationality": "Iraq",
                    }
                )
    rng.shuffle(rows)
    return rows
