"""The real client (``reference/pine-alerts.md``): messages built exactly as the trader's Pine scripts
build them — string concatenation, irregular spacing, ``str.tostring`` full precision and ``#.##``
numbers, ``NaN`` for an undefined series, naive IST ``timenow`` timestamps, no secret — posted the way
TradingView posts them (to ``/webhook/<token>``, as ``application/json`` when the text parses as
strict JSON, else ``text/plain``), and executed."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from positions.models import Position
from signals.models import SignalLog

TOKEN = "pine-contract-token-0123456789abcdef"


@pytest.fixture
def tv(client, settings):
    settings.PM_WEBHOOK_URL_TOKEN = TOKEN

    def post(message: str):
        return client.post(f"/webhook/{TOKEN}", data=message.encode(), content_type=_content_type(message))

    return post


def _content_type(message: str) -> str:
    """TradingView's choice: JSON only if the message is strict JSON (``NaN`` is not)."""
    def refuse(constant):
        raise ValueError(constant)

    try:
        json.loads(message, parse_constant=refuse)
    except ValueError:
        return "text/plain"
    return "application/json"


# --- Pine's renderers ------------------------------------------------------------------------------

def tostring(x) -> str:
    """``str.tostring(x)``: full precision, whole numbers without a decimal point, ``na`` → NaN."""
    if x is None:
        return "NaN"
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return repr(x)


def tostring_2dp(x) -> str:
    """``str.tostring(x, "#.##")``: at most two decimals, no trailing zeros."""
    if x is None:
        return "NaN"
    return f"{x:.2f}".rstrip("0").rstrip(".")


def timenow_ist(seconds_ago: int = 60) -> str:
    """``timenow + 5 h 30 min`` formatted ``yyyy-MM-dd'T'HH:mm:ss`` (naive IST, to the second)."""
    return (timezone.now() - timedelta(seconds=seconds_ago) + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")


def trend_entry(kind, instrument, position, *, price, stop, lots, atr, er, supertrend, roc, timestamp) -> str:
    """The trend-following scripts (BankNifty_TF_V9.0, GoldMini_TF_V8.5, Copper_TF_V8.0): ``", "``."""
    return ('{"type":"' + kind + '", "instrument":"' + instrument + '", "position":"' + position + '", "price":'
            + tostring(price) + ', "stop":' + tostring(stop) + ', "lots":' + tostring(lots) + ', "atr":'
            + tostring(atr) + ', "er":' + tostring(er) + ', "supertrend":' + tostring(supertrend) + ', "roc":'
            + tostring(roc) + ', "timestamp":"' + timestamp + '"}')


def trend_exit(instrument, position, *, price, stop, entry_price, lots, reason, atr, er, supertrend, roc,
               timestamp) -> str:
    return ('{"type":"EXIT", "instrument":"' + instrument + '", "position":"' + position + '", "price":'
            + tostring(price) + ', "stop":' + tostring(stop) + ', "entry_price":' + tostring(entry_price)
            + ', "lots":' + tostring(lots) + ', "reason":"' + reason + '", "atr":' + tostring(atr) + ', "er":'
            + tostring(er) + ', "supertrend":' + tostring(supertrend) + ', "roc":' + tostring(roc)
            + ', "timestamp":"' + timestamp + '"}')


def scout_bar(instrument, *, price, atr, supertrend, timestamp) -> str:
    """The ``*_EOD_Scout_V1.0`` scripts: no spaces, ``#.##`` numbers."""
    return ('{"type":"MARKET_DATA","instrument":"' + instrument + '","timestamp":"' + timestamp + '","price":'
            + tostring_2dp(price) + ',"atr":' + tostring_2dp(atr) + ',"supertrend":' + tostring_2dp(supertrend) + '}')


def scout_monitor(instrument, *, price, atr, er, roc, timestamp) -> str:
    return ('{"type":"EOD_MONITOR","instrument":"' + instrument + '","timestamp":"' + timestamp + '","price":'
            + tostring_2dp(price) + ',"conditions":{"trend_up":true,"above_supertrend":true,"er_ok":false}'
            + ',"indicators":{"atr":' + tostring_2dp(atr) + ',"er":' + tostring_2dp(er) + ',"roc":'
            + tostring_2dp(roc) + '}}')


# --- the contract ----------------------------------------------------------------------------------

def test_bank_nifty_v9_entry_and_exit_as_rendered(live_portfolio, tv):
    entry = trend_entry("BASE_ENTRY", "BANK_NIFTY", "Long_1", price=52017.35000000001, stop=51650.123456789,
                        lots=5, atr=351.7712345678901, er=0.8234567, supertrend=51650.123456789, roc=None,
                        timestamp=timenow_ist(120))
    assert '"roc":NaN, "timestamp"' in entry and _content_type(entry) == "text/plain"
    response = tv(entry)
    assert response.status_code == 202, response.content
    row = SignalLog.objects.get(pk=response.json()["signal_id"])
    assert row.status == "executed", (row.reason, row.result)
    assert row.payload["price"] == 52017.35000000001 and row.payload["roc"] is None and "secret" not in row.payload
    assert row.signal_timestamp.utcoffset() == timedelta(0)  # stored as timestamptz
    base = Position.objects.get(instrument_id="BANK_NIFTY", layer=1)
    assert base.status == "open" and base.lots > 0

    exit_ = trend_exit("BANK_NIFTY", "Long_1", price=52410.55, stop=52390.1, entry_price=52017.35000000001, lots=2,
                       reason="TOM_BASSO_STOP", atr=351.77, er=0.81, supertrend=52100.4, roc=None,
                       timestamp=timenow_ist(60))
    response = tv(exit_)
    assert response.status_code == 202, response.content
    row = SignalLog.objects.get(pk=response.json()["signal_id"])
    assert row.status == "executed", (row.reason, row.result)
    assert row.payload["entry_price"] == 52017.35000000001  # an unknown field, kept
    base.refresh_from_db()
    assert base.status == "closed" and base.exit_reason == "TOM_BASSO_STOP"
    assert tv(exit_).json()["status"] == "duplicate"  # a resend of the same alert


def test_gold_mini_entry_bars_and_monitor_as_rendered(live_portfolio, tv):
    entry = trend_entry("BASE_ENTRY", "GOLD_MINI", "Long_1", price=72010.0, stop=71493.44999999999, lots=4,
                        atr=512.3300000000001, er=0.9, supertrend=71493.44999999999, roc=1.2345678,
                        timestamp=timenow_ist(300))
    assert _content_type(entry) == "application/json"
    assert tv(entry).status_code == 202
    bar = scout_bar("GOLD_MINI", price=72400.456, atr=512.3300000000001, supertrend=71800.0, timestamp=timenow_ist(240))
    assert '"price":72400.46,"atr":512.33,"supertrend":71800}' in bar
    assert tv(bar).status_code == 202
    monitor = scout_monitor("GOLD_MINI", price=72410.5, atr=512.33, er=0.81, roc=None, timestamp=timenow_ist(200))
    assert tv(monitor).status_code == 202

    rows = {row.signal_type: row for row in SignalLog.objects.all()}
    assert {kind: row.status for kind, row in rows.items()} == {
        "BASE_ENTRY": "executed", "MARKET_DATA": "executed", "EOD_MONITOR": "ignored"}
    assert rows["MARKET_DATA"].payload["price"] == 72400.46
    assert rows["EOD_MONITOR"].payload["indicators"] == {"atr": 512.33, "er": 0.81, "roc": None}
    assert rows["EOD_MONITOR"].payload["conditions"]["er_ok"] is False
    base = Position.objects.get(instrument_id="GOLD_MINI", layer=1)
    assert base.entry_price == Decimal("72010") and base.initial_stop < base.entry_price


def test_the_reference_example_is_accepted_verbatim(live_portfolio, tv):
    example = ('{"type":"EXIT", "instrument":"BANK_NIFTY", "position":"Long_2", "price":52410.55, "stop":52390.1,\n'
               '"entry_price":51980.2, "lots":2, "reason":"TOM_BASSO_STOP", "atr":351.77, "er":0.81, '
               '"supertrend":52100.4,\n"roc":NaN, "timestamp":"2026-11-27T14:15:03"}')
    response = tv(example)
    assert response.status_code == 202, response.content
    row = SignalLog.objects.get()
    assert (row.signal_type, row.position, row.status, row.reason) == ("EXIT", "Long_2", "rejected", "position_not_open")
    assert row.signal_timestamp.isoformat() == "2026-11-27T08:45:03+00:00"  # naive IST → UTC


def test_roc_nan_quoted_is_stored_null(live_portfolio, tv):
    entry = trend_entry("BASE_ENTRY", "COPPER", "Long_1", price=801.45, stop=795.2, lots=3, atr=4.25, er=0.67,
                        supertrend=795.2, roc=None, timestamp=timenow_ist()).replace('"roc":NaN', '"roc":"NaN"')
    response = tv(entry)
    assert response.status_code == 202 and SignalLog.objects.get().payload["roc"] is None


def test_an_untraded_instrument_is_a_clear_400(live_portfolio, tv):
    for message in (trend_entry("BASE_ENTRY", "BTCUSDT", "Long_1", price=91234.5, stop=90100.25, lots=1, atr=812.4,
                                er=0.7, supertrend=90100.25, roc=None, timestamp=timenow_ist()),
                    scout_bar("BTCUSDT", price=91234.5, atr=812.4, supertrend=90100.25, timestamp=timenow_ist())):
        response = tv(message)
        assert response.status_code == 400
        assert set(response.json()["errors"]) == {"instrument"}
    assert not SignalLog.objects.exists()


def test_nan_in_a_field_the_rules_use_is_a_400_naming_it(live_portfolio, tv):
    entry = trend_entry("BASE_ENTRY", "GOLD_MINI", "Long_1", price=72010.0, stop=71500.0, lots=4, atr=None, er=None,
                        supertrend=71500.0, roc=None, timestamp=timenow_ist())
    response = tv(entry)
    assert response.status_code == 400 and set(response.json()["errors"]) == {"atr", "er"}
    bar = scout_bar("GOLD_MINI", price=72400.0, atr=None, supertrend=71800.0, timestamp=timenow_ist())
    assert set(tv(bar).json()["errors"]) == {"atr"}
    assert not SignalLog.objects.exists()
