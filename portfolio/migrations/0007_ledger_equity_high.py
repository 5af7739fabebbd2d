"""Each ledger row records the equity high after it (the cockpit's equity curve reads both lines from
one row), backfilled for existing rows by the ledger rule of DESIGN Appendix A; and the time index
becomes (created_at, id), for "the last entry at or before t"."""

from decimal import Decimal

from django.db import migrations, models

FLOWS = ("DEPOSIT", "WITHDRAW")


def backfill(apps, schema_editor):
    """Walk the ledger in order: flows move the high by their amount, P&L only ratchets it up."""
    ledger = apps.get_model("portfolio", "CapitalTransaction")
    high, batch = Decimal(0), []
    for row in ledger.objects.order_by("id").only("id", "kind", "amount", "equity_after").iterator(chunk_size=2000):
        high = high + row.amount if row.kind in FLOWS else max(high, row.equity_after)
        row.equity_high_after = high
        batch.append(row)
        if len(batch) == 2000:
            ledger.objects.bulk_update(batch, ["equity_high_after"])
            batch = []
    if batch:
        ledger.objects.bulk_update(batch, ["equity_high_after"])


class Migration(migrations.Migration):

    dependencies = [
        ('portfolio', '0006_instrument_execution_style'),
        ('positions', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='capitaltransaction',
            name='equity_high_after',
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=18, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='capitaltransaction',
            index=models.Index(fields=['created_at', 'id'], name='ledger_created_id'),
        ),
        migrations.RemoveIndex(  # the new index serves every query the old one did
            model_name='capitaltransaction',
            name='portfolio_c_created_6ec8fc_idx',
        ),
    ]
