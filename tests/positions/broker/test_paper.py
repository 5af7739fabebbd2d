from __future__ import annotations

from decimal import Decimal

import pytest

from positions.broker import (
    BrokerOrderNotFound,
    BrokerRejected,
    Contract,
    OrderAccepted,
    OrderRequest,
    OrderState,
    Trade,
)
from positions.broker.paper import PaperBroker
from positions.pnl import synthetic_price

pytestmark = pytest.mark.django_db

PE, CE, FUT = "BANKNIFTY30DEC2552000PE", "BANKNIFTY30DEC2552000CE", "GOLDM05FEB26FUT"


def order(symbol=FUT, action="BUY", quantity=2, reference="72000", **kw) -> OrderRequest:
    exchange = "MCX" if symbol.endswith("FUT") else "NFO"
    return OrderRequest(client_order_id=kw.pop("tag", "pm-1-en-FUT-1"), symbol=symbol, exchange=exchange,
                        action=action, quantity=quantity, reference_price=Decimal(reference), **kw)


def test_futures_fill_at_the_reference_price_and_options_make_the_synthetic():
    broker = PaperBroker(option_time_value=Decimal("150"))
    assert broker.fill_price(order()) == Decimal("72000")
    for underlying in ("51000", "52000", "52000.5", "53999"):
        ce = broker.fill_price(order(CE, reference=underlying))
        pe = broker.fill_price(order(PE, action="SELL", reference=underlying))
        assert ce > 0 and pe > 0
        assert synthetic_price(strike=52000, ce_price=ce, pe_price=pe) == Decimal(underlying)


def test_slippage_always_moves_against_us():
    broker = PaperBroker(slippage_percent=Decimal("0.1"))
    assert broker.fill_price(order(action="BUY")) == Decimal("72072")
    assert broker.fill_price(order(action="SELL")) == Decimal("71928")


def test_book_nets_positions_and_survives_a_new_broker_instance():
    broker = PaperBroker()
    first = broker.place_order(order(quantity=3, reference="72000")).order_id
    broker.place_order(order(quantity=1, reference="73000", tag="pm-2-en-FUT-1"))
    broker.place_order(order(action="SELL", quantity=4, reference="74000", tag="pm-1-ex-FUT-1"))
    broker.place_order(order(PE, action="SELL", quantity=30, reference="52000", tag="pm-3-en-PE-1"))
    restarted = PaperBroker()
    positions = {(p.symbol, p.net_quantity) for p in restarted.positions()}
    assert positions == {(PE, -30)}  # the flat future is omitted
    status = restarted.order_status(first)
    assert (status.status, status.filled_quantity, status.average_price, status.tag) == (
        OrderState.COMPLETE, 3, Decimal("72000"), "pm-1-en-FUT-1")
    assert [o.tag for o in restarted.order_book()] == ["pm-1-en-FUT-1", "pm-2-en-FUT-1", "pm-1-ex-FUT-1",
                                                       "pm-3-en-PE-1"]


def test_average_price_of_a_growing_position():
    broker = PaperBroker()
    broker.place_order(order(quantity=1, reference="100"))
    broker.place_order(order(quantity=3, reference="200"))
    assert broker.positions()[0].average_price == Decimal("175")


def test_duplicate_orders_are_accepted_like_a_real_broker():
    """Protection against a double order is our outbox's job, not the broker's."""
    broker = PaperBroker()
    broker.place_order(order())
    broker.place_order(order())
    assert broker.positions()[0].net_quantity == 4


@pytest.mark.parametrize(
    "request_",
    [order(quantity=0), order(action="HOLD"), order(symbol="NOT-A-SYMBOL"),
     OrderRequest(client_order_id="x", symbol=FUT, exchange="MCX", action="BUY", quantity=1)],
)
def test_bad_orders_are_rejected_and_change_nothing(request_):
    broker = PaperBroker()
    with pytest.raises(BrokerRejected):
        broker.place_order(request_)
    assert broker.order_book() == [] and broker.positions() == []


def test_unknown_order_id_is_not_found():
    broker = PaperBroker()
    with pytest.raises(BrokerOrderNotFound):
        broker.order_status("PAPER-missing")
    with pytest.raises(BrokerOrderNotFound):
        broker.cancel_order("PAPER-missing")
    with pytest.raises(BrokerOrderNotFound):
        broker.modify_order("PAPER-missing", symbol=FUT, exchange="MCX", action="BUY", quantity=1,
                            price_type="LIMIT", price=Decimal("1"))


def test_place_order_is_accepted_and_trades_are_one_per_filled_order():
    broker = PaperBroker()
    first = broker.place_order(order(quantity=3, reference="72000"))
    second = broker.place_order(order(PE, action="SELL", quantity=30, reference="52000", tag="pm-3-en-PE-1"))
    assert isinstance(first, OrderAccepted) and first.order_id.startswith("PAPER-")
    trades = broker.trades()
    assert [(t.order_id, t.symbol, t.exchange, t.action, t.quantity, t.price) for t in trades] == [
        (first.order_id, FUT, "MCX", "BUY", 3, Decimal("72000")),
        (second.order_id, PE, "NFO", "SELL", 30, Decimal("150")),
    ]
    assert all(isinstance(t, Trade) and t.traded_at is not None for t in trades)
    assert broker.order_status(first.order_id).filled_quantity == 3


def test_cancel_of_a_filled_order_returns_and_modify_is_refused():
    broker = PaperBroker()
    order_id = broker.place_order(order()).order_id
    broker.cancel_order(order_id)  # already finished: nothing left to cancel
    with pytest.raises(BrokerRejected):
        broker.modify_order(order_id, symbol=FUT, exchange="MCX", action="BUY", quantity=2, price_type="LIMIT",
                            price=Decimal("71000"))
    assert broker.order_status(order_id).status == OrderState.COMPLETE
    assert broker.positions()[0].net_quantity == 2


def test_contract_lot_size_is_the_instruments_order_quantity_per_lot(portfolio):
    broker = PaperBroker()
    assert broker.contract(PE, "NFO") == Contract(PE, "NFO", 30, Decimal("0.05"))
    gold = broker.contract(FUT, "MCX")
    assert (gold.lot_size, gold.tick_size) == (1, Decimal("1"))
    for symbol, exchange in ((FUT, "NFO"), ("CRUDEOIL19JAN26FUT", "MCX"), ("NOT-A-SYMBOL", "MCX")):
        with pytest.raises(BrokerRejected):
            broker.contract(symbol, exchange)


def test_the_paper_broker_is_never_a_sandbox():
    assert PaperBroker().analyzer_mode() is False
