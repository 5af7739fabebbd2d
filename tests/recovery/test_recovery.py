"""Startup recovery after crashes at chosen points (``Crash`` unwinds like a killed process):
half-done work is finished against the broker exactly once, or flagged, before trading resumes."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from unittest import mock

import httpx
import pytest
from django.core.management import call_command
from django.utils import timezone

from core.redis_client import call, key
from portfolio.models import CapitalTransaction
from positions.broker.factory import set_broker_override
from positions.broker.openalgo import OpenAlgoBroker
from positions.broker.paper import PaperBroker
from positions.models import IntentStatus, OrderIntent, PaperOrder, PaperPosition, Position
from reconciliation.models import Discrepancy, ReconciliationRun
from recovery.models import RecoveryRun
from recovery.services.recovery import recovery_run
from signals.models import SignalLog
from tests.fakes.openalgo_server import FakeOpenAlgo
from tests.signals.test_broker_failures import gold_symbol


class Crash(BaseException):
    pass


def later() -> datetime:
    """After every claim taken during the test has expired (the crashed worker is long gone)."""
    return timezone.now() + timedelta(seconds=120)


def crash_after_sending(broker_class):
    """The broker call goes out and is acted on; the worker dies before recording the answer."""
    original = broker_class.place_order

    def place_then_die(self, request):
        original(self, request)
        raise Crash()

    return mock.patch.object(broker_class, "place_order", place_then_die)


def test_sent_entry_whose_order_filled_is_booked_once(live_portfolio, webhook):
    with crash_after_sending(PaperBroker), pytest.raises(Crash):
        webhook.entry(minute=0)
    intent = OrderIntent.objects.get()
    assert (intent.status, Position.objects.get().status, SignalLog.objects.get().status) == (
        IntentStatus.SENT, "opening", "processing")

    run = recovery_run(trigger="startup", now=later())
    position, signal = Position.objects.get(), SignalLog.objects.get()
    assert (position.status, position.entry_price, signal.status) == ("open", 72000, "executed")
    assert signal.result["completed_by"] == "recovery"
    assert PaperOrder.objects.count() == 1  # looked up by our tag, never sent again
    assert run.succeeded and run.report["resolved"]["settled"] == [{"position_id": position.pk, "outcome": "opened"}]
    assert run.report["found"]["intents"][0]["status"] == "SENT" and run.report["remaining"]["intents"] == []
    reconciliation = ReconciliationRun.objects.get()
    assert (reconciliation.trigger, reconciliation.outcome) == ("startup", "matched")

    recovery_run(trigger="startup", now=later())  # a second recovery finds nothing more to do
    assert PaperOrder.objects.count() == 1 and Position.objects.get().version == position.version


def test_sent_exit_whose_order_filled_books_the_pnl_once(live_portfolio, webhook):
    webhook.entry(minute=0)
    with crash_after_sending(PaperBroker), pytest.raises(Crash):
        webhook.exit(minute=5, price=72500)
    assert Position.objects.get().status == "closing"
    recovery_run(trigger="startup", now=later())
    recovery_run(trigger="startup", now=later())
    position = Position.objects.get()
    assert (position.status, position.realized_pnl) == ("closed", Decimal("45000.00"))
    assert list(CapitalTransaction.objects.filter(kind="TRADING_PNL").values_list("amount", flat=True)) == [
        Decimal("45000.00")]
    assert PaperOrder.objects.filter(action="SELL").count() == 1
    assert set(SignalLog.objects.values_list("status", flat=True)) == {"executed"}


def test_sent_entry_whose_order_was_rejected_fails_the_position_and_the_signal(live_portfolio, webhook):
    with FakeOpenAlgo(api_key="test-key", sessions=False) as fake:  # orders at any wall-clock time
        broker = OpenAlgoBroker(base_url=fake.url, api_key="test-key", retry_backoff=0.01,
                                timeout=httpx.Timeout(1.0, connect=0.5))
        set_broker_override(broker)
        fake.set_fault("placeorder", "rejected_after_accept")
        with crash_after_sending(OpenAlgoBroker), pytest.raises(Crash):
            webhook.entry(minute=0)
        assert OrderIntent.objects.get().status == IntentStatus.SENT
        run = recovery_run(trigger="startup", now=later())
        assert fake.request_count("placeorder") == 1
        broker.close()
    position, signal, intent = Position.objects.get(), SignalLog.objects.get(), OrderIntent.objects.get()
    assert intent.status == IntentStatus.REJECTED and intent.broker_order_id
    assert position.status == "failed" and "broker_rejected" in position.exit_reason
    assert (signal.status, signal.reason) == ("failed", "broker_rejected")
    assert run.report["resolved"]["settled"] == [{"position_id": position.pk, "outcome": "entry_failed"}]


def test_processing_signal_without_intent_is_requeued_and_executed_once(live_portfolio, webhook):
    with mock.patch("signals.executor.atomic_with_retry", side_effect=Crash()), pytest.raises(Crash):
        webhook.entry(minute=0)
    signal = SignalLog.objects.get()
    assert signal.status == "processing" and not OrderIntent.objects.exists()
    run = recovery_run(trigger="startup", now=later())
    signal.refresh_from_db()
    assert (signal.status, signal.attempts) == ("executed", 2)
    assert run.report["resolved"]["released"] == [signal.pk] and run.report["kicked"] == ["GOLD_MINI"]
    assert PaperOrder.objects.count() == 1 and Position.objects.get().status == "open"


def test_recovery_releases_the_instruments_hold_and_the_queue_runs_in_order(live_portfolio, webhook):
    with crash_after_sending(PaperBroker), pytest.raises(Crash):
        webhook.entry(minute=0)
    webhook.exit(minute=5, price=72500)
    assert SignalLog.objects.get(signal_type="EXIT").status == "accepted"  # held behind the unresolved entry
    run = recovery_run(trigger="startup", now=later())
    rows = list(SignalLog.objects.order_by("processed_at").values_list("signal_type", "status"))
    assert rows == [("BASE_ENTRY", "executed"), ("EXIT", "executed")]
    assert run.report["held_instruments"] == []
    assert Position.objects.get().status == "closed" and PaperOrder.objects.count() == 2


def test_work_still_claimed_by_a_live_worker_is_left_alone_and_flagged(live_portfolio, webhook):
    with crash_after_sending(PaperBroker), pytest.raises(Crash):
        webhook.entry(minute=0)
    run = recovery_run(trigger="startup")  # the claim has not expired: its owner may be alive
    assert OrderIntent.objects.get().status == IntentStatus.SENT and Position.objects.get().status == "opening"
    assert run.report["held_instruments"] == ["GOLD_MINI"]
    checks = {w["check"] for w in run.warnings}
    assert {"signal_processing", "intent_unresolved", "position_unsettled"} <= checks
    # The reconciliation does not call the in-flight contract a discrepancy.
    assert run.report["reconciliation"]["in_flight"][0]["symbol"] == gold_symbol(webhook)
    assert not Discrepancy.objects.exists()


def test_a_discrepancy_found_at_startup_halts_entries_before_the_queue_runs(live_portfolio, webhook):
    symbol = gold_symbol(webhook)
    PaperPosition.objects.create(symbol=symbol, exchange="MCX", net_quantity=3, average_price=71000)
    with mock.patch("signals.executor.atomic_with_retry", side_effect=Crash()), pytest.raises(Crash):
        webhook.entry(minute=0)
    run = recovery_run(trigger="startup", now=later())
    signal = SignalLog.objects.get()
    assert (signal.status, signal.reason) == ("blocked", "reconciliation_mismatch")
    assert Discrepancy.objects.get().kind == "missing"
    assert {"check": "reconciliation_missing", "instrument": "GOLD_MINI", "position_ids": [],
            "detail": f"MCX:{symbol} expected 0, broker 3"} in run.warnings


def test_positions_are_validated_into_warnings(live_portfolio):
    from positions.symbols import futures_symbol
    from tests.factories import make_position

    future = timezone.now().date() + timedelta(days=400)
    good = make_position("GOLD_MINI", 1, expiry=future, futures_symbol=futures_symbol(root="GOLDM", expiry=future))
    expired = make_position("GOLD_MINI", 2, lots=1)  # GOLDM05FEB26FUT, expired on 2026-02-05
    bad_stop = make_position("SILVER_MINI", 1, lots=1, futures_symbol="SILVERM27FEB26FUT", expiry="2026-02-27",
                             initial_stop=Decimal("-5"), current_stop=Decimal("-5"))
    above = make_position("COPPER", 1, lots=1, futures_symbol="COPPER31DEC25FUT", expiry="2025-12-31",
                          initial_stop=Decimal("72100"))
    wrong = make_position("BANK_NIFTY", 1, lots=1, pe_symbol="GOLDM05FEB26FUT")
    run = recovery_run(trigger="command")
    found = {(w["position_id"], w["check"]) for w in run.warnings if "position_id" in w}
    assert {(expired.pk, "contract_expired"), (bad_stop.pk, "negative_stop"), (above.pk, "stop_above_entry"),
            (wrong.pk, "symbol_mismatch")} <= found
    assert not [check for pid, check in found if pid == good.pk]
    assert RecoveryRun.objects.get().warnings == run.warnings  # stored


def test_a_year_without_holidays_is_a_recovery_warning(live_portfolio):
    from portfolio.models import Holiday
    from tests.factories import make_position

    assert not [w for w in recovery_run(trigger="command").warnings if w["check"] == "holidays_missing"]
    year = timezone.now().year + 1
    make_position("COPPER", 1, lots=1, expiry=f"{year}-01-29")  # a position expiring next year
    Holiday.objects.filter(exchange="MCX", date__year=year).delete()
    run = recovery_run(trigger="command")
    missing = [w for w in run.warnings if w["check"] == "holidays_missing"]
    assert [(w["exchange"], w["year"]) for w in missing] == [("MCX", year)]


def test_rollovers_in_progress_are_reported(live_portfolio):
    from tests.factories import make_position

    position = make_position("GOLD_MINI", 1, rollover_status="failed")
    run = recovery_run(trigger="command")
    assert any(w["check"] == "rollover_failed" and w["position_id"] == position.pk for w in run.warnings)
    assert run.report["found"]["rollovers"][0]["id"] == position.pk


def test_orphaned_signal_locks_are_removed(live_portfolio):
    dead = key("signal_lock", "f" * 64)
    call(lambda r: r.set(dead, "gone-host:1:abcd|0123", px=30000))
    run = recovery_run(trigger="startup")
    assert run.report["locks_removed"] == [dead]
    assert call(lambda r: r.get(dead)) is None


def test_a_failing_step_is_recorded_and_the_rest_still_runs(live_portfolio):
    with mock.patch("recovery.services.recovery.orphaned_locks_cleanup", side_effect=RuntimeError("redis exploded")):
        run = recovery_run(trigger="startup")
    assert not run.succeeded
    assert run.report["errors"] == [{"step": "orphaned_locks", "error": "RuntimeError: redis exploded"}]
    assert run.report["reconciliation"]["outcome"] == "matched"


def test_broker_down_at_startup_is_not_a_success(live_portfolio):
    from positions.broker import BrokerUnavailable

    with mock.patch.object(PaperBroker, "positions", side_effect=BrokerUnavailable("down")):
        run = recovery_run(trigger="startup")
    assert not run.succeeded and run.warnings[-1]["check"] == "broker_unavailable"


def test_recover_command_prints_json_and_exits_by_outcome(live_portfolio, webhook):
    out = io.StringIO()
    call_command("recover", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["succeeded"] and body["warnings"] == [] and body["trigger"] == "command"
    assert body["report"]["reconciliation"]["outcome"] == "matched"

    with crash_after_sending(PaperBroker), pytest.raises(Crash):
        webhook.entry(minute=0)
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("recover", stdout=out)
    assert exited.value.code == 1
    assert "instruments still held: ['GOLD_MINI']" in out.getvalue() and "intent_unresolved" in out.getvalue()
