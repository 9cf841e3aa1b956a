"""The recipients every deployment starts with: the Iraqi courts that try the detainees held near
Baghdad. Prosecutors of countries of origin are added by supervisors as cases reach them."""

from django.db import migrations

RECIPIENTS = [
    ("IQ-CCC", "Central Criminal Court of Iraq", "المحكمة الجنائية المركزية العراقية", "court", "IQ"),
    ("IQ-PP", "Public Prosecution of Iraq", "الادعاء العام العراقي", "prosecutor", "IQ"),
]


def add(apps, schema_editor):  # type: ignore[no-untyped-def]
    Recipient = apps.get_model("cases", "Recipient")
    for code, name, name_ar, kind, country in RECIPIENTS:
        Recipient.objects.get_or_create(code=code, defaults=dict(name=name, name_ar=name_ar, kind=kind, country=country))


def remove(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("cases", "Recipient").objects.filter(code__in=[r[0] for r in RECIPIENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
