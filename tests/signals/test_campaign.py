"""Full campaigns through the real URLconf: the books, the ledger, statistics and the broker agree."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Sum

from portfolio.models import CapitalTransaction, PortfolioState, TradingStatistics
from positions.models import IntentStatus, OrderIntent, PaperOrder, PaperPosition, Position, PyramidingState
from signals.models import SignalLog
from tests.conftest import money


def _statuses():
    return list(SignalLog.objects.order_by("signal_timestamp").values_list("signal_type", "position", "status",
                                                                            "reason"))


def test_gold_campaign_base_two_pyramids_trailing_stop_exit_and_exit_all(live_portfolio, webhook):
    assert webhook.entry(minute=0, price=72000, stop=71500, atr=500, er=0.9).status_code == 202
    webhook.bar(minute=5, price=73200)
    webhook.entry(position="Long_2", minute=6, price=73200, stop=72700, atr=500)
    webhook.bar(minute=10, price=74500)
    webhook.entry(position="Long_3", minute=11, price=74500, stop=74000, atr=500)
    webhook.bar(minute=15, price=73900)  # below Long_3's initial stop 74000 → PM stop exit
    webhook.exit(minute=20, price=75000)

    assert [s[2] for s in _statuses()] == ["executed"] * 7, _statuses()
    base, pyr1, pyr2 = Position.objects.order_by("layer")
    assert (base.lots, base.limiter, base.entry_price, base.initial_stop) == (9, "risk", 72000, 71500)
    assert (pyr1.lots, pyr1.limiter, pyr1.entry_price, pyr1.initial_stop) == (4, "geometric", 73200, 72700)
    assert (pyr2.lots, pyr2.initial_stop) == (2, 74000)
    # Trailing: highest close 74500 − 2 × ATR 500; the stop never comes down on the 73900 bar.
    assert base.current_stop == pyr1.current_stop == Decimal("73500")
    assert pyr2.current_stop == Decimal("74000")
    assert (pyr2.exit_reason, pyr2.exit_price, pyr2.realized_pnl) == ("PM_STOP_HIT", 73900, money(-12000))
    assert (base.exit_reason, base.realized_pnl) == ("SuperTrend", money(270000))
    assert pyr1.realized_pnl == money(72000)
    assert {p.status for p in (base, pyr1, pyr2)} == {"closed"}

    state = PortfolioState.objects.get()
    ledger = CapitalTransaction.objects.aggregate(total=Sum("amount"))["total"]
    assert state.closed_equity == ledger == money(5_330_000)
    assert state.equity_high == money(5_330_000)
    assert CapitalTransaction.objects.filter(kind="TRADING_PNL").count() == 3
    assert state.margin_used == 0 and state.total_risk_amount == 0

    stats = TradingStatistics.objects.get()
    assert (stats.base_entries, stats.pyramid_entries, stats.exits, stats.stop_exits) == (1, 2, 3, 1)
    assert (stats.trades_closed, stats.winning_trades, stats.losing_trades) == (3, 2, 1)
    assert stats.net_realized_pnl == money(330_000) and stats.signals_executed == 7

    book = list(PaperOrder.objects.order_by("id").values_list("action", "quantity", "average_price"))
    assert book == [("BUY", 9, 72000), ("BUY", 4, 73200), ("BUY", 2, 74500), ("SELL", 2, 73900),
                    ("SELL", 9, 75000), ("SELL", 4, 75000)]
    assert PaperPosition.objects.get().net_quantity == 0
    assert OrderIntent.objects.exclude(status=IntentStatus.FILLED).count() == 0
    assert PyramidingState.objects.get(instrument="GOLD_MINI").base_position is None


def test_bank_nifty_synthetic_books_pnl_from_leg_fills(live_portfolio, webhook):
    webhook.entry("BANK_NIFTY", minute=0, price=52000, stop=51650, atr=350, er=0.82)
    webhook.exit("BANK_NIFTY", minute=30, price=52600, reason="Manual Exit")
    position = Position.objects.get()
    # The domain notes' worked example: 3 lots, limited by risk; ATM strike 52000; 90 units a leg.
    assert (position.lots, position.limiter, position.strike, position.quantity) == (3, "risk", 52000, 90)
    assert position.pe_symbol.endswith("52000PE") and position.ce_symbol.endswith("52000CE")
    assert (position.pe_entry_price, position.ce_entry_price, position.entry_price) == (150, 150, 52000)
    assert position.initial_stop == Decimal("51475")  # 52000 − 1.5 × 350
    assert (position.exit_price, position.realized_pnl) == (52600, money(54000))
    legs = list(OrderIntent.objects.order_by("id").values_list("purpose", "leg", "action", "quantity"))
    # The call is bought before the put is sold, and the put bought back before the call is sold.
    assert legs == [("entry", "CE", "BUY", 90), ("entry", "PE", "SELL", 90),
                    ("exit", "PE", "BUY", 90), ("exit", "CE", "SELL", 90)]
    assert set(PaperPosition.objects.values_list("net_quantity", flat=True)) == {0}
    assert PortfolioState.objects.get().closed_equity == money(5_054_000)


def test_rule_outcomes_are_recorded_with_their_reasons(live_portfolio, webhook):
    webhook.entry(position="Long_2", minute=0, price=73000, stop=72500)  # no base yet
    webhook.exit(position="Long_1", minute=1, price=72000)  # nothing open
    webhook.entry(minute=2, price=72000, stop=71500, er=0.9)
    webhook.entry(minute=3, price=72000, stop=71500, er=0.9, note="same layer again")  # layer_open
    webhook.entry(position="Long_2", minute=4, price=72300, stop=71800)  # 1R not passed, pnl > 0
    webhook.post({"type": "EOD_MONITOR", "instrument": "GOLD_MINI", "timestamp": webhook.at(5)})
    outcomes = [(s[0], s[2], s[3]) for s in _statuses()]
    assert outcomes == [
        ("PYRAMID", "rejected", "no_base_position"),
        ("EXIT", "rejected", "position_not_open"),
        ("BASE_ENTRY", "executed", ""),
        ("BASE_ENTRY", "rejected", "layer_open"),
        ("PYRAMID", "blocked", "1r_gate"),
        ("EOD_MONITOR", "ignored", "not_supported"),
    ]
    gated = SignalLog.objects.get(signal_type="PYRAMID", reason="1r_gate")
    checks = {c["check"]: c["passed"] for c in gated.result["checks"]}
    assert checks["1r_gate"] is False and checks["instrument_pnl"] is True and checks["max_pyramids"] is True
    assert "zero_lots" not in checks  # sizing is not evaluated after a gate fails


def test_zero_lots_and_portfolio_gate_block(live_portfolio, webhook):
    webhook.entry("COPPER", minute=0, price=800, stop=700, atr=10, er=0.5)  # risk/lot 250 000 → 0.1 lots
    copper = SignalLog.objects.get()
    assert (copper.status, copper.reason) == ("blocked", "zero_lots:risk")
    PortfolioState.objects.update(max_vol_percent=Decimal("0.1"))
    webhook.entry(minute=1, price=72000, stop=71500, atr=500, er=0.9)
    gold = SignalLog.objects.get(instrument="GOLD_MINI")
    assert (gold.status, gold.reason) == ("blocked", "portfolio_vol")
    assert not Position.objects.exists() and not PaperOrder.objects.exists()


def test_pause_blocks_entries_but_not_exits(live_portfolio, webhook, admin_client):
    webhook.entry(minute=0)
    admin_client.post("/api/trading/pause", {"reason": "RBI policy"}, content_type="application/json")
    webhook.entry(position="Long_2", minute=1, price=73200, stop=72700)
    webhook.exit(minute=2, price=72500)
    statuses = [(s[0], s[2], s[3]) for s in _statuses()]
    assert statuses[1:] == [("PYRAMID", "blocked", "trading_paused"), ("EXIT", "executed", "")]


def test_stale_entries_are_rejected_but_old_exits_run(live_portfolio, webhook):
    webhook.entry(minute=-120)  # two hours before "now - 30 min": older than MAX_SIGNAL_AGE
    assert SignalLog.objects.get().reason == "stale_signal"
    webhook.entry(minute=0)
    webhook.exit(minute=-300, price=72000)  # an old EXIT still runs
    assert Position.objects.get().status == "closed"
    webhook.entry(minute=600)  # nine and a half hours ahead of now
    assert SignalLog.objects.order_by("-id").first().reason == "future_signal"
