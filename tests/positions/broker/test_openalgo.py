"""OpenAlgoBroker against the faithful fake OpenAlgo over loopback HTTP: orders, books, fills,
cancel, modify, modes and contracts (no mocks, no database).  Faults and retries: test_openalgo_http."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import httpx
import pytest

from positions.broker.base import (
    BrokerOrderNotFound,
    BrokerRejected,
    BrokerUnavailable,
    OrderAccepted,
    OrderAwaitingApproval,
    OrderRequest,
    OrderState,
    Trade,
)
from positions.broker.openalgo import DEFAULT_TIMEOUT, OpenAlgoBroker
from tests.fakes.openalgo_rules import SCHEMAS, validate
from tests.fakes.openalgo_server import FakeOpenAlgo
from tests.positions.broker.helpers import (
    CE,
    GOLD,
    KEY,
    PE,
    buy_gold,
    eventually,
    make_broker,
    trades_once_visible,
)


def place(broker: OpenAlgoBroker, request: OrderRequest) -> str:
    result = broker.place_order(request)
    assert isinstance(result, OrderAccepted)
    return result.order_id


# ---------------------------------------------------------------- round trips


def test_mcx_future_round_trip(fake, broker):
    fake.set_price(GOLD, "72150.5")
    sent_at = datetime.now(timezone.utc)
    order_id = place(broker, buy_gold())

    status = broker.order_status(order_id)  # the trade book lags the first read: no price yet
    assert status.order_id == order_id
    assert status.status == OrderState.COMPLETE
    assert (status.symbol, status.exchange, status.action, status.quantity) == (GOLD, "MCX", "BUY", 1)
    assert status.filled_quantity is None and status.average_price is None
    assert status.tag is None
    assert status.placed_at is not None and status.placed_at.utcoffset() == timedelta(hours=5, minutes=30)
    assert status.placed_at >= sent_at.replace(microsecond=0) - timedelta(seconds=1)
    assert broker.order_status(order_id).average_price == Decimal("72150.5")  # the trade book caught up

    [row] = broker.order_book()
    assert (row.order_id, row.status, row.tag, row.average_price, row.filled_quantity) == (
        order_id, OrderState.COMPLETE, None, None, None)
    assert row.placed_at == status.placed_at
    assert broker.trades() == [Trade(order_id, GOLD, "MCX", "BUY", 1, Decimal("72150.5"), None)]
    [position] = broker.positions()
    assert (position.symbol, position.exchange, position.net_quantity) == (GOLD, "MCX", 1)
    assert (position.average_price, position.product) == (Decimal("72150.50"), "NRML")


def test_placeorder_body_follows_openalgo_conventions(fake, broker):
    place(broker, buy_gold())
    [body] = fake.bodies("placeorder")
    assert body == {
        "strategy": "PM:sig-1:GOLD:entry", "symbol": GOLD, "exchange": "MCX", "action": "BUY",
        "product": "NRML", "pricetype": "MARKET", "quantity": "1", "price": "0",
        "trigger_price": "0", "disclosed_quantity": "0",
    }


def test_every_body_the_adapter_sends_passes_openalgo_schemas(fake, broker):
    """The fake refuses unknown fields (400) like OpenAlgo's marshmallow schemas; check every call."""
    fake.set_price(GOLD, 72000)
    done = place(broker, buy_gold("a"))
    resting = place(broker, buy_gold("b", price_type="LIMIT", price=Decimal("71000.5")))
    broker.modify_order(resting, symbol=GOLD, exchange="MCX", action="BUY", quantity=2, price_type="LIMIT",
                        price=Decimal("71001"))
    broker.cancel_order(resting)
    broker.cancel_order(done)
    broker.order_status(done)
    for read in (broker.order_book, broker.trades, broker.positions, broker.analyzer_mode, broker.ping):
        read()
    broker.quote(GOLD, "MCX")
    broker.contract(GOLD, "MCX")
    sent = {endpoint: fake.bodies(endpoint) for endpoint in SCHEMAS}
    assert {e for e, bodies in sent.items() if bodies} == {
        "placeorder", "modifyorder", "cancelorder", "orderstatus", "orderbook", "tradebook",
        "positionbook", "quotes", "symbol", "analyzer", "ping"}
    for endpoint, bodies in sent.items():
        for body in bodies:
            values, errors = validate(endpoint, {"apikey": KEY, **body}, strict=True)
            assert errors == {}, (endpoint, body)


def test_two_nfo_option_legs_make_a_synthetic_long(fake, broker):
    fake.set_price(PE, 350)
    fake.set_price(CE, "420.25")
    ce_id = place(broker, OrderRequest("bn-1:CE", CE, "NFO", "BUY", 30))
    pe_id = place(broker, OrderRequest("bn-1:PE", PE, "NFO", "SELL", 30))

    book = {o.order_id: o for o in broker.order_book()}
    assert book[pe_id].tag is None and book[ce_id].tag is None  # tagless: matched by id only
    assert (book[pe_id].action, book[pe_id].quantity) == ("SELL", 30)
    fills = {t.order_id: t for t in trades_once_visible(broker, 2)}
    assert (fills[ce_id].price, fills[ce_id].quantity) == (Decimal("420.25"), 30)
    assert (fills[pe_id].price, fills[pe_id].action) == (Decimal("350"), "SELL")
    positions = {(p.symbol, p.exchange): p.net_quantity for p in broker.positions()}
    assert positions == {(PE, "NFO"): -30, (CE, "NFO"): 30}


def test_flat_positions_are_left_out(fake, broker):
    place(broker, buy_gold("open"))
    place(broker, OrderRequest("close", GOLD, "MCX", "SELL", 1))
    fake.set_position(PE, "NFO", -30, average_price=300)
    assert {(p["symbol"], p["quantity"]) for p in fake.positions()} == {(GOLD, 0), (PE, -30)}
    assert [(p.symbol, p.net_quantity) for p in broker.positions()] == [(PE, -30)]


def test_quote_ping_and_defaults(fake, broker):
    fake.set_price(GOLD, "72001.5")
    quote = broker.quote(GOLD, "MCX")
    assert (quote.symbol, quote.exchange, quote.ltp) == (GOLD, "MCX", Decimal("72001.5"))
    assert broker.ping() is None
    client = OpenAlgoBroker(base_url="http://127.0.0.1:9/", api_key=KEY)
    assert client.timeout == DEFAULT_TIMEOUT == httpx.Timeout(connect=2, read=5, write=5, pool=2)
    assert (client.name, client.read_retries, client.max_read_wait) == ("openalgo", 2, 2.0)
    assert KEY not in repr(client)
    client.close()


# ---------------------------------------------------------------- limit orders and fills


def test_a_resting_limit_order_never_reports_its_limit_as_a_fill(fake, broker):
    fake.set_price(GOLD, 72000)
    order_id = place(broker, buy_gold(price_type="LIMIT", price=Decimal("71950")))
    assert fake.bodies("placeorder")[0]["price"] == "71950"
    for _ in range(3):
        status = broker.order_status(order_id)
        assert (status.status, status.filled_quantity, status.average_price) == (OrderState.OPEN, None, None)
    [row] = broker.order_book()
    assert (row.status, row.average_price) == (OrderState.OPEN, None)
    assert broker.trades() == [] and broker.positions() == []

    fake.set_price(GOLD, 71940)  # the market reaches the limit: it fills there
    status = eventually(lambda: (s := broker.order_status(order_id)).average_price and s)
    assert (status.status, status.average_price) == (OrderState.COMPLETE, Decimal("71950"))


def test_a_marketable_limit_order_fills_at_the_market_not_at_its_limit(fake, broker):
    fake.set_price(GOLD, 71900)
    order_id = place(broker, buy_gold(price_type="LIMIT", price=Decimal("72000")))
    status = eventually(lambda: (s := broker.order_status(order_id)).average_price and s)
    assert status.average_price == Decimal("71900")


@pytest.mark.parametrize("price", [None, Decimal("0"), Decimal("-1")])
def test_limit_order_without_a_positive_price_is_refused_before_sending(fake, broker, price):
    with pytest.raises(BrokerRejected):
        broker.place_order(buy_gold(price_type="LIMIT", price=price))
    with pytest.raises(BrokerRejected):
        broker.place_order(buy_gold(quantity=0))
    assert fake.request_count("placeorder") == 0


def test_pending_order_then_fill(fake, broker):
    fake.set_fault("placeorder", "pending")
    order_id = place(broker, buy_gold())
    status = broker.order_status(order_id)
    assert (status.status, status.filled_quantity, status.average_price) == (OrderState.OPEN, None, None)
    assert broker.positions() == []
    assert fake.fill_pending() == [order_id]
    assert broker.order_status(order_id).status == OrderState.COMPLETE
    assert broker.positions()[0].net_quantity == 1


def test_order_rejected_after_acceptance(fake, broker):
    fake.set_fault("placeorder", "rejected_after_accept")
    order_id = place(broker, buy_gold())
    status = broker.order_status(order_id)
    assert (status.status, status.filled_quantity, status.average_price) == (OrderState.REJECTED, None, None)


def test_trades_of_a_part_filled_then_cancelled_order(fake, broker):
    """OpenAlgo says only "cancelled": the filled part is in the trade book alone."""
    fake.set_price(PE, 300)
    fake.plan_fills(now=30, rest="never")
    order_id = place(broker, OrderRequest("bn-2:PE", PE, "NFO", "SELL", 90))
    assert broker.order_status(order_id).status == OrderState.OPEN
    broker.cancel_order(order_id)

    status = broker.order_status(order_id)
    assert (status.status, status.quantity, status.filled_quantity) == (OrderState.CANCELLED, 90, None)
    fills = eventually(lambda: [t for t in broker.trades() if t.order_id == order_id])
    assert [(t.quantity, t.price, t.action) for t in fills] == [(30, Decimal("300"), "SELL")]
    assert [(p.symbol, p.net_quantity) for p in broker.positions()] == [(PE, -30)]


def test_trades_of_an_order_filled_in_two_parts(fake, broker):
    fake.set_price(GOLD, 72000)
    fake.plan_fills(now=1, rest="never")
    order_id = place(broker, buy_gold(quantity=3))
    fake.set_price(GOLD, 72100)
    fake.fill_order(order_id)  # the rest, at the new price
    fills = trades_once_visible(broker, 2)
    assert [(t.order_id, t.quantity, t.price) for t in fills] == [
        (order_id, 1, Decimal("72000")), (order_id, 2, Decimal("72100"))]
    # orderstatus reports the first fill's price, not the volume-weighted one (OpenAlgo's way)
    assert eventually(lambda: broker.order_status(order_id).average_price) == Decimal("72000")


# ---------------------------------------------------------------- cancel and modify


def test_cancel_of_an_open_order(fake, broker):
    fake.set_fault("placeorder", "pending")
    order_id = place(broker, buy_gold())
    broker.cancel_order(order_id)
    assert broker.order_status(order_id).status == OrderState.CANCELLED
    assert fake.fill_pending() == [] and broker.positions() == []


@pytest.mark.parametrize("finish", ["complete", "cancelled", "rejected"])
def test_cancel_of_a_finished_order_returns_normally(fake, broker, finish):
    if finish != "complete":
        fake.set_fault("placeorder", "pending" if finish == "cancelled" else "rejected_after_accept")
    order_id = place(broker, buy_gold())
    if finish == "cancelled":
        broker.cancel_order(order_id)
    assert fake.orders()[0]["order_status"] == finish
    cancels, reads = fake.request_count("cancelorder"), fake.request_count("orderstatus")
    broker.cancel_order(order_id)  # OpenAlgo answers 500; the order is read and found finished
    assert fake.request_count("cancelorder") == cancels + 1  # a 500 is not retried ...
    assert fake.request_count("orderstatus") == reads + 1  # ... it is followed by one status read


def test_cancel_answered_500_while_the_order_is_still_open_is_unavailable(fake, broker):
    fake.set_fault("placeorder", "pending")
    order_id = place(broker, buy_gold())
    fake.set_fault("cancelorder", "http_500")
    with pytest.raises(BrokerUnavailable, match="still open"):
        broker.cancel_order(order_id)
    assert fake.orders()[0]["order_status"] == "open"


def test_cancel_and_status_of_an_unknown_order_is_not_found(fake, broker):
    with pytest.raises(BrokerOrderNotFound):
        broker.cancel_order("25000000000999")
    with pytest.raises(BrokerOrderNotFound):
        broker.order_status("25000000000999")
    assert (fake.request_count("cancelorder"), fake.request_count("orderstatus")) == (1, 1)  # not retried


def test_modify_chases_a_resting_limit_order(fake, broker):
    fake.set_price(GOLD, 72000)
    order_id = place(broker, buy_gold(quantity=2, price_type="LIMIT", price=Decimal("71900")))
    broker.modify_order(order_id, symbol=GOLD, exchange="MCX", action="BUY", quantity=2, price_type="LIMIT",
                        price=Decimal("71950.5"))
    [view] = fake.orders()
    assert (view["order_status"], view["price"], view["modifications"][0]["price"]) == ("open", "71950.5",
                                                                                         "71950.5")
    assert fake.bodies("modifyorder") == [{
        "strategy": "PM", "orderid": order_id, "symbol": GOLD, "exchange": "MCX", "action": "BUY",
        "product": "NRML", "pricetype": "LIMIT", "quantity": "2", "price": "71950.5",
        "trigger_price": "0", "disclosed_quantity": "0"}]

    broker.modify_order(order_id, symbol=GOLD, exchange="MCX", action="BUY", quantity=2, price_type="MARKET",
                        price=None)  # give up chasing: market
    assert fake.bodies("modifyorder")[-1]["price"] == "0"
    status = eventually(lambda: (s := broker.order_status(order_id)).average_price and s)
    assert (status.status, status.average_price) == (OrderState.COMPLETE, Decimal("72000"))


def test_modify_of_a_finished_or_unknown_order(fake, broker):
    order_id = place(broker, buy_gold())
    fields = {"symbol": GOLD, "exchange": "MCX", "action": "BUY", "quantity": 1, "price_type": "LIMIT",
              "price": Decimal("70000")}
    with pytest.raises(BrokerRejected):
        broker.modify_order(order_id, **fields)
    with pytest.raises(BrokerOrderNotFound):
        broker.modify_order("25000000000999", **fields)
    with pytest.raises(BrokerRejected):
        broker.modify_order(order_id, **{**fields, "price": None})  # refused before sending
    assert fake.request_count("modifyorder") == 2


# ---------------------------------------------------------------- modes and contracts


def test_semi_auto_answer_awaits_approval_and_the_order_appears_later(fake, broker):
    fake.configure(semi_auto=True)
    result = broker.place_order(buy_gold())
    assert result == OrderAwaitingApproval(pending_id="1")
    assert fake.orders() == [] and broker.order_book() == []
    order_id = fake.approve(1)  # the trader approves in OpenAlgo's Action Center
    [row] = broker.order_book()
    assert (row.order_id, row.symbol, row.action, row.quantity, row.tag) == (order_id, GOLD, "BUY", 1, None)


def test_analyzer_mode(fake, broker):
    assert broker.analyzer_mode() is False
    fake.configure(analyzer=True)
    assert broker.analyzer_mode() is True
    order_id = place(broker, buy_gold())  # a simulated order in the sandbox book
    assert fake.orders() == [] and [o["orderid"] for o in fake.orders(sandbox=True)] == [order_id]
    assert [o.order_id for o in broker.order_book()] == [order_id]


@pytest.mark.parametrize(("mcx_quantity", "gold_lot"), [("lots", 1), ("units", 100)])
def test_contract_lot_sizes(mcx_quantity, gold_lot):
    with FakeOpenAlgo(api_key=KEY, sessions=False, mcx_quantity=mcx_quantity) as fake:
        with make_broker(fake.url) as broker:
            gold = broker.contract(GOLD, "MCX")
            assert (gold.symbol, gold.exchange, gold.lot_size, gold.tick_size) == (GOLD, "MCX", gold_lot,
                                                                                   Decimal("1"))
            assert broker.contract(PE, "NFO").lot_size == 30  # NFO options always count units
            assert broker.contract(PE, "NFO").tick_size == Decimal("0.05")
            with pytest.raises(BrokerRejected, match="not found"):
                broker.contract("GOLDM05JAN26XYZ", "MCX")
            with pytest.raises(BrokerRejected, match="lot size"):  # quantities are sent unchanged
                broker.place_order(OrderRequest("x", PE, "NFO", "SELL", 1))
