"""The pipeline against the stateful fake OpenAlgo server: each broker failure ends in a clear
outcome, an unclear one is resolved by looking the order up, and nothing is ever sent twice."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.utils import timezone

from portfolio.models import Instrument
from portfolio.selectors import instrument_params
from positions.broker.factory import set_broker_override
from positions.broker.openalgo import OpenAlgoBroker
from positions.calendars import entry_contract_expiry
from positions.models import IntentStatus, OrderIntent, Position
from positions.selectors import trading_calendar
from positions.symbols import futures_symbol, option_symbol
from recovery.services.sweeper import sweep
from signals.models import SignalLog
from tests.fakes.openalgo_server import FakeOpenAlgo


@pytest.fixture
def fake(live_portfolio):
    with FakeOpenAlgo(api_key="test-key", sessions=False) as server:  # orders at any wall-clock time
        broker = OpenAlgoBroker(base_url=server.url, api_key="test-key", retry_backoff=0.01,
                                timeout=httpx.Timeout(1.0, connect=0.5))
        set_broker_override(broker)
        yield server
        broker.close()


def _expiry(code: str, webhook):
    inst = Instrument.objects.get(code=code)
    day = webhook.base_time.astimezone(timezone.get_default_timezone()).date()
    return entry_contract_expiry(params=instrument_params(inst), today=day, calendar=trading_calendar(inst.exchange))


def gold_symbol(webhook) -> str:
    return futures_symbol(root="GOLDM", expiry=_expiry("GOLD_MINI", webhook))


def bank_legs(webhook, strike=52000) -> tuple[str, str]:
    expiry = _expiry("BANK_NIFTY", webhook)
    return tuple(option_symbol(root="BANKNIFTY", expiry=expiry, strike=strike, option_type=t) for t in ("PE", "CE"))


def _signal(kind="BASE_ENTRY") -> SignalLog:
    return SignalLog.objects.filter(signal_type=kind).latest("id")


def test_entry_is_booked_at_the_broker_fill_not_the_signal_price(fake, webhook):
    fake.set_price(gold_symbol(webhook), "72013")
    webhook.entry(minute=0, price=72000)
    position = Position.objects.get()
    assert (position.status, position.entry_price, position.signal_price) == ("open", 72013, 72000)
    assert fake.request_count("placeorder") == 1


def test_rejected_order_fails_the_signal_and_frees_the_layer(fake, webhook):
    fake.set_price(gold_symbol(webhook), "72000")
    fake.set_fault("placeorder", "reject", message="RMS: margin exceeds")
    webhook.entry(minute=0)
    signal, position = _signal(), Position.objects.get()
    assert (signal.status, signal.reason, position.status) == ("failed", "broker_rejected", "failed")
    assert "margin exceeds" in signal.result["settlements"][0]["orders"][0]["error"]
    webhook.entry(minute=1)  # the next entry on the same layer goes through
    assert Position.objects.filter(status="open").count() == 1
    assert fake.position(gold_symbol(webhook), "MCX") == 9


def test_expired_broker_session_is_broker_unavailable(fake, webhook):
    fake.set_fault("placeorder", "session_expired")
    webhook.entry(minute=0)
    assert (_signal().status, _signal().reason) == ("failed", "broker_unavailable")
    assert OrderIntent.objects.get().status == IntentStatus.CANCELLED
    assert fake.orders() == []


@pytest.mark.parametrize("fault", [dict(mode="timeout_after_accept", seconds=2.0),
                                   dict(mode="success_without_orderid", accept=True),
                                   dict(mode="http_500", accept=True)])
def test_unclear_outcome_is_resolved_by_lookup_never_by_resending(fake, webhook, fault):
    fake.configure(book_average_price=True)  # adapter not yet faithful-ready (issue 10)
    fake.set_price(gold_symbol(webhook), "72000")
    fake.set_fault("placeorder", **fault)
    webhook.entry(minute=0)
    assert fake.request_count("placeorder") == 1
    assert (_signal().status, Position.objects.get().status) == ("executed", "open")
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.FILLED and intent.broker_order_id == fake.orders()[0]["orderid"]


def test_unresolvable_outcome_holds_the_instrument_until_recovery(fake, webhook):
    fake.configure(book_average_price=True)  # adapter not yet faithful-ready (issue 10)
    fake.set_price(gold_symbol(webhook), "72000")
    fake.set_fault("placeorder", "timeout_after_accept", seconds=2.0)
    fake.set_fault("orderbook", "http_500", count=None)
    webhook.entry(minute=0)
    assert (_signal().status, _signal().reason) == ("failed", "broker_outcome_unknown")
    assert OrderIntent.objects.get().status == IntentStatus.UNKNOWN
    webhook.exit(minute=5, price=72500)
    assert _signal("EXIT").status == "accepted"  # held: the entry's fate must be known first

    fake.clear_faults()
    sweep(now=timezone.now() + timedelta(seconds=5))
    entry = _signal()
    assert (entry.status, entry.result["resolved_after_unknown_outcome"]) == ("executed", True)
    assert _signal("EXIT").status == "executed"
    assert Position.objects.get().status == "closed"
    assert fake.request_count("placeorder") == 2  # one BUY (never resent) and one SELL
    assert fake.position(gold_symbol(webhook), "MCX") == 0


def test_order_never_seen_at_the_broker_is_cancelled_after_the_grace_period(fake, webhook):
    fake.set_fault("placeorder", "http_500")  # nothing placed, answer unclear
    fake.set_fault("orderbook", "http_500", count=None)
    webhook.entry(minute=0)
    fake.clear_faults()
    sweep(now=timezone.now() + timedelta(seconds=5))
    assert OrderIntent.objects.get().status == IntentStatus.UNKNOWN  # too early to conclude
    sweep(now=timezone.now() + timedelta(minutes=5))
    assert OrderIntent.objects.get().status == IntentStatus.CANCELLED
    assert Position.objects.get().status == "failed"
    # Now known: the order never reached the broker.
    assert (_signal().status, _signal().reason) == ("failed", "broker_unavailable") and fake.orders() == []


def test_bank_nifty_second_leg_rejected_reverses_the_first(fake, webhook):
    pe, ce = bank_legs(webhook)
    fake.set_price(pe, "150")
    fake.set_price(ce, "150")
    calls = {"n": 0}
    original = fake.handle

    def reject_second_order(endpoint, body):
        if endpoint == "placeorder":
            calls["n"] += 1
            if calls["n"] == 2:
                fake.set_fault("placeorder", "reject", message="CE leg: price band")
        return original(endpoint, body)

    fake.handle = reject_second_order
    webhook.entry("BANK_NIFTY", minute=0, price=52000, stop=51650, atr=350, er=0.82)
    signal, position = _signal(), Position.objects.get()
    assert (signal.status, signal.reason, position.status) == ("failed", "broker_rejected", "failed")
    actions = [(o["symbol"][-2:], o["action"], o["order_status"]) for o in fake.orders()]
    assert actions == [("PE", "SELL", "complete"), ("PE", "BUY", "complete")]
    assert fake.position(pe, "NFO") == 0 and fake.position(ce, "NFO") == 0
    purposes = list(OrderIntent.objects.order_by("id").values_list("purpose", "leg", "status"))
    assert purposes == [("entry", "PE", "FILLED"), ("entry", "CE", "REJECTED"), ("reversal", "PE", "FILLED")]


def test_rejected_exit_leaves_the_position_open_and_a_later_exit_sells_once(fake, webhook):
    symbol = gold_symbol(webhook)
    fake.set_price(symbol, "72000")
    webhook.entry(minute=0)
    fake.set_fault("placeorder", "reject", message="exchange closed")
    webhook.exit(position="Long_1", minute=5, price=72500)
    assert (_signal("EXIT").reason, Position.objects.get().status) == ("broker_rejected", "open")
    fake.set_price(symbol, "72600")
    webhook.exit(position="Long_1", minute=6, price=72600)
    position = Position.objects.get()
    assert (position.status, position.exit_price, position.realized_pnl) == ("closed", 72600, Decimal("54000.00"))
    assert fake.position(symbol, "MCX") == 0
    assert [i.client_order_id.rsplit("-", 1)[1] for i in position.intents.filter(purpose="exit")] == ["1", "2"]
