"""Normalisation of OpenAlgo rows into the broker interface's types (pure functions)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from positions.broker.base import OrderState
from positions.broker.openalgo_rows import (
    IST,
    analyzer_from_data,
    contract_from_data,
    normalise_status,
    order_from_row,
    orders_from_book,
    parse_timestamp,
    positions_from_book,
    quote_from_data,
    strategy_for,
    to_decimal,
    to_int,
    trades_from_book,
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
    status = order_from_row(ROW)
    assert status.status == OrderState.COMPLETE
    assert (status.action, status.quantity) == ("BUY", 2)
    assert status.filled_quantity is None  # OpenAlgo never says; fills come from the trade book
    assert status.average_price == Decimal("72010.5")
    assert status.tag is None
    assert status.placed_at == datetime(2025, 8, 28, 9, 59, 10, tzinfo=status.placed_at.tzinfo)
    assert status.placed_at.utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize(("fields", "expected"), [
    ({"average_price": "10", "averageprice": "11", "avgprice": "12", "price": "13"}, Decimal("10")),
    ({"average_price": "0", "averageprice": "11", "avgprice": "12", "price": "13"}, Decimal("11")),
    ({"avgprice": "12", "price": "13"}, Decimal("12")),
    ({"average_price": 0.0, "price": 13.5}, None),  # a lagging trade book; 13.5 is the limit
    ({"price": 13.5}, None),
    ({"price": 0}, None),
])
def test_average_price_is_never_the_limit_price(fields, expected):
    row = {k: v for k, v in ROW.items() if k not in ("average_price", "price")}
    assert order_from_row({**row, **fields}).average_price == expected


def test_open_limit_order_has_no_fill_and_no_average_price():
    row = {**ROW, "order_status": "open", "price": "71000", "pricetype": "LIMIT"}
    del row["average_price"]
    status = order_from_row(row)
    assert (status.status, status.filled_quantity, status.average_price) == ("open", None, None)


def test_explicit_filled_field_is_reported():
    row = {**ROW, "order_status": "partially filled", "filledshares": "1"}
    status = order_from_row(row)
    assert (status.status, status.filled_quantity) == (OrderState.OPEN, 1)


def test_strategy_carries_our_client_order_id_but_rows_never_give_a_tag():
    assert strategy_for("PM", "sig-42:Long_1") == "PM:sig-42:Long_1"
    assert len(strategy_for("PM", "x" * 60)) == 40
    assert order_from_row({**ROW, "strategy": "PM:abc"}).tag is None


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
    assert [o.order_id for o in orders_from_book([ROW])] == [ROW["orderid"]]
    assert [o.order_id for o in orders_from_book({"orders": [ROW], "statistics": {}})] == [ROW["orderid"]]
    assert orders_from_book({"orders": []}) == []
    assert orders_from_book(None) == []
    with pytest.raises(ValueError):
        orders_from_book("nonsense")


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


TRADE = {"symbol": "GOLDM05JAN26FUT", "exchange": "MCX", "product": "NRML", "action": "SELL", "quantity": 2,
         "average_price": 72010.5, "trade_value": 144021.0, "orderid": "250408000989443",
         "timestamp": "2025-08-28 09:59:11"}


def test_trade_rows():
    [trade] = trades_from_book([TRADE])
    assert (trade.order_id, trade.symbol, trade.exchange, trade.action) == (
        "250408000989443", "GOLDM05JAN26FUT", "MCX", "SELL")
    assert (trade.quantity, trade.price) == (2, Decimal("72010.5"))
    assert trade.traded_at == datetime(2025, 8, 28, 9, 59, 11, tzinfo=IST)
    assert trades_from_book([{**TRADE, "timestamp": "09:59:11"}])[0].traded_at is None  # time of day only
    assert trades_from_book([]) == [] and trades_from_book(None) == []


@pytest.mark.parametrize("bad", [{"orderid": ""}, {"quantity": "0"}, {"quantity": "1.5"}, {"average_price": 0},
                                 {"average_price": None}])
def test_an_unreadable_trade_row_fails_the_read(bad):
    with pytest.raises(ValueError):
        trades_from_book([TRADE, {**TRADE, **bad}])  # leaving a fill out would understate the holding
    with pytest.raises(ValueError):
        trades_from_book({"trades": []})


def test_contract_data():
    data = {"symbol": "BANKNIFTY27JAN2660000PE", "exchange": "NFO", "lotsize": 30, "tick_size": 0.05,
            "instrumenttype": "PE", "freeze_qty": 600}
    contract = contract_from_data(data, symbol="BANKNIFTY27JAN2660000PE", exchange="NFO")
    assert (contract.lot_size, contract.tick_size) == (30, Decimal("0.05"))
    assert contract_from_data({"lotsize": "1", "tick_size": None}, symbol="G", exchange="MCX").tick_size is None
    for bad in ({"lotsize": 0}, {"lotsize": "x"}, {}, None):
        with pytest.raises(ValueError):
            contract_from_data(bad, symbol="G", exchange="MCX")


def test_analyzer_data():
    assert analyzer_from_data({"mode": "analyze", "analyze_mode": True, "total_logs": 3}) is True
    assert analyzer_from_data({"mode": "live", "analyze_mode": False}) is False
    assert analyzer_from_data({"mode": "analyze"}) is True
    for bad in ({}, {"mode": "maybe"}, None, [True]):
        with pytest.raises(ValueError):
            analyzer_from_data(bad)
