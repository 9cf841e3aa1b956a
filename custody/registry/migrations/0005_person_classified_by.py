# The agency that set a person's current classification (custody.registry.services.do_classify).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('registry', '0004_importbatch_content_sha256'),
    ]

    operations = [
        migrations.AddField(
            model_name='person',
            name='classified_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='accounts.agency', verbose_name='classification set by'),
        ),
    ]
