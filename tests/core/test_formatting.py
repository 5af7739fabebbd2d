"""Readable numbers (core.formatting): pure, no database."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import formatting as f


@pytest.mark.parametrize("value, text", [
    (5000000, "₹50,00,000.00"), ("5000000.5", "₹50,00,000.50"), (Decimal("-12000"), "-₹12,000.00"),
    (999, "₹999.00"), (100000, "₹1,00,000.00"), (123456789012, "₹1,23,45,67,89,012.00"), (0, "₹0.00"),
    (Decimal("-0.001"), "₹0.00"), (None, "—"), ("abc", "—"),
])
def test_money_uses_indian_grouping(value, text):
    assert f.format_money(value) == text


def test_pnl_money_is_signed_and_classed():
    assert f.format_money(270000, sign=True) == "+₹2,70,000.00"
    assert f.format_money(-12000, sign=True) == "-₹12,000.00"
    assert f.format_money(0, sign=True) == "₹0.00"
    assert [f.pnl_class(v) for v in (5, -5, 0, None)] == ["pnl-pos", "pnl-neg", "pnl-zero", "pnl-zero"]


@pytest.mark.parametrize("value, tick, text", [
    ("74500.0000", "1.0000", "74,500"), ("52000.0500", "0.0500", "52,000.05"), ("52000.07", "0.05", "52,000.05"),
    ("52000.08", "0.05", "52,000.10"), ("812.35", "0.05", "812.35"), ("812.3", "0.5", "812.5"),
    (Decimal("73900"), None, "73,900.00"), (None, "1", "—"),
])
def test_prices_are_shown_to_the_tick(value, tick, text):
    assert f.format_price(value, tick) == text


def test_tick_places():
    assert [f.tick_places(t) for t in ("1.0000", "0.0500", "0.5", "10", None)] == [0, 2, 1, 0, 2]


def test_timestamps_are_ist_with_the_zone():
    moment = datetime(2026, 1, 12, 4, 30, 5, tzinfo=dt_timezone.utc)
    assert f.format_timestamp(moment) == "12 Jan 2026 10:00:05 IST"
    assert f.format_time_of_day(moment) == "10:00:05"
    assert f.format_timestamp(None) == "—"
    with pytest.raises(ValueError):
        f.format_timestamp(datetime(2026, 1, 12))
    assert f.ist_midnight(datetime(2026, 1, 11, 20, 0, tzinfo=dt_timezone.utc)).isoformat() == "2026-01-12T00:00:00+05:30"


def test_the_admin_date_format_writes_the_same_timestamps():
    """Django's DATETIME_FORMAT (core/formats) renders exactly what format_timestamp writes."""
    from django.utils import dateformat, timezone

    moment = datetime(2026, 11, 28, 18, 45, 0, tzinfo=dt_timezone.utc)
    assert dateformat.format(timezone.localtime(moment), f.DJANGO_DATETIME_FORMAT) == f.format_timestamp(moment)


@pytest.mark.parametrize("seconds, text", [
    (0, "0 s"), (4.7, "4 s"), (60, "1 min"), (125, "2 min 5 s"), (3600, "1 h"), (3 * 3600 + 720, "3 h 12 min"),
    (2 * 86400 + 4 * 3600, "2 d 4 h"), (-3, "0 s"),
])
def test_ages(seconds, text):
    assert f.format_age(seconds) == text == f.format_age(timedelta(seconds=seconds))


def test_percent_r_and_short_money():
    assert f.format_percent(Decimal("12.3456")) == "12.35%"
    assert f.format_r(Decimal("2.4")) == "2.40 R"
    assert [f.format_money_short(v) for v in (5330000, 125000000, 95000, -250000)] == [
        "₹53.30 L", "₹12.50 Cr", "₹95,000", "-₹2.50 L"]


def test_check_details_read_as_numbers_without_trailing_zeros():
    assert f.format_detail_value("5000000.00") == "50,00,000"
    assert f.format_detail_value("0.1250") == "0.125"
    assert f.format_detail_value(True) == "yes"
    assert f.format_detail_value({"limiter": "risk", "lots": 9}) == "limiter risk; lots 9"
    assert f.format_detail_value(["a", 1500]) == "a, 1,500"


@given(st.integers(min_value=-10**15, max_value=10**15))
def test_grouping_keeps_every_digit_and_groups_in_twos_above_the_thousands(n):
    text = f.format_number(n, 0)
    assert int(text.replace(",", "")) == n
    groups = text.lstrip("-").split(",")
    assert len(groups[-1]) == 3 or len(groups) == 1
    assert all(len(g) == 2 for g in groups[1:-1]) and 1 <= len(groups[0]) <= (3 if len(groups) == 1 else 2)
