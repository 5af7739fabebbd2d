"""Seed the four traded instruments with the parameters of DESIGN §7 and §8."""

from decimal import Decimal

from django.db import migrations

INSTRUMENTS = [
    dict(
        code="BANK_NIFTY", name="Bank Nifty (synthetic future from options)", exchange="NFO",
        contract_kind="synthetic_options", symbol_root="BANKNIFTY", lot_size=30, lot_unit="units",
        point_value=Decimal("30"), margin_per_lot=Decimal("270000"), order_quantity_per_lot=30,
        risk_percent=Decimal("1.0"), vol_percent=Decimal("0.5"), initial_stop_atr_multiple=Decimal("1.5"),
        trailing_stop_atr_multiple=Decimal("2.5"), max_pyramids=5, strike_step=500, tick_size=Decimal("0.05"),
        expiry_rule="last_tuesday", contract_months="", entry_roll_trading_days=5, rollover_days=7,
    ),
    dict(
        code="GOLD_MINI", name="MCX Gold Mini", exchange="MCX", contract_kind="futures", symbol_root="GOLDM",
        lot_size=100, lot_unit="g", point_value=Decimal("10"), margin_per_lot=Decimal("105000"),
        order_quantity_per_lot=1, risk_percent=Decimal("1.0"), vol_percent=Decimal("0.2"),
        initial_stop_atr_multiple=Decimal("1.0"), trailing_stop_atr_multiple=Decimal("2.0"), max_pyramids=3,
        strike_step=None, tick_size=Decimal("1.0"), expiry_rule="fifth", contract_months="",
        entry_roll_trading_days=3, rollover_days=8,
    ),
    dict(
        code="SILVER_MINI", name="MCX Silver Mini", exchange="MCX", contract_kind="futures",
        symbol_root="SILVERM", lot_size=5, lot_unit="kg", point_value=Decimal("5"),
        margin_per_lot=Decimal("385000"), order_quantity_per_lot=1, risk_percent=Decimal("1.0"),
        vol_percent=Decimal("0.2"), initial_stop_atr_multiple=Decimal("2.0"),
        trailing_stop_atr_multiple=Decimal("3.0"), max_pyramids=5, strike_step=None, tick_size=Decimal("1.0"),
        expiry_rule="last_day", contract_months="2,4,6,8,11", entry_roll_trading_days=8, rollover_days=8,
    ),
    dict(
        code="COPPER", name="MCX Copper", exchange="MCX", contract_kind="futures", symbol_root="COPPER",
        lot_size=2500, lot_unit="kg", point_value=Decimal("2500"), margin_per_lot=Decimal("300000"),
        order_quantity_per_lot=1, risk_percent=Decimal("1.0"), vol_percent=Decimal("0.2"),
        initial_stop_atr_multiple=Decimal("3.0"), trailing_stop_atr_multiple=Decimal("5.0"), max_pyramids=3,
        strike_step=None, tick_size=Decimal("0.05"), expiry_rule="last_day", contract_months="",
        entry_roll_trading_days=3, rollover_days=8,
    ),
]


def seed(apps, schema_editor):
    Instrument = apps.get_model("portfolio", "Instrument")
    for values in INSTRUMENTS:
        Instrument.objects.update_or_create(code=values["code"], defaults=values)


def unseed(apps, schema_editor):
    apps.get_model("portfolio", "Instrument").objects.filter(
        code__in=[values["code"] for values in INSTRUMENTS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0002_initial")]
    operations = [migrations.RunPython(seed, unseed)]
