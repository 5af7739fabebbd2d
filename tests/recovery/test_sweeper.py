"""The sweeper hands back abandoned work through the owners' transitions (one state machine each)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from positions.models import IntentPurpose, IntentStatus, OrderIntent
from positions.services.intents import intent_create
from recovery.services.sweeper import OVERDUE_SECONDS, kick_accepted, sweep
from signals import dispatch
from signals.models import SignalLog
from tests.factories import make_position, make_signal

pytestmark = pytest.mark.django_db


def _claimed(signal: SignalLog, *, expired: bool) -> SignalLog:
    now = timezone.now()
    SignalLog.objects.filter(pk=signal.pk).update(
        status="processing", processed_by="dead-worker:1:abcd", claimed_at=now - timedelta(minutes=5),
        claim_expires_at=now - timedelta(seconds=1) if expired else now + timedelta(minutes=1))
    signal.refresh_from_db()
    return signal


def test_expired_claim_without_sent_orders_is_handed_back_through_the_owners(portfolio):
    signal = _claimed(make_signal(), expired=True)
    opening = make_position(status="opening", entry_signal=signal)
    intent_create(position=opening, purpose=IntentPurpose.ENTRY, leg="FUT", sequence=1,
                  symbol=opening.futures_symbol, action="BUY", reference_price=opening.signal_price, signal=signal)
    closing = make_position(layer=2, status="closing", exit_signal=signal, exit_reason="SuperTrend")

    report = sweep(kick=False)

    assert report["released"] == [signal.pk]
    signal.refresh_from_db()
    assert signal.status == "accepted" and signal.result["previous_owner"] == "dead-worker:1:abcd"
    opening.refresh_from_db()
    closing.refresh_from_db()
    assert (opening.status, opening.version) == ("failed", 2)  # version moves with every transition
    assert (closing.status, closing.exit_reason, closing.version) == ("open", "", 2)
    assert OrderIntent.objects.get().status == IntentStatus.CANCELLED


def test_live_claim_and_sent_orders_are_left_alone(portfolio):
    live = _claimed(make_signal(), expired=False)
    sent = _claimed(make_signal(signal_type="EXIT", position="ALL"), expired=True)
    position = make_position(status="closing", exit_signal=sent)
    intent = intent_create(position=position, purpose=IntentPurpose.EXIT, leg="FUT", sequence=1,
                           symbol=position.futures_symbol, action="SELL", reference_price=position.signal_price,
                           signal=sent)
    OrderIntent.objects.filter(pk=intent.pk).update(status=IntentStatus.SENT)  # a test sets the scene

    report = sweep(kick=False)

    assert report["released"] == []
    live.refresh_from_db()
    sent.refresh_from_db()
    assert live.status == "processing"  # its worker is still on it
    # The sent order is looked up, never resent; unresolved, so the signal records an unknown outcome.
    assert (sent.status, sent.reason) == ("failed", "broker_outcome_unknown")
    assert OrderIntent.objects.get().status == IntentStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_a_signal_whose_intent_is_being_sent_is_never_handed_back(portfolio):
    """The race the row lock closes: the sweeper checks while a slow worker is mid-way through
    ``PENDING → SENT``; it waits for that transition and then leaves the signal alone."""
    import threading

    from django.db import connection, transaction

    signal = _claimed(make_signal(), expired=True)
    position = make_position(status="opening", entry_signal=signal)
    intent = intent_create(position=position, purpose=IntentPurpose.ENTRY, leg="FUT", sequence=1,
                           symbol=position.futures_symbol, action="BUY", reference_price=position.signal_price,
                           signal=signal)
    locked, release = threading.Event(), threading.Event()

    def worker_sending():
        with transaction.atomic():
            OrderIntent.objects.select_for_update().get(pk=intent.pk)
            OrderIntent.objects.filter(pk=intent.pk).update(status=IntentStatus.SENT)  # as intent_transition does
            locked.set()
            release.wait(10)
        connection.close()

    sender = threading.Thread(target=worker_sending)
    sender.start()
    assert locked.wait(10)
    threading.Timer(0.5, release.set).start()
    report = sweep(kick=False)  # blocks on the intent's row lock until the send committed
    sender.join(10)
    assert report["released"] == []
    signal.refresh_from_db()
    assert signal.status != "accepted" and OrderIntent.objects.get().status != IntentStatus.CANCELLED


def test_overdue_signals_run_here_only_when_no_worker_holds_their_instrument(portfolio, monkeypatch):
    ran, handed = [], []
    monkeypatch.setattr(dispatch, "run_executor", ran.append)
    monkeypatch.setattr(dispatch, "enqueue_execution", handed.append)
    long_ago = timezone.now() - timedelta(seconds=OVERDUE_SECONDS + 5)
    make_signal(instrument="GOLD_MINI", received_at=long_ago)
    make_signal(instrument="SILVER_MINI", received_at=long_ago)
    _claimed(make_signal(instrument="SILVER_MINI", signal_type="PYRAMID", position="Long_2"), expired=False)
    make_signal(instrument="COPPER")  # not overdue

    assert kick_accepted() == ["COPPER", "GOLD_MINI", "SILVER_MINI"]

    assert ran == ["GOLD_MINI"]  # stalled: nobody took it
    assert handed == ["COPPER", "SILVER_MINI"]  # a worker is draining Silver: only hand it over
