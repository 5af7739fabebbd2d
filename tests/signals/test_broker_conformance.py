"""The order lifecycle against the fake OpenAlgo in its faithful mode (issue 10 / DESIGN §15.1): every
way real OpenAlgo answers ends with books equal to the broker's, and no order is ever sent twice."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from django.conf import settings
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from positions.models import IntentStatus, OrderIntent, Position
from reconciliation.models import Discrepancy
from reconciliation.services.reconcile import reconciliation_run
from recovery.services.sweeper import sweep
from tests.signals.conftest import bank_legs, gold_symbol, latest_signal

GOLD_LOTS = 9  # what the rules size for the default Gold Mini entry (72000, stop 71500, ATR 500)
IST = timezone.get_fixed_timezone(330)


def books_match_the_broker() -> bool:
    return reconciliation_run(trigger="manual")["outcome"] == "matched"


def after_resolution_window() -> datetime:
    return timezone.now() + timedelta(seconds=settings.PM_ORDER_RESOLUTION_SECONDS + 5)


def manual_order(fake, symbol: str, exchange: str, action: str, quantity: int) -> str:
    """An order someone placed by hand at the broker (not through us)."""
    body = {"apikey": "test-key", "strategy": "manual", "symbol": symbol, "exchange": exchange, "action": action,
            "product": "NRML", "pricetype": "MARKET", "quantity": str(quantity)}
    return httpx.post(f"{fake.url}/api/v1/placeorder", json=body, timeout=5).json()["orderid"]


def test_lost_placeorder_answer_is_found_in_the_tagless_book_and_booked_once(fake, webhook):
    fake.set_price(gold_symbol(webhook), "72000")
    fake.lose_answers(1)
    webhook.entry(minute=0)
    position, intent = Position.objects.get(), OrderIntent.objects.get()
    assert (position.status, position.lots) == ("open", GOLD_LOTS)
    assert intent.status == IntentStatus.FILLED and intent.broker_order_id == fake.orders()[0]["orderid"]
    assert fake.request_count("placeorder") == 1 and latest_signal().status == "executed"
    assert books_match_the_broker()


def test_a_manual_order_placed_before_we_sent_ours_is_never_claimed(fake, webhook):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    fake.set_clock(datetime.now(IST) - timedelta(minutes=1))
    manual = manual_order(fake, symbol, "MCX", "BUY", GOLD_LOTS)  # same symbol, side and quantity, a minute ago
    fake.set_clock(None)
    fake.set_fault("placeorder", "http_500")  # our own never reached the broker; the answer is unclear
    webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.UNKNOWN and intent.broker_order_id is None
    sweep(now=after_resolution_window())
    intent.refresh_from_db()
    assert intent.status == IntentStatus.UNRESOLVED and intent.broker_order_id is None
    assert not OrderIntent.objects.filter(broker_order_id=manual).exists()


def test_our_lost_order_is_told_apart_from_an_earlier_manual_one(fake, webhook):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    fake.set_clock(datetime.now(IST) - timedelta(minutes=1))
    manual = manual_order(fake, symbol, "MCX", "BUY", GOLD_LOTS)
    fake.set_clock(None)
    fake.lose_answers(1)
    webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.FILLED and intent.broker_order_id not in (None, manual)


def test_a_young_order_showing_the_previous_rows_rejected_status_is_not_acted_on(fake, webhook):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    fake.set_fault("placeorder", "rejected_after_accept")
    manual_order(fake, symbol, "MCX", "BUY", 1)  # the row before ours: rejected
    fake.force_transient(1)  # ours, while young, reads as that row's status
    webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.FILLED and Position.objects.get().status == "open"
    assert fake.request_count("placeorder") == 2  # the manual one and ours, never a resend


def test_unanswered_past_the_window_halts_entries_not_exits_until_ops_settle_it(fake, webhook, ops_admin):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    webhook.entry(minute=0)  # Long_1 open
    fake.set_price(symbol, "73000")
    fake.set_fault("placeorder", "http_500")  # the pyramid's order: nothing placed, answer unclear
    webhook.entry(position="Long_2", minute=1, price=73000, stop=72500)
    sweep(now=after_resolution_window())
    pyramid = OrderIntent.objects.get(purpose="entry", leg="FUT", position__layer=2)
    assert pyramid.status == IntentStatus.UNRESOLVED
    record = Discrepancy.objects.get(kind="unresolved_order", status="open")
    assert record.order_intent == pyramid and record.instrument_id == "GOLD_MINI"

    webhook.entry(position="Long_3", minute=2, price=73600, stop=73100)
    assert (latest_signal("PYRAMID").status, latest_signal("PYRAMID").reason) == ("blocked", "reconciliation_mismatch")
    webhook.exit(position="Long_1", minute=3, price=73600)
    assert latest_signal("EXIT").status == "executed"  # exits still run
    assert Position.objects.get(layer=1, status="closed")

    page = ops_admin.post(reverse("admin:reconciliation_discrepancy_changelist"),
                          {"action": "settle_order", ACTION_CHECKBOX_NAME: [record.pk]})
    assert page.status_code == 200 and "No order of this symbol" not in page.content.decode()  # the book is shown
    done = ops_admin.post(reverse("admin:reconciliation_discrepancy_changelist"),
                          {"action": "settle_order", ACTION_CHECKBOX_NAME: [record.pk], "apply": "yes",
                           "not_placed": "on", "note": "not in the order book"})
    assert done.status_code == 302
    record.refresh_from_db()
    pyramid.refresh_from_db()
    assert record.status == "resolved" and pyramid.status == IntentStatus.CANCELLED
    assert Position.objects.get(layer=2).status == "failed"
    webhook.entry(minute=4, price=73600, stop=73100)  # the halt is lifted
    assert latest_signal().status == "executed"
    assert books_match_the_broker()


def test_ops_link_an_unresolved_order_to_the_broker_order_it_became(fake, webhook, ops_admin):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    fake.set_fault("placeorder", "http_500", accept=True)  # placed, but the answer is a 500
    fake.set_fault("orderbook", "http_500", count=None)  # and the book cannot be read in time
    webhook.entry(minute=0)
    sweep(now=after_resolution_window())
    record = Discrepancy.objects.get(kind="unresolved_order")
    fake.clear_faults()
    order_id = fake.orders()[0]["orderid"]
    ops_admin.post(reverse("admin:reconciliation_discrepancy_changelist"),
                   {"action": "settle_order", ACTION_CHECKBOX_NAME: [record.pk], "apply": "yes",
                    "broker_order_id": order_id, "note": "found it"})
    assert OrderIntent.objects.get().status == IntentStatus.FILLED
    assert Position.objects.get().status == "open" and books_match_the_broker()
    assert fake.request_count("placeorder") == 1


def test_futures_entry_part_filled_then_cancelled_opens_with_the_filled_lots(fake, webhook):
    fake.set_price(gold_symbol(webhook), "72000")
    fake.plan_fills(now=4, rest="cancel")
    webhook.entry(minute=0)
    position = Position.objects.get()
    assert (position.status, position.lots, position.quantity) == ("open", 4, 4)
    assert OrderIntent.objects.get().filled_quantity == 4 and latest_signal().status == "executed"
    assert books_match_the_broker()


@pytest.mark.parametrize("leg, filled, kept", [("CE", 60, 60), ("PE", 30, 30)])
def test_bank_nifty_leg_part_filled_keeps_the_legs_equal(fake, webhook, leg, filled, kept):
    pe, ce = bank_legs(webhook)
    fake.set_price(pe, "150")
    fake.set_price(ce, "150")
    fake.plan_fills(now=filled, rest="cancel", symbol=ce if leg == "CE" else pe)
    webhook.entry("BANK_NIFTY", minute=0, price=52000, stop=51650, atr=350, er=0.82)
    position = Position.objects.get()
    assert (position.status, position.quantity, position.lots) == ("open", kept, kept // 30)
    assert fake.position(ce, "NFO") == kept and fake.position(pe, "NFO") == -kept
    assert books_match_the_broker()


def test_exit_part_filled_closes_that_part_and_sends_the_rest(fake, webhook):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    webhook.entry(minute=0)
    fake.set_price(symbol, "72500")
    fake.plan_fills(now=5, rest="cancel")
    webhook.exit(position="Long_1", minute=5, price=72500)
    closed = list(Position.objects.filter(status="closed").order_by("lots").values_list("lots", "realized_pnl"))
    assert [lots for lots, _ in closed] == [4, 5] and all(pnl == 500 * lots * 10 for lots, pnl in closed)
    sells = [(o["action"], o["quantity"]) for o in fake.orders()[1:]]
    assert sells == [("SELL", 9), ("SELL", 4)]
    assert fake.position(symbol, "MCX") == 0 and latest_signal("EXIT").status == "executed"


def test_semi_auto_order_is_booked_once_after_the_trader_approves_it(fake, webhook):
    fake.set_price(gold_symbol(webhook), "72000")
    fake.configure(semi_auto=True)
    webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.AWAITING_APPROVAL and intent.pending_order_id
    fake.approve(fake.pending_orders()[0]["pending_order_id"])
    sweep(now=timezone.now() + timedelta(seconds=5))
    intent.refresh_from_db()
    assert intent.status == IntentStatus.FILLED and Position.objects.get().status == "open"
    assert latest_signal().status == "executed" and len(fake.orders()) == 1


def test_analyzer_mode_sends_nothing_and_health_says_degraded(fake, webhook, client):
    fake.configure(analyzer=True)
    webhook.entry(minute=0)
    assert fake.request_count("placeorder") == 0
    assert (latest_signal().status, latest_signal().reason) == ("failed", "broker_unavailable")
    assert client.get("/health").json()["checks"]["broker"]["status"] == "degraded"


def test_a_lot_size_mismatch_sends_nothing_and_halts_the_instrument(fake, webhook):
    fake.configure(mcx_quantity="units")  # the broker counts GOLDM in grams (lot 100); we send lots
    webhook.entry(minute=0)
    assert fake.request_count("placeorder") == 0
    assert (latest_signal().status, latest_signal().reason) == ("failed", "lot_size_mismatch")
    record = Discrepancy.objects.get(kind="lot_size", status="open")
    assert (record.symbol, record.broker_quantity, record.expected_quantity) == (gold_symbol(webhook), 100, 1)
    webhook.entry(minute=1)
    assert latest_signal().reason == "reconciliation_mismatch"


def test_limit_chase_moves_to_the_touch_then_goes_to_market_and_records_each_move(fake, webhook):
    from portfolio.models import Instrument

    Instrument.objects.filter(code="GOLD_MINI").update(execution_style="LIMIT_CHASE", chase_seconds=1,
                                                       chase_attempts=2)
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    fake.plan_fills(now=0, rest="never")  # the limit order rests: nobody takes it ...
    original = fake.handle

    def market_fills(endpoint, body):
        reply = original(endpoint, body)
        if endpoint == "modifyorder" and body.get("pricetype") == "MARKET":
            fake.fill_order(body["orderid"])  # ... until it is a market order
        return reply

    fake.handle = market_fills
    webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.FILLED and intent.price_type == "LIMIT"
    assert [change.get("price_type", "LIMIT") for change in intent.modifications] == ["LIMIT", "LIMIT", "MARKET"]
    placed = fake.bodies("placeorder")[0]
    assert (placed["pricetype"], Decimal(placed["price"])) == ("LIMIT", 72000)  # our side's touch
    assert fake.request_count("modifyorder") == 3 and fake.request_count("placeorder") == 1
    assert Position.objects.get().status == "open"
