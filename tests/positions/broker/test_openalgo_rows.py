"""Normalisation of OpenAlgo rows into the broker interface's types (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from positions.broker.base import OrderState
from positions.broker.openalgo_rows import (
    IST,
    normalise_status,
    order_from_row,
    orders_from_book,
    parse_timestamp,
    positions_from_book,
    quote_from_data,
    strategy_for,
    tag_from_strategy,
    to_decimal,
    to_int,
)

ROW = {
    "action": "buy", "symbol": "GOLDM05JAN26FUT", "exchange": "MCX", "orderid": "250408000989443",
    "product": "NRML", "quantity": "2", "price": 0, "pricetype": "MARKET",
    "order_status": "COMPLETE", "average_price": "72010.5", "timestamp": "28-Aug-2025 09:59:10",
}


@pytest.mark.parametrize(("word", "state"), [
    ("complete", OrderState.COMPLETE), ("COMPLETE", OrderState.COMPLETE),
    ("Filled", OrderState.COMPLETE), ("TRADED", OrderState.COMPLETE),
    ("open", OrderState.OPEN), ("OPEN", OrderState.OPEN), ("partially filled", OrderState.OPEN),
    ("pending", OrderState.PENDING), ("TRIGGER PENDING", OrderState.PENDING),
    ("trigger_pending", OrderState.PENDING),
    ("rejected", OrderState.REJECTED), ("REJECTED", OrderState.REJECTED),
    ("cancelled", OrderState.CANCELLED), ("CANCELED", OrderState.CANCELLED),
    ("something new", OrderState.OPEN), (None, OrderState.OPEN),
])
def test_status_words(word, state):
    assert normalise_status(word) == state


def test_numbers_from_strings():
    assert to_decimal("72010.50") == Decimal("72010.50")
    assert to_decimal(350.25) == Decimal("350.25")
    assert [to_decimal(v) for v in (None, "", "abc", "NaN", True)] == [None] * 5
    assert [to_int(v) for v in ("30", 30, "30.0", 30.0, "-30")] == [30, 30, 30, 30, -30]
    assert [to_int(v) for v in ("2.5", None, "x")] == [None, None, None]


def test_order_row_complete():
    status = order_from_row(ROW, prefix="PM")
    assert status.status == OrderState.COMPLETE
    assert (status.action, status.quantity, status.filled_quantity) == ("BUY", 2, 2)
    assert status.average_price == Decimal("72010.5")
    assert status.tag is None
    assert status.placed_at == datetime(2025, 8, 28, 9, 59, 10, tzinfo=status.placed_at.tzinfo)
    assert status.placed_at.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"average_price": "10", "averageprice": "11", "avgprice": "12", "price": "13"}, Decimal("10")),
    ({"average_price": "0", "averageprice": "11", "avgprice": "12", "price": "13"}, Decimal("11")),
    ({"avgprice": "12", "price": "13"}, Decimal("12")),
    ({"price": 13.5}, Decimal("13.5")),
    ({"price": 0}, None),
])
def test_average_price_fields_in_order(fields, expected):
    row = {k: v for k, v in ROW.items() if k not in ("average_price", "price")}
    assert order_from_row({**row, **fields}, prefix="PM").average_price == expected


def test_open_order_has_no_fill_and_no_average_price():
    status = order_from_row({**ROW, "order_status": "open", "price": "71000"}, prefix="PM")
    assert (status.status, status.filled_quantity, status.average_price) == ("open", 0, None)


def test_explicit_filled_field_wins():
    row = {**ROW, "order_status": "partially filled", "filledshares": "1"}
    status = order_from_row(row, prefix="PM")
    assert (status.status, status.filled_quantity) == (OrderState.OPEN, 1)
    assert status.average_price == Decimal("72010.5")


def test_tag_round_trip_through_strategy():
    assert strategy_for("PM", "sig-42:Long_1") == "PM:sig-42:Long_1"
    assert tag_from_strategy("PM:sig-42:Long_1", "PM") == "sig-42:Long_1"
    assert tag_from_strategy("Manual", "PM") is None
    assert tag_from_strategy("PMX:abc", "PM") is None
    assert tag_from_strategy(None, "PM") is None
    assert len(strategy_for("PM", "x" * 60)) == 40
    assert order_from_row({**ROW, "strategy": "PM:abc"}, prefix="PM").tag == "abc"


@pytest.mark.parametrize(("text", "expected"), [
    ("28-Aug-2025 09:59:10", datetime(2025, 8, 28, 9, 59, 10)),
    ("2025-08-28 09:59:10", datetime(2025, 8, 28, 9, 59, 10)),
    ("2025-08-28T04:29:10+00:00", datetime(2025, 8, 28, 9, 59, 10)),
])
def test_timestamps(text, expected):
    assert parse_timestamp(text) == expected.replace(tzinfo=IST)  # naive broker times are IST


@pytest.mark.parametrize("text", ["13:58:03", "", None, "yesterday", 12345])
def test_unreadable_timestamps(text):
    assert parse_timestamp(text) is None


def test_order_book_shapes():
    assert [o.order_id for o in orders_from_book([ROW], prefix="PM")] == [ROW["orderid"]]
    assert [o.order_id for o in orders_from_book({"orders": [ROW], "statistics": {}}, prefix="PM")] == [ROW["orderid"]]
    assert orders_from_book({"orders": []}, prefix="PM") == []
    assert orders_from_book(None, prefix="PM") == []
    with pytest.raises(ValueError):
        orders_from_book("nonsense", prefix="PM")


def test_position_rows():
    data = [
        {"symbol": "A", "exchange": "MCX", "product": "NRML", "quantity": "-3", "average_price": "10.50"},
        {"symbol": "B", "exchange": "NFO", "product": "NRML", "quantity": "0", "average_price": "0.00"},
        {"symbol": "C", "exchange": "NFO", "quantity": "30.0", "average_price": "0"},
    ]
    positions = positions_from_book(data)
    assert [(p.symbol, p.net_quantity, p.average_price) for p in positions] == [
        ("A", -3, Decimal("10.50")), ("C", 30, None)]
    assert positions_from_book([]) == [] and positions_from_book(None) == []


def test_quote_data():
    quote = quote_from_data({"ltp": 101.5, "bid": 101, "ask": 0}, symbol="X", exchange="NSE")
    assert (quote.ltp, quote.bid, quote.ask) == (Decimal("101.5"), Decimal("101"), None)
    with pytest.raises(ValueError):
        quote_from_data({"bid": 1}, symbol="X", exchange="NSE")
