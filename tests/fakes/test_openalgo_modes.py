"""Modes and the world around orders: semi-auto, analyzer, contracts and lot units, exchange
sessions and lost answers (all through real HTTP)."""

from __future__ import annotations

from datetime import date, datetime

import httpx
import pytest

from positions.broker.base import BrokerOutcomeUnknown, OrderRequest
from positions.broker.openalgo import OpenAlgoBroker
from tests.fakes.helpers import (
    CE,
    COPPER,
    GOLD,
    KEY,
    PE,
    SILVER,
    api,
    book,
    control,
    make_fake,
    order,
    place,
    status,
    wait_for,
)
from tests.fakes.openalgo_rules import IST

# ---------------------------------------------------------------- semi-auto


def test_semi_auto_queues_orders_without_an_order_id_until_approved(fake):
    fake.configure(semi_auto=True)
    answer = order(fake.url)
    assert answer.status_code == 200
    assert answer.json() == {"status": "success", "message": "Order queued for approval in Action Center",
                             "mode": "semi_auto", "pending_order_id": 1}
    assert book(fake.url) == [] and fake.orders() == []
    second = order(fake.url, action="SELL").json()["pending_order_id"]
    pending = httpx.get(f"{fake.url}/_fake/pending").json()["pending"]
    assert [(p["pending_order_id"], p["status"], p["values"]["action"]) for p in pending] == [
        (1, "pending", "BUY"), (2, "pending", "SELL")]
    oid = control(fake.url, "approve", pending_id=1)["orderid"]
    assert [r["orderid"] for r in book(fake.url)] == [oid] and fake.position(GOLD, "MCX") == 1
    control(fake.url, "decline", pending_id=second)
    assert len(book(fake.url)) == 1
    assert [p["status"] for p in fake.pending_orders()] == ["approved", "declined"]
    assert httpx.post(f"{fake.url}/_fake/approve", json={"pending_id": second}).status_code == 400
    assert httpx.post(f"{fake.url}/_fake/approve", json={"pending_id": 99}).status_code == 400


def test_semi_auto_blocks_cancel_and_modify_and_a_late_approval_meets_the_rules_then_in_force(fake):
    fake.set_fault("placeorder", "pending")
    oid = place(fake.url)
    fake.configure(semi_auto=True)
    blocked = api(fake.url, "cancelorder", orderid=oid, strategy="T")
    assert blocked.status_code == 403 and "Semi-Auto" in blocked.json()["message"]
    modify = {"strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "BUY", "product": "NRML",
              "pricetype": "MARKET", "price": "0", "quantity": "1", "disclosed_quantity": "0", "trigger_price": "0"}
    assert api(fake.url, "modifyorder", orderid=oid, **modify).status_code == 403
    assert api(fake.url, "orderstatus", orderid=oid, strategy="T").status_code == 200  # reads run
    pending_id = order(fake.url).json()["pending_order_id"]
    fake.set_clock(datetime(2026, 1, 10, 11, 0, tzinfo=IST))  # approved on a Saturday
    with pytest.raises(ValueError, match="Markets are closed"):
        fake.approve(pending_id)
    assert fake.pending_orders()[0]["status"] == "rejected"


# ---------------------------------------------------------------- analyzer


def test_analyzer_status_and_toggle_answer_like_openalgo(fake):
    assert api(fake.url, "analyzer").json() == {
        "status": "success", "data": {"mode": "live", "analyze_mode": False, "total_logs": 0}}
    toggled = api(fake.url, "analyzer/toggle", mode=True).json()
    assert toggled["data"] == {"mode": "analyze", "analyze_mode": True, "total_logs": 0,
                               "message": "Analyzer mode switched to analyze"}
    assert fake.config()["analyzer"] is True
    assert api(fake.url, "analyzer").json()["data"]["analyze_mode"] is True
    assert api(fake.url, "analyzer/toggle", mode="maybe").status_code == 400


def test_analyzer_orders_go_to_a_sandbox_and_leave_the_live_book_alone(fake):
    live = place(fake.url)
    control(fake.url, "config", analyzer=True)
    fake.force_transient(seconds=30)  # the sandbox has no broker states: this waits for a live order
    answer = order(fake.url, quantity="2").json()
    sandbox_id = answer["orderid"]
    assert answer["mode"] == "analyze" and sandbox_id.startswith("260107") and len(sandbox_id) == 14
    assert [r["orderid"] for r in book(fake.url)] == [sandbox_id]
    assert api(fake.url, "positionbook").json()["data"][0]["quantity"] == "2"
    assert status(fake.url, sandbox_id).json()["mode"] == "analyze"
    assert status(fake.url, live).status_code == 404  # the sandbox does not know live orders
    assert api(fake.url, "analyzer").json()["data"]["total_logs"] == 1
    assert fake.position(GOLD, "MCX") == 1 and fake.position(GOLD, "MCX", sandbox=True) == 2
    state = httpx.get(f"{fake.url}/_fake/state").json()
    assert [o["orderid"] for o in state["orders"]] == [live]
    assert [o["orderid"] for o in state["sandbox"]["orders"]] == [sandbox_id]
    fake.configure(analyzer=False)
    assert [r["orderid"] for r in book(fake.url)] == [live]
    assert api(fake.url, "orderbook").status_code == 200
    second_live = place(fake.url)
    assert [o["transient"] for o in fake.orders()] == [False, True] and second_live


# ---------------------------------------------------------------- contracts and units


def test_symbol_returns_the_contract_with_its_lot_size(fake):
    answer = api(fake.url, "symbol", symbol=CE, exchange="NFO").json()
    assert answer["status"] == "success"
    assert answer["data"] == {
        "id": answer["data"]["id"], "symbol": CE, "brsymbol": "BANKNIFTY26JAN60000CE", "name": "BANKNIFTY",
        "exchange": "NFO", "brexchange": "NFO", "token": answer["data"]["token"], "expiry": "27-JAN-26",
        "strike": 60000.0, "lotsize": 30, "instrumenttype": "CE", "tick_size": 0.05, "freeze_qty": 600}
    gold = api(fake.url, "symbol", symbol=GOLD, exchange="MCX").json()["data"]
    assert (gold["lotsize"], gold["instrumenttype"], gold["expiry"]) == (1, "FUT", "05-FEB-26")
    unknown = api(fake.url, "symbol", symbol="NOPE", exchange="MCX")
    assert unknown.status_code == 404
    assert unknown.json() == {"status": "error", "message": "Symbol NOPE not found in exchange MCX"}
    assert api(fake.url, "symbol", symbol=GOLD, exchange="NFO").status_code == 404  # wrong exchange


@pytest.mark.parametrize(("mode", "lots"), [("lots", {GOLD: 1, SILVER: 1, COPPER: 1, PE: 30}),
                                            ("units", {GOLD: 100, SILVER: 5, COPPER: 2500, PE: 30})])
def test_mcx_counts_in_lots_or_units_by_switch_and_nfo_always_in_units(mode, lots):
    with make_fake(mcx_quantity=mode) as fake:
        for symbol, lot in lots.items():
            exchange = "NFO" if symbol == PE else "MCX"
            assert api(fake.url, "symbol", symbol=symbol, exchange=exchange).json()["data"]["lotsize"] == lot
            assert order(fake.url, symbol=symbol, exchange=exchange, quantity=str(2 * lot)).status_code == 200
            if lot > 1:
                refused = order(fake.url, symbol=symbol, exchange=exchange, quantity=str(lot + 1))
                assert refused.status_code == 400 and "multiple of lot size" in refused.json()["message"]
            assert fake.position(symbol, exchange) == 2 * lot


def test_unknown_contracts_are_refused_and_tests_may_add_contracts(fake):
    refused = order(fake.url, symbol="XAUUSD", exchange="MCX")
    assert refused.status_code == 400 and "tradingsymbol" in refused.json()["message"]
    control(fake.url, "symbol", symbol="CRUDEOIL19JAN26FUT", exchange="MCX", lotsize=1, instrumenttype="FUT")
    assert place(fake.url, symbol="CRUDEOIL19JAN26FUT")
    assert api(fake.url, "symbol", symbol="CRUDEOIL19JAN26FUT", exchange="MCX").json()["data"]["lotsize"] == 1
    with make_fake(strict_symbols=False) as lenient:
        assert place(lenient.url, symbol="XAUUSD")
        assert api(lenient.url, "symbol", symbol="XAUUSD", exchange="MCX").json()["data"]["lotsize"] == 1


# ---------------------------------------------------------------- sessions


@pytest.mark.parametrize(("at", "exchange", "open_"), [
    (datetime(2026, 1, 7, 9, 14, 59), "NFO", False),
    (datetime(2026, 1, 7, 9, 15), "NFO", True),
    (datetime(2026, 1, 7, 15, 29, 59), "NFO", True),
    (datetime(2026, 1, 7, 15, 30), "NFO", False),
    (datetime(2026, 1, 7, 8, 59), "MCX", False),
    (datetime(2026, 1, 7, 9, 0), "MCX", True),
    (datetime(2026, 1, 7, 23, 54), "MCX", True),  # winter: US standard time, to 23:55
    (datetime(2026, 1, 7, 23, 55), "MCX", False),
    (datetime(2026, 7, 8, 23, 29), "MCX", True),  # summer: US daylight saving time, to 23:30
    (datetime(2026, 7, 8, 23, 30), "MCX", False),
    (datetime(2026, 3, 6, 23, 40), "MCX", True),  # Friday before the US switch (Sunday 8 March)
    (datetime(2026, 3, 9, 23, 40), "MCX", False),  # the Monday after it
    (datetime(2026, 10, 30, 23, 40), "MCX", False),  # last Friday of US DST (ends Sunday 1 November)
    (datetime(2026, 11, 2, 23, 40), "MCX", True),
    (datetime(2026, 1, 10, 11, 0), "MCX", False),  # Saturday
    (datetime(2026, 1, 11, 11, 0), "NFO", False),  # Sunday
])
def test_orders_outside_the_session_are_rejected_like_a_broker_rejection(fake, at, exchange, open_):
    fake.set_clock(at)  # naive: IST
    symbol, quantity = (PE, "30") if exchange == "NFO" else (GOLD, "1")
    answer = order(fake.url, symbol=symbol, exchange=exchange, quantity=quantity)
    if open_:
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 400 and "Markets are closed" in answer.json()["message"]
        assert fake.orders() == []


def test_holidays_close_an_exchange_and_the_clock_is_settable_over_http(fake):
    control(fake.url, "holidays", dates=["2026-01-26"], exchange="NFO")
    assert control(fake.url, "clock", at="2026-01-26T11:00:00+05:30")["now"] == "2026-01-26T11:00:00+05:30"
    assert order(fake.url, symbol=PE, exchange="NFO", quantity="30").status_code == 400
    assert order(fake.url).status_code == 200  # MCX trades on that day here
    fake.set_holidays([date(2026, 1, 26)])  # every exchange
    assert order(fake.url).status_code == 400
    fake.set_clock(None)  # back to the wall clock
    assert abs((fake.now() - datetime.now(IST)).total_seconds()) < 5


def test_a_running_clock_moves_on_and_modify_outside_the_session_is_refused(fake):
    fake.set_clock(datetime(2026, 1, 7, 15, 29, 59), running=True)
    oid = place(fake.url, symbol=PE, exchange="NFO", quantity="30", pricetype="LIMIT", price="50")
    fields = {"strategy": "T", "symbol": PE, "exchange": "NFO", "action": "BUY", "product": "NRML",
              "pricetype": "LIMIT", "quantity": "30", "disclosed_quantity": "0", "trigger_price": "0"}
    wait_for(lambda: fake.now().time() >= datetime(2026, 1, 7, 15, 30).time())
    assert api(fake.url, "modifyorder", orderid=oid, price="60", **fields).status_code == 400


def test_partial_holidays_close_one_mcx_session(fake):
    fake.set_holidays(["2026-03-03"], "MCX", closed="morning")  # Holi: the evening session trades
    fake.set_clock(datetime(2026, 3, 3, 11, 0))
    assert order(fake.url).status_code == 400
    fake.set_clock(datetime(2026, 3, 3, 17, 0))
    assert order(fake.url).status_code == 200
    control(fake.url, "holidays", dates=["2026-01-01"], exchange="MCX", closed="evening")  # New Year
    fake.set_clock(datetime(2026, 1, 1, 16, 59))
    assert order(fake.url).status_code == 200
    fake.set_clock(datetime(2026, 1, 1, 17, 0))
    assert order(fake.url).status_code == 400
    assert fake.state()["holidays"] == {"MCX": ["2026-01-01 evening"]}


def test_sessions_switch_off_explicitly():
    with make_fake(sessions=False) as fake:
        fake.set_clock(datetime(2026, 1, 11, 3, 0))
        assert order(fake.url).status_code == 200


# ---------------------------------------------------------------- lost answers


def test_a_lost_answer_places_the_order_and_drops_the_connection(fake):
    fake.lose_answers(2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{fake.url}/api/v1/placeorder", json={
                "apikey": KEY, "strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "BUY", "quantity": "1"})
    assert order(fake.url).status_code == 200
    assert [o["order_status"] for o in fake.orders()] == ["complete"] * 3 and fake.position(GOLD, "MCX") == 3
    assert order(fake.url, quantity="0").status_code == 400  # only accepted orders lose answers


def test_the_adapter_sees_a_lost_answer_as_outcome_unknown(fake):
    control(fake.url, "lose_answers", count=1)
    with OpenAlgoBroker(base_url=fake.url, api_key=KEY) as broker:
        with pytest.raises(BrokerOutcomeUnknown):
            broker.place_order(OrderRequest("lost-1", GOLD, "MCX", "BUY", 1))
    assert len(fake.orders()) == 1 and fake.request_count("placeorder") == 1


def test_lost_answers_come_at_the_configured_rate_reproducibly():
    def lost(seed: int) -> list[bool]:
        with make_fake(lost_answer_rate=0.3, seed=seed, order_rate_limit=None) as fake:
            outcomes = []
            for _ in range(30):
                try:
                    order(fake.url)
                    outcomes.append(False)
                except httpx.TransportError:
                    outcomes.append(True)
            assert len(fake.orders()) == 30  # every one was placed
            return outcomes

    first = lost(4)
    assert 2 <= sum(first) <= 20 and lost(4) == first
