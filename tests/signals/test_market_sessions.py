"""Signals outside the exchange session (DESIGN §15.3), with time travel over real 2026 dates and the
shipped holiday lists: entries are rejected ``market_closed``; exits are ``held`` and run at the next
open, driven by the leader's job; bars are processed as always; a held exit is never overtaken."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from core.leader import Lease
from core.models import JobRun
from positions.models import IntentStatus, OrderIntent, Position
from recovery.jobs import job_run
from signals.models import SignalLog
from tests import payloads
from tests.conftest import Webhook, seed_market_calendar

IST = timezone.get_fixed_timezone(330)
BANK_NIFTY_ENTRY = dict(instrument="BANK_NIFTY", price=52000, stop=51650, atr=350, er=0.82)

# Thursday 2 April 2026; Friday 3 April is Good Friday (an NSE holiday), then a weekend.
THURSDAY = datetime(2026, 4, 2, tzinfo=IST)
NEXT_OPEN = datetime(2026, 4, 6, 9, 15, tzinfo=IST)  # Monday


@pytest.fixture
def sessions(live_portfolio, settings):
    settings.PM_MARKET_SESSIONS = True
    seed_market_calendar()


@pytest.fixture
def hook(client):
    return Webhook(client, timezone.now())


def at(moment: datetime, **delta) -> time_machine.travel:
    return time_machine.travel(moment + timedelta(**delta), tick=True)


def post(hook: Webhook, payload: dict) -> int:
    response = hook.post(payload)
    assert response.status_code == 202, response.content
    return response.json()["signal_id"]


def signal(signal_id: int) -> SignalLog:
    return SignalLog.objects.get(pk=signal_id)


def release_held(leader: Lease) -> dict:
    assert job_run(name="release_held_signals", epoch=leader.epoch)["ran"] == "release_held_signals"
    return JobRun.objects.filter(job="release_held_signals").latest("id").result


def test_an_exit_after_the_close_is_held_and_runs_at_the_next_trading_open(sessions, leader, hook):
    with at(THURSDAY, hours=10):
        entry = post(hook, payloads.entry(timestamp=THURSDAY + timedelta(hours=9, minutes=59), **BANK_NIFTY_ENTRY))
    assert signal(entry).status == "executed"
    position = Position.objects.get()

    with at(THURSDAY, hours=15, minutes=45):
        exit_ = post(hook, payloads.exit_(instrument="BANK_NIFTY", price=52300, reason="SuperTrend",
                                          timestamp=THURSDAY + timedelta(hours=15, minutes=45)))
        held = signal(exit_)
        assert (held.status, held.reason) == ("held", "market_closed")
        assert held.result["held"]["next_open"] == NEXT_OPEN.isoformat()
        assert held.result["held"]["position_ids"] == [position.pk]
        # Bars are processed as always: the stop trails while the exit waits.
        bar = post(hook, payloads.bar(instrument="BANK_NIFTY", price=53000, atr=350,
                                      timestamp=THURSDAY + timedelta(hours=15, minutes=50)))
        assert signal(bar).status == "executed" and signal(bar).result["stops_moved"]
    position.refresh_from_db()
    assert position.status == "open" and position.current_stop > position.initial_stop
    assert not OrderIntent.objects.filter(purpose="exit").exists()

    # Good Friday, Saturday, Sunday and one minute before Monday's open: the job leaves it held.
    for moment in (THURSDAY + timedelta(days=1, hours=10), THURSDAY + timedelta(days=2, hours=11),
                   THURSDAY + timedelta(days=3, hours=11), NEXT_OPEN - timedelta(seconds=30)):
        with time_machine.travel(moment, tick=True):
            result = release_held(leader)
        assert result == {"released": [], "instruments": [], "still_held": ["BANK_NIFTY"]}, moment
        assert signal(exit_).status == "held"

    with time_machine.travel(NEXT_OPEN, tick=True):
        assert release_held(leader)["released"] == [exit_]
    done = signal(exit_)
    assert (done.status, done.reason) == ("executed", "")
    assert done.result["held"]["next_open"] == NEXT_OPEN.isoformat()  # the record of the wait is kept
    assert NEXT_OPEN <= done.processed_at < NEXT_OPEN + timedelta(minutes=1)
    position.refresh_from_db()
    assert (position.status, position.exit_reason, position.exit_price) == ("closed", "SuperTrend", 52300)
    assert NEXT_OPEN <= position.closed_at < NEXT_OPEN + timedelta(minutes=1)


def test_a_stop_hit_after_the_close_queues_the_exit_for_the_next_open(sessions, leader, hook):
    with at(THURSDAY, hours=10):
        post(hook, payloads.entry(timestamp=THURSDAY + timedelta(hours=9, minutes=59), **BANK_NIFTY_ENTRY))
    position = Position.objects.get()
    with at(THURSDAY, hours=15, minutes=50):
        bar = post(hook, payloads.bar(instrument="BANK_NIFTY", price=51000, atr=350,
                                      timestamp=THURSDAY + timedelta(hours=15, minutes=50)))
        assert (signal(bar).status, signal(bar).reason) == ("executed", "")
        assert [e["position_id"] for e in signal(bar).result["exits_triggered"]] == [position.pk]
        assert signal(bar).result["settlements"][0]["outcome"] == "exit_pending"
    position.refresh_from_db()
    assert (position.status, position.exit_reason, position.retry_at) == ("closing", "PM_STOP_HIT", NEXT_OPEN)
    assert position.last_error.startswith("not sent: market_closed")
    assert not OrderIntent.objects.filter(purpose="exit").exclude(status=IntentStatus.CANCELLED).exists()  # nothing left

    with time_machine.travel(NEXT_OPEN - timedelta(seconds=30), tick=True):
        assert job_run(name="retry_orders", epoch=leader.epoch)["ran"] == "retry_orders"
    position.refresh_from_db()
    assert position.status == "closing"
    with time_machine.travel(NEXT_OPEN, tick=True):
        assert job_run(name="retry_orders", epoch=leader.epoch)["ran"] == "retry_orders"
    position.refresh_from_db()
    assert position.status == "closed" and NEXT_OPEN <= position.closed_at < NEXT_OPEN + timedelta(minutes=1)
    sent = OrderIntent.objects.filter(purpose="exit").exclude(status=IntentStatus.CANCELLED)
    assert sorted(sent.values_list("leg", "action")) == [("CE", "SELL"), ("PE", "BUY")]


def test_entries_and_pyramids_after_the_close_are_rejected_market_closed(sessions, hook):
    with at(THURSDAY, hours=15, minutes=45):
        entry = post(hook, payloads.entry(timestamp=THURSDAY + timedelta(hours=15, minutes=44), **BANK_NIFTY_ENTRY))
        pyramid = post(hook, payloads.entry(position="Long_2", timestamp=THURSDAY + timedelta(hours=15, minutes=44),
                                            **BANK_NIFTY_ENTRY))
    rejected = signal(entry)
    assert (rejected.status, rejected.reason) == ("rejected", "market_closed")
    checks = rejected.result["checks"]
    assert [c["check"] for c in checks[:4]] == ["stale_signal", "future_signal", "market_closed", "trading_paused"]
    assert checks[2]["passed"] is False and checks[2]["detail"]["next_open"] == NEXT_OPEN.isoformat()
    assert (signal(pyramid).status, signal(pyramid).reason) == ("rejected", "market_closed")
    assert not Position.objects.exists()


def test_an_exit_with_nothing_open_is_rejected_at_once_even_when_closed(sessions, hook):
    with at(THURSDAY, hours=15, minutes=45):
        exit_ = post(hook, payloads.exit_(instrument="BANK_NIFTY", price=52300,
                                          timestamp=THURSDAY + timedelta(hours=15, minutes=45)))
    assert (signal(exit_).status, signal(exit_).reason) == ("rejected", "position_not_open")


def test_a_held_exit_runs_before_a_later_entry_that_arrives_at_the_open(sessions, hook):
    """No job has run yet at 09:15:30: the claim itself takes the held exit first once NSE is open."""
    with at(THURSDAY, hours=10):
        first = post(hook, payloads.entry(timestamp=THURSDAY + timedelta(hours=9, minutes=59), **BANK_NIFTY_ENTRY))
    with at(THURSDAY, hours=15, minutes=45):
        exit_ = post(hook, payloads.exit_(instrument="BANK_NIFTY", price=52300,
                                          timestamp=THURSDAY + timedelta(hours=15, minutes=45)))
    assert signal(exit_).status == "held"
    with at(NEXT_OPEN, seconds=30):
        again = post(hook, payloads.entry(timestamp=NEXT_OPEN, **BANK_NIFTY_ENTRY))
    held, entry = signal(exit_), signal(again)
    assert (signal(first).status, held.status, entry.status) == ("executed", "executed", "executed"), entry.result
    assert held.processed_at < entry.processed_at
    old, new = Position.objects.order_by("id")
    assert (old.status, old.exit_signal_id, new.status, new.entry_signal_id) == ("closed", exit_, "open", again)


def test_mcx_trades_at_2300_and_at_2345_only_outside_us_daylight_saving(sessions, leader, hook):
    winter = datetime(2026, 1, 7, tzinfo=IST)  # a Wednesday; the US is on standard time: MCX to 23:55
    with at(winter, hours=23):
        entry = post(hook, payloads.entry(timestamp=winter + timedelta(hours=22, minutes=59)))
    with at(winter, hours=23, minutes=45):
        exit_ = post(hook, payloads.exit_(timestamp=winter + timedelta(hours=23, minutes=45)))
    assert (signal(entry).status, signal(exit_).status) == ("executed", "executed")

    summer = datetime(2026, 7, 8, tzinfo=IST)  # US daylight saving time: MCX closes at 23:30
    with at(summer, hours=23):
        entry = post(hook, payloads.entry(timestamp=summer + timedelta(hours=22, minutes=59)))
    with at(summer, hours=23, minutes=45):
        exit_ = post(hook, payloads.exit_(timestamp=summer + timedelta(hours=23, minutes=45)))
        late_entry = post(hook, payloads.entry(position="Long_2", timestamp=summer + timedelta(hours=23, minutes=44)))
    assert signal(entry).status == "executed"
    assert (signal(exit_).status, signal(late_entry).reason) == ("held", "market_closed")
    assert signal(exit_).result["held"]["next_open"] == (summer + timedelta(days=1, hours=9)).isoformat()
    with at(summer, days=1, hours=9):
        assert release_held(leader)["released"] == [exit_]
    assert signal(exit_).status == "executed"
    assert set(Position.objects.values_list("status", flat=True)) == {"closed"}


def test_with_sessions_off_the_demo_trades_at_any_hour(live_portfolio, settings, hook):
    settings.PM_MARKET_SESSIONS = False
    sunday = datetime(2026, 1, 11, 3, 0, tzinfo=IST)
    with at(sunday):
        entry = post(hook, payloads.entry(timestamp=sunday, **BANK_NIFTY_ENTRY))
        exit_ = post(hook, payloads.exit_(instrument="BANK_NIFTY", price=52300, timestamp=sunday))
    assert (signal(entry).status, signal(exit_).status) == ("executed", "executed")
    market = next(c for c in signal(entry).result["checks"] if c["check"] == "market_closed")
    assert market == {"check": "market_closed", "passed": True, "detail": {"enforced": False}}
