"""Order book, order status and trade book as OpenAlgo shows them: no tag, no average price on book
rows, a lagging trade book, young orders in transient states, partial fills, cancel and modify."""

from __future__ import annotations

import pytest

from tests.fakes.helpers import (
    CE,
    GOLD,
    PE,
    api,
    book,
    control,
    make_fake,
    place,
    status,
    trades,
    wait_for,
)


def test_book_rows_carry_no_strategy_and_no_average_price(fake):
    fake.set_price(GOLD, 72000)
    market = place(fake.url)
    limit = place(fake.url, pricetype="LIMIT", price="71000")  # below the market: rests
    rows = {r["orderid"]: r for r in book(fake.url)}
    assert all("strategy" not in r and "average_price" not in r for r in rows.values())
    assert (rows[market]["price"], rows[market]["order_status"]) == (0.0, "complete")
    assert (rows[limit]["price"], rows[limit]["order_status"]) == (71000.0, "open")
    data = status(fake.url, limit).json()["data"]
    assert "strategy" not in data and data["average_price"] == 0.0


def test_orderstatus_reports_0_while_the_trade_book_lags_then_the_fill(fake):
    fake.set_price(GOLD, "72150.5")
    oid = place(fake.url)
    first = status(fake.url, oid).json()["data"]
    assert (first["order_status"], first["average_price"]) == ("complete", 0.0)
    assert status(fake.url, oid).json()["data"]["average_price"] == 72150.5


def test_the_trade_book_lags_by_reads_or_seconds_and_not_at_all_by_switch():
    with make_fake(trade_lag_reads=2) as fake:
        oid = place(fake.url)
        assert [status(fake.url, oid).json()["data"]["average_price"] for _ in range(3)] == [0.0, 0.0, 100.0]
    with make_fake(trade_lag_reads=0, trade_lag_seconds=1.0) as fake:
        oid = place(fake.url)
        assert trades(fake.url) == []
        wait_for(lambda: trades(fake.url))
        assert status(fake.url, oid).json()["data"]["average_price"] == 100.0
    with make_fake(trade_lag_reads=0) as fake:
        oid = place(fake.url)
        assert status(fake.url, oid).json()["data"]["average_price"] == 100.0


def test_orderstatus_average_price_is_the_first_trade_rows_not_the_volume_weighted(fake):
    fake.set_price(GOLD, 100)
    fake.plan_fills(now=1, rest="never")
    oid = place(fake.url, quantity="3")
    fake.set_price(GOLD, 130)
    assert fake.fill_order(oid) == 2
    assert [(t["quantity"], t["average_price"]) for t in wait_for(lambda: trades(fake.url))] == [(1, 100.0), (2, 130.0)]
    data = status(fake.url, oid).json()["data"]
    assert (data["order_status"], data["average_price"]) == ("complete", 100.0)  # VWAP would be 120
    assert fake.orders()[0]["average_price"] == "120"  # the control view knows the truth


# ---------------------------------------------------------------- young orders


def test_a_young_order_in_a_transient_state_shows_the_previous_rows_status(fake):
    fake.set_fault("placeorder", "rejected_after_accept")
    rejected = place(fake.url)
    fake.force_transient(seconds=None)  # until told otherwise
    young = place(fake.url)
    rows = {r["orderid"]: r["order_status"] for r in book(fake.url)}
    assert rows == {rejected: "rejected", young: "rejected"}  # the stale status of the row before
    assert status(fake.url, young).json()["data"]["order_status"] == "rejected"
    stats = api(fake.url, "orderbook").json()["data"]["statistics"]
    assert (stats["total_completed_orders"], stats["total_rejected_orders"]) == (0, 1)
    fake.set_transient(young, seconds=0)  # the window is over: the true status shows
    assert status(fake.url, young).json()["data"]["order_status"] == "complete"


def test_a_young_order_on_the_first_row_fails_the_read_with_500(fake):
    control(fake.url, "force_transient", count=1, seconds=30)
    oid = place(fake.url)
    for answer in (status(fake.url, oid), api(fake.url, "orderbook")):
        assert answer.status_code == 500
        assert "order_status" in answer.json()["message"]
    assert api(fake.url, "tradebook").status_code == 200 and api(fake.url, "positionbook").status_code == 200
    control(fake.url, "transient", order_id=oid, seconds=0)
    assert status(fake.url, oid).json()["data"]["order_status"] == "complete"


def test_transient_error_mode_fails_every_book_read(fake):
    first = place(fake.url)
    fake.force_transient(seconds=30, error=True)
    place(fake.url)
    assert status(fake.url, first).status_code == 500 and api(fake.url, "orderbook").status_code == 500


def test_the_transient_state_ends_with_its_window(fake):
    first = place(fake.url)
    fake.force_transient(seconds=0.3)
    young = place(fake.url)
    wait_for(lambda: status(fake.url, young).json()["data"]["order_status"] == "complete")
    assert status(fake.url, first).json()["data"]["order_status"] == "complete"


def test_transient_states_come_at_the_configured_rate_reproducibly():
    def transient(seed: int) -> list[bool]:
        with make_fake(transient_rate=0.5, transient_window=60, seed=seed, order_rate_limit=None) as fake:
            fake.set_transient(place(fake.url), seconds=0)  # a true first row, so reads do not fail
            for _ in range(20):
                place(fake.url)
            flags = [o["transient"] for o in fake.orders()]
            stats = api(fake.url, "orderbook").json()["data"]["statistics"]
            assert stats["total_completed_orders"] == flags.count(False)  # young ones are not complete yet
            return flags

    flags = transient(11)
    assert 3 <= flags.count(True) <= 17
    assert transient(11) == flags and transient(12) != flags


# ---------------------------------------------------------------- partial fills


def test_part_filled_then_cancelled_reads_cancelled_and_only_the_trade_book_knows(fake):
    fake.set_price(PE, 150)
    fake.plan_fills(now=30, rest="never", symbol=PE)
    oid = place(fake.url, symbol=PE, exchange="NFO", action="SELL", quantity="90")
    assert status(fake.url, oid).json()["data"]["order_status"] == "open"
    assert api(fake.url, "cancelorder", orderid=oid, strategy="T").json() == {"status": "success", "orderid": oid}
    data = status(fake.url, oid).json()["data"]
    assert (data["order_status"], data["quantity"], data["average_price"]) == ("cancelled", 90, 0.0)
    assert not {"filled_quantity", "filledqty"} & set(data)
    assert [(t["orderid"], t["quantity"]) for t in wait_for(lambda: trades(fake.url))] == [(oid, 30)]
    [position] = api(fake.url, "positionbook").json()["data"]
    assert position["quantity"] == "-30"  # positions move by the filled quantity only


def test_a_plan_can_fill_the_rest_later_or_cancel_it(fake):
    fake.plan_fills(now=1, rest="later", after=1.0, count=1)
    later = place(fake.url, quantity="3")
    assert fake.position(GOLD, "MCX") == 1
    wait_for(lambda: status(fake.url, later).json()["data"]["order_status"] == "complete")
    assert fake.position(GOLD, "MCX") == 3
    control(fake.url, "plan_fills", now=2, rest="cancel", symbol=GOLD)
    cut = place(fake.url, quantity="5")
    assert status(fake.url, cut).json()["data"]["order_status"] == "cancelled"
    assert fake.position(GOLD, "MCX") == 5
    assert [t["quantity"] for t in fake.trades()] == [1, 2, 2]


def test_plans_target_a_symbol_and_a_number_of_orders(fake):
    fake.plan_fills(now=0, rest="never", symbol=CE, count=2)
    gold = place(fake.url)
    ce = [place(fake.url, symbol=CE, exchange="NFO", quantity="30") for _ in range(3)]
    views = {o["orderid"]: (o["order_status"], o["filled_quantity"]) for o in fake.orders()}
    assert views[gold] == ("complete", 1)
    assert [views[i] for i in ce] == [("open", 0), ("open", 0), ("complete", 30)]
    fake.cancel_remainder(ce[0])
    assert control(fake.url, "fill_order", order_id=ce[1], quantity=30)["filled_quantity"] == 30
    assert [fake.orders()[i]["order_status"] for i in (1, 2)] == ["cancelled", "complete"]
    fake.plan_fills(now=0, rest="never", count=None)
    fake.clear_plans()
    assert status(fake.url, place(fake.url)).json()["data"]["order_status"] == "complete"


def test_random_partial_fills_fill_part_now_and_the_rest_shortly_after():
    with make_fake(partial_fill_rate=1.0, partial_fill_delay=1.0) as fake:
        oid = place(fake.url, symbol=PE, exchange="NFO", quantity="120")
        assert fake.orders()[0]["filled_quantity"] == 60 and fake.orders()[0]["order_status"] == "open"
        wait_for(lambda: fake.orders()[0]["order_status"] == "complete")
        assert [t["quantity"] for t in fake.trades()] == [60, 60] and fake.position(PE, "NFO") == 120
        assert status(fake.url, oid).status_code == 200


def test_partial_fill_rate_applies_to_its_share_of_orders_reproducibly():
    def partial(seed: int) -> list[bool]:
        with make_fake(partial_fill_rate=0.3, partial_fill_delay=60, seed=seed, order_rate_limit=None,
                       transient_rate=0) as fake:
            for _ in range(30):
                place(fake.url, quantity="2")
            return [o["filled_quantity"] == 1 for o in fake.orders()]

    first = partial(5)
    assert 2 <= sum(first) <= 20 and partial(5) == first


# ---------------------------------------------------------------- cancel and modify


@pytest.mark.parametrize("finished", ["complete", "cancelled", "rejected"])
def test_cancel_of_a_finished_order_is_500(fake, finished):
    if finished == "rejected":
        fake.set_fault("placeorder", "rejected_after_accept")
    if finished == "cancelled":
        fake.set_fault("placeorder", "pending")
    oid = place(fake.url)
    if finished == "cancelled":
        assert api(fake.url, "cancelorder", orderid=oid, strategy="T").status_code == 200
    answer = api(fake.url, "cancelorder", orderid=oid, strategy="T")
    assert answer.status_code == 500 and answer.json()["status"] == "error"
    assert fake.orders()[0]["order_status"] == finished


def test_cancel_of_an_unknown_order_is_404(fake):
    assert api(fake.url, "cancelorder", orderid="42", strategy="T").status_code == 404


def test_limit_chase_by_modifyorder_then_the_price_reaches_it(fake):
    fake.set_price(GOLD, 72000)
    oid = place(fake.url, pricetype="LIMIT", price="71900")
    assert fake.orders()[0]["order_status"] == "open"
    fields = {"strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "BUY", "product": "NRML",
              "pricetype": "LIMIT", "quantity": "1", "disclosed_quantity": "0", "trigger_price": "0"}
    moved = api(fake.url, "modifyorder", orderid=oid, price="71950", **fields)
    assert moved.json() == {"status": "success", "orderid": oid}
    assert book(fake.url)[0]["price"] == 71950.0 and book(fake.url)[0]["order_status"] == "open"
    fake.set_price(GOLD, "71940")  # the market comes down to the limit: filled at the limit
    assert fake.orders()[0]["order_status"] == "complete" and fake.orders()[0]["average_price"] == "71950"
    assert [m["price"] for m in fake.orders()[0]["modifications"]] == ["71950"]
    again = api(fake.url, "modifyorder", orderid=oid, price="72000", **fields)
    assert again.status_code == 400  # a complete order cannot be modified
    unknown = api(fake.url, "modifyorder", orderid="1", price="72000", **fields)
    assert unknown.status_code == 404
    incomplete = api(fake.url, "modifyorder", orderid=oid, price="72000", strategy="T")
    assert incomplete.status_code == 400 and "Missing data" in incomplete.json()["message"]


def test_modify_to_a_marketable_price_fills_at_the_market_and_control_fills_a_resting_limit(fake):
    fake.set_price(GOLD, 72000)
    chased = place(fake.url, action="SELL", pricetype="LIMIT", price="72100")
    fields = {"strategy": "T", "symbol": GOLD, "exchange": "MCX", "action": "SELL", "product": "NRML",
              "quantity": "1", "disclosed_quantity": "0", "trigger_price": "0"}
    api(fake.url, "modifyorder", orderid=chased, pricetype="LIMIT", price="71990", **fields)
    assert (fake.orders()[0]["order_status"], fake.orders()[0]["average_price"]) == ("complete", "72000")
    resting = place(fake.url, pricetype="LIMIT", price="70000")
    assert control(fake.url, "fill", order_id=resting)["filled"] == [resting]
    assert fake.orders()[1]["average_price"] == "70000"
    to_market = place(fake.url, pricetype="LIMIT", price="70000")
    api(fake.url, "modifyorder", orderid=to_market, pricetype="MARKET", price="0", **{**fields, "action": "BUY"})
    assert fake.orders()[2]["order_status"] == "complete" and fake.position(GOLD, "MCX") == 1
