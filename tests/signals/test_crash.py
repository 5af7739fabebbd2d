"""A crash between the phases leaves state that recovery repairs: no lost signal, no second order.

``Crash`` derives from BaseException, so no ``except Exception`` in the product catches it — the
stack unwinds as if the process had died at that point (the chaos suite kills real processes).
"""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from positions.broker.paper import PaperBroker
from positions.models import IntentStatus, OrderIntent, PaperOrder, Position
from positions.services import lifecycle
from recovery.services.sweeper import sweep
from signals.models import SignalLog


class Crash(BaseException):
    pass


def _crash_once(original):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise Crash()
        return original(*args, **kwargs)

    return wrapper


def _after_claim_expiry():
    return timezone.now() + timedelta(seconds=120)


def test_crash_after_intent_commit_before_broker_call(live_portfolio, webhook):
    with mock.patch("signals.executor.position_drive", side_effect=Crash()), pytest.raises(Crash):
        webhook.entry(minute=0)
    signal = SignalLog.objects.get()
    assert signal.status == "processing"
    assert list(OrderIntent.objects.values_list("status", flat=True)) == [IntentStatus.PENDING]
    assert not PaperOrder.objects.exists()  # nothing reached the broker

    report = sweep(now=_after_claim_expiry())
    assert report["released"] == [signal.pk]
    signal.refresh_from_db()
    assert signal.status == "executed" and signal.attempts == 2
    assert PaperOrder.objects.count() == 1
    assert list(Position.objects.order_by("id").values_list("status", flat=True)) == ["failed", "open"]
    assert OrderIntent.objects.get(position__status="failed").status == IntentStatus.CANCELLED


def test_crash_after_broker_fill_before_booking(live_portfolio, webhook):
    with mock.patch.object(lifecycle, "position_open", _crash_once(lifecycle.position_open)), pytest.raises(Crash):
        webhook.entry(minute=0)
    signal = SignalLog.objects.get()
    position = Position.objects.get()
    assert (signal.status, position.status) == ("processing", "opening")
    assert OrderIntent.objects.get().status == IntentStatus.FILLED
    assert PaperOrder.objects.count() == 1

    assert sweep(now=timezone.now())["settled"] == []  # a live claim is not touched
    report = sweep(now=_after_claim_expiry())
    assert report["released"] == [] and report["settled"] == [{"position_id": position.pk, "outcome": "opened"}]
    signal.refresh_from_db()
    position.refresh_from_db()
    assert (signal.status, position.status, position.entry_price) == ("executed", "open", 72000)
    assert signal.result["completed_by"] == "recovery"
    assert PaperOrder.objects.count() == 1  # no second order


def test_crash_after_broker_accepted_before_response_recorded(live_portfolio, webhook):
    original = PaperBroker.place_order

    def place_then_die(self, request):
        original(self, request)
        raise Crash()

    with mock.patch.object(PaperBroker, "place_order", place_then_die), pytest.raises(Crash):
        webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert intent.status == IntentStatus.SENT and intent.broker_order_id is None
    sweep(now=_after_claim_expiry())
    intent.refresh_from_db()
    assert intent.status == IntentStatus.FILLED
    assert intent.broker_order_id == PaperOrder.objects.get().order_id  # found by our tag, not resent
    assert Position.objects.get().status == "open"
    assert SignalLog.objects.get().status == "executed"


def test_crash_during_exit_before_booking(live_portfolio, webhook):
    webhook.entry(minute=0)
    with mock.patch.object(lifecycle, "position_book_exit", _crash_once(lifecycle.position_book_exit)), pytest.raises(Crash):
        webhook.exit(minute=5, price=72500)
    assert Position.objects.get().status == "closing"
    sweep(now=_after_claim_expiry())
    position = Position.objects.get()
    assert position.status == "closed" and position.realized_pnl == 45000  # (72500 − 72000) × 9 lots × 10
    assert PaperOrder.objects.filter(action="SELL").count() == 1
    assert set(SignalLog.objects.values_list("status", flat=True)) == {"executed"}


def test_queue_behind_a_crashed_signal_waits_and_then_runs_in_order(live_portfolio, webhook):
    with mock.patch("signals.executor.position_drive", side_effect=Crash()), pytest.raises(Crash):
        webhook.entry(minute=0)
    webhook.exit(minute=5, price=72500)  # queued behind the stuck entry: must not run first
    assert SignalLog.objects.get(signal_type="EXIT").status == "accepted"
    sweep(now=_after_claim_expiry())
    rows = list(SignalLog.objects.order_by("processed_at").values_list("signal_type", "status"))
    assert rows == [("BASE_ENTRY", "executed"), ("EXIT", "executed")]
