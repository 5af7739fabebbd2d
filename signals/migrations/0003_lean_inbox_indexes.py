"""Fewer inbox indexes: the fingerprint unique by constraint (no varchar_pattern_ops twin), no
stand-alone instrument index (the (instrument, time) indexes serve every query)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portfolio', '0008_ledger_opening_balance'),
        ('signals', '0002_held_status'),
    ]

    # The new unique constraint first, so the fingerprint is never without one.
    operations = [
        migrations.AddConstraint(
            model_name='signallog',
            constraint=models.UniqueConstraint(fields=('fingerprint',), name='signal_fingerprint_unique'),
        ),
        migrations.AlterField(
            model_name='signallog',
            name='fingerprint',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='signallog',
            name='instrument',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='signals', to='portfolio.instrument'),
        ),
    ]
