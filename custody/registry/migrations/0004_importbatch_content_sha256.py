from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0003_alter_person_custody_status'),
    ]

    operations = [
        migrations.AddField(
            model_name='importbatch',
            name='content_sha256',
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
    ]
