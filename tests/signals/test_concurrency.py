"""Concurrent deliveries with real threads against real PostgreSQL and Redis."""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from core.dbutils import lock_key
from positions.models import PaperOrder, Position
from signals.models import SignalLog
from tests.cluster import wait_until
from tests.conftest import Webhook


def _run_concurrently(functions) -> list:
    """Start every function at the same instant, each on its own thread and database connection."""
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _hook(webhook: Webhook) -> Webhook:
    return Webhook(Client(), webhook.base_time)


class InstrumentHeld:
    """Hold the instrument's serialization lock from another session so deliveries queue up."""

    def __init__(self, instrument: str) -> None:
        db = settings.DATABASES["default"]
        self.conn = psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"],
                                    password=db["PASSWORD"], dbname=connection.settings_dict["NAME"],
                                    autocommit=True)
        self.key = lock_key("instrument", instrument)

    def __enter__(self):
        self.conn.execute("SELECT pg_advisory_lock(%s)", [self.key])
        return self

    def __exit__(self, *exc):
        self.conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        self.conn.close()


def test_same_signal_fifty_times_executes_once(live_portfolio, webhook):
    responses = _run_concurrently([lambda: _hook(webhook).entry(minute=0) for _ in range(50)])
    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) == 1 and codes.count(200) == 49
    assert len({r.json()["signal_id"] for r in responses}) == 1
    signal = SignalLog.objects.get()
    assert (signal.status, signal.duplicate_count) == ("executed", 49)
    assert Position.objects.count() == 1
    assert PaperOrder.objects.count() == 1  # one set of broker orders


@pytest.mark.parametrize("pyramid_first", [True, False])
def test_pyramid_is_evaluated_after_its_base_whatever_the_arrival_order(live_portfolio, webhook, pyramid_first):
    base = lambda: _hook(webhook).entry(minute=0, price=72000, stop=71500, atr=500)  # noqa: E731
    pyramid = lambda: _hook(webhook).entry(position="Long_2", minute=1, price=73200, stop=72700, atr=500)  # noqa: E731

    def after_the_first(function):  # arrives second: once the first signal's row is committed
        def run():
            wait_until(lambda: SignalLog.objects.exists(), timeout=10, what="the first signal")
            return function()
        return run

    functions = [pyramid, after_the_first(base)] if pyramid_first else [base, after_the_first(pyramid)]
    with InstrumentHeld("GOLD_MINI"):
        threads_done = threading.Event()
        runner = threading.Thread(target=lambda: (_run_concurrently(functions), threads_done.set()))
        runner.start()
        wait_until(lambda: SignalLog.objects.count() >= 2, timeout=10, what="both signals")
        assert SignalLog.objects.count() == 2  # both committed while execution waits on the lock
    runner.join(timeout=60)
    assert threads_done.is_set()
    rows = list(SignalLog.objects.order_by("processed_at").values_list("signal_type", "status", "reason"))
    assert rows == [("BASE_ENTRY", "executed", ""), ("PYRAMID", "executed", "")]
    assert list(Position.objects.order_by("layer").values_list("layer", "status")) == [(1, "open"), (2, "open")]


def _exit_and_stop_bar(webhook, *, exit_first: bool):
    exit_signal = lambda: _hook(webhook).exit(position="Long_1", minute=5 if exit_first else 6, price=71000)  # noqa
    stop_bar = lambda: _hook(webhook).bar(minute=6 if exit_first else 5, price=71000)  # noqa: E731
    return [exit_signal, stop_bar]


def _assert_sold_once(winner: str | None = None) -> str:
    sells = PaperOrder.objects.filter(action="SELL")
    assert sells.count() == 1 and sells.get().quantity == 9
    position = Position.objects.get()
    assert position.status == "closed"
    outcomes = dict(SignalLog.objects.exclude(signal_type="BASE_ENTRY").values_list("signal_type", "reason"))
    if position.exit_reason == "SuperTrend":  # the TradingView EXIT sold; the bar found nothing open
        assert outcomes == {"EXIT": "", "MARKET_DATA": ""}
        assert SignalLog.objects.get(signal_type="MARKET_DATA").result["exits_triggered"] == []
    else:  # the stop sold; the EXIT found the position no longer open
        assert position.exit_reason == "PM_STOP_HIT"
        assert outcomes == {"MARKET_DATA": "", "EXIT": "position_not_open"}
    if winner:
        assert position.exit_reason == winner
    return position.exit_reason


def test_tradingview_exit_and_stop_hit_racing_sell_exactly_once(live_portfolio, webhook):
    webhook.entry(minute=0, price=72000, stop=71500, atr=500)  # initial stop 71500
    _run_concurrently(_exit_and_stop_bar(webhook, exit_first=True))
    _assert_sold_once()


@pytest.mark.parametrize("exit_first", [True, False])
def test_queued_exit_and_stop_hit_follow_signal_time(live_portfolio, webhook, exit_first):
    webhook.entry(minute=0, price=72000, stop=71500, atr=500)
    with InstrumentHeld("GOLD_MINI"):
        runner = threading.Thread(target=_run_concurrently, args=(_exit_and_stop_bar(webhook, exit_first=exit_first),))
        runner.start()
        wait_until(lambda: SignalLog.objects.count() >= 3, timeout=10, what="the three signals")
    runner.join(timeout=60)
    _assert_sold_once(winner="SuperTrend" if exit_first else "PM_STOP_HIT")


def test_entries_on_two_instruments_at_once_respect_the_shared_margin(live_portfolio, webhook):
    """Each entry locks the portfolio row while sizing, so free margin is never spent twice."""
    from portfolio.models import PortfolioState

    PortfolioState.objects.update(margin_limit_percent=10)  # free margin ₹5,00,000: one of the two fits
    results = _run_concurrently([
        lambda: _hook(webhook).entry("SILVER_MINI", minute=0, price=90000, stop=89000, atr=900, er=0.9),
        lambda: _hook(webhook).entry("COPPER", minute=0, price=800, stop=799, atr=1, er=0.9),
    ])
    assert all(r.status_code == 202 for r in results)
    used = sum(p.lots * p.instrument.margin_per_lot for p in Position.objects.filter(status="open"))
    assert 0 < used <= 500_000
    assert SignalLog.objects.filter(status="blocked", reason="zero_lots:margin").count() == 1
