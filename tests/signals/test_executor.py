"""The executor claims an instrument's queue in batches: one claim for many signals, each signal still
its own unit of work in signal-time order, and the rest of a batch handed back whenever the queue
changes under it (an earlier signal arrives, an order is left unsettled)."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from positions.broker.paper import PaperBroker
from positions.services.settle import WAITING, Settlement
from signals import executor
from signals.models import SignalLog
from signals.services.inbox import signal_claim_batch, signal_unclaim
from tests.factories import make_signal

pytestmark = pytest.mark.django_db(transaction=True)
ME = "worker:1:abcd"


def _bar(at, price=72000, **fields) -> SignalLog:
    return make_signal(signal_type="MARKET_DATA", position="", signal_timestamp=at, payload={
        "type": "MARKET_DATA", "instrument": "GOLD_MINI", "price": price, "atr": 500, "supertrend": 71000,
        "timestamp": at.isoformat()}, **fields)


def _entry(at) -> SignalLog:
    return make_signal(signal_type="BASE_ENTRY", position="Long_1", signal_timestamp=at, payload={
        "type": "BASE_ENTRY", "instrument": "GOLD_MINI", "position": "Long_1", "price": 72000, "stop": 71000,
        "atr": 500, "er": 0.9, "lots": 1, "supertrend": 71000, "timestamp": at.isoformat()})


def _start():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def test_a_batch_is_claimed_in_signal_time_order_and_handed_back_as_if_never_claimed(live_portfolio):
    start = _start()
    later, earlier, middle = _bar(start + timedelta(seconds=3)), _bar(start), _bar(start + timedelta(seconds=1))
    batch = signal_claim_batch(instrument="GOLD_MINI", instance=ME, limit=2)
    assert [s.pk for s in batch] == [earlier.pk, middle.pk]
    assert {(s.status, s.processed_by, s.attempts) for s in SignalLog.objects.filter(pk__in=[earlier.pk, middle.pk])} \
        == {("processing", ME, 1)}
    assert signal_claim_batch(instrument="GOLD_MINI", instance="other:2:ef01", limit=5) == []  # one batch at a time
    assert signal_unclaim(signal_ids=[middle.pk, later.pk], instance="other:2:ef01") == 0  # only our own claims
    assert signal_unclaim(signal_ids=[middle.pk], instance=ME) == 1
    middle.refresh_from_db()
    assert (middle.status, middle.attempts, middle.claim_expires_at) == ("accepted", 0, None)


def test_one_claim_serves_the_queue_and_each_signal_finishes_in_order(live_portfolio):
    start = _start()
    signals = [_entry(start)] + [_bar(start + timedelta(seconds=n), price=72000 + 10 * n) for n in range(1, 6)]
    with mock.patch.object(executor, "signal_claim_batch", wraps=executor.signal_claim_batch) as claims:
        assert executor.instrument_execute(instrument="GOLD_MINI", broker=PaperBroker()) == 6
    assert claims.call_count == 2  # the batch, then an empty queue
    rows = list(SignalLog.objects.order_by("processed_at").values_list("pk", "status", "attempts"))
    assert rows == [(s.pk, "executed", 1) for s in signals]
    assert SignalLog.objects.get(pk=signals[-1].pk).result["positions_checked"] == 1  # the entry opened first


def test_an_earlier_signal_arriving_mid_batch_runs_before_the_rest_of_it(live_portfolio):
    start = _start()
    first, second, third = (_bar(start + timedelta(seconds=n)) for n in (10, 11, 12))
    late = []
    decide = executor.decide

    def decide_then_deliver(signal):
        if not late:  # while the batch's first signal is being decided, an earlier bar is delivered
            late.append(_bar(start + timedelta(seconds=5)))
        return decide(signal)

    with mock.patch.object(executor, "decide", side_effect=decide_then_deliver):
        assert executor.instrument_execute(instrument="GOLD_MINI", broker=PaperBroker()) == 4
    order = list(SignalLog.objects.order_by("processed_at").values_list("pk", flat=True))
    assert order == [first.pk, late[0].pk, second.pk, third.pk]
    assert dict(SignalLog.objects.values_list("pk", "attempts")) == {first.pk: 1, late[0].pk: 1, second.pk: 1,
                                                                     third.pk: 1}


def test_orders_left_unsettled_hold_the_rest_of_the_batch(live_portfolio):
    start = _start()
    entry, bar = _entry(start), _bar(start + timedelta(seconds=1))

    def unsettled(*, position_id, broker):
        return Settlement(position_id, WAITING, "broker_outcome_unknown")

    with mock.patch.object(executor, "position_drive", side_effect=unsettled):
        assert executor.instrument_execute(instrument="GOLD_MINI", broker=PaperBroker()) == 1
    entry.refresh_from_db()
    bar.refresh_from_db()
    assert entry.status == "failed" and entry.result["awaiting_settlement"]
    assert (bar.status, bar.attempts) == ("accepted", 0)  # handed back, waiting behind the entry's order


def test_a_value_the_database_refuses_fails_that_signal_and_the_queue_goes_on(live_portfolio):
    """An equity so large that an entry sizes beyond the lots column (a DataError, not an outage):
    retrying would fail the same way forever, so the signal fails loudly and the bar after it runs."""
    from portfolio.models import PortfolioState

    PortfolioState.objects.update(closed_equity=10**15, equity_high=10**15)
    start = _start()
    entry, bar = _entry(start), _bar(start + timedelta(seconds=1), price=72100)
    entry.payload["stop"] = 71990  # ₹100 of risk a lot: billions of lots
    entry.save(update_fields=["payload"])
    assert executor.instrument_execute(instrument="GOLD_MINI") == 2
    entry.refresh_from_db()
    bar.refresh_from_db()
    assert (entry.status, entry.reason) == ("failed", "internal_error") and "out of range" in entry.result["error"]
    assert bar.status == "executed"
