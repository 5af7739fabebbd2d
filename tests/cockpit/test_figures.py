"""The cockpit's pure arithmetic and its SVG charts (no database)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from cockpit import charts, figures

NOW = datetime(2026, 1, 12, 9, 0, tzinfo=dt_timezone.utc)  # 14:30 IST


def test_stop_distance_in_points_r_and_rupees():
    # Gold Mini base: entry 72,000, initial stop 71,500 (1R = 500 points), stop trailed to 73,500, mark 74,500.
    d = figures.stop_distance(entry=Decimal(72000), initial_stop=Decimal(71500), current_stop=Decimal(73500),
                              mark=Decimal(74500), lots=9, point_value=Decimal(10))
    assert (d.points, d.r, d.money) == (Decimal(1000), Decimal("2.00"), Decimal(90000))
    unknown = figures.stop_distance(entry=None, initial_stop=Decimal(1), current_stop=Decimal(1), mark=None, lots=1,
                                    point_value=Decimal(1))
    assert unknown == figures.StopDistance(None, None, None)
    no_risk = figures.stop_distance(entry=Decimal(100), initial_stop=Decimal(100), current_stop=Decimal(90),
                                    mark=Decimal(95), lots=1, point_value=Decimal(1))
    assert no_risk.r is None and no_risk.money == Decimal(5)


def test_rollover_state():
    assert figures.days_to_expiry(date(2026, 2, 5), date(2026, 1, 30)) == 6
    assert figures.rollover_state(rollover_status="none", days_left=6, rollover_days=8) == "due"
    assert figures.rollover_state(rollover_status="none", days_left=8, rollover_days=8) == "none"
    assert figures.rollover_state(rollover_status="failed", days_left=30, rollover_days=8) == "failed"


def test_cap_bars():
    risk = figures.CapBar("risk", "Risk", Decimal("7.5"), Decimal("15"), Decimal(0))
    assert (risk.fill, risk.state) == (Decimal("50.0"), "ok")
    assert figures.CapBar("vol", "Vol", Decimal("4.2"), Decimal("5"), Decimal(0)).state == "near"
    over = figures.CapBar("margin", "Margin", Decimal("66"), Decimal("60"), Decimal(0))
    assert (over.fill, over.state) == (Decimal("100.0"), "over")
    assert figures.percent_of(Decimal(945000), Decimal(5000000)) == Decimal("18.900")
    assert figures.percent_of(Decimal(1), Decimal(0)) == 0


def test_ranges_and_colours():
    assert figures.range_key("nonsense") == figures.DEFAULT_RANGE
    assert figures.range_start("1w", NOW) == NOW - timedelta(days=7)
    assert figures.range_start("all", NOW) is None
    assert figures.status_colour("held") != figures.NEUTRAL
    assert figures.status_colour("some_new_status") == figures.status_colour("accepted") == figures.NEUTRAL
    assert [status for status, _ in charts.legend()] == ["executed", "blocked", "rejected", "failed", "held", "other"]


def test_equity_chart_draws_both_lines_and_marks_flows():
    points = [charts.EquityPoint(NOW - timedelta(days=3), Decimal(5000000), Decimal(5000000)),
              charts.EquityPoint(NOW - timedelta(days=2), Decimal(5270000), Decimal(5270000)),
              charts.EquityPoint(NOW - timedelta(days=1), Decimal(5170000), Decimal(5170000))]
    flows = [charts.Flow(NOW - timedelta(days=3), Decimal(5000000), Decimal(5000000)),
             charts.Flow(NOW - timedelta(days=1), Decimal(-100000), Decimal(5170000))]
    svg = charts.equity_svg(points, flows, start=NOW - timedelta(days=3), end=NOW)
    assert svg.startswith('<svg id="equity-chart"') and svg.endswith("</svg>")
    assert 'class="closed-line" d="M84.0,' in svg and 'class="high-line"' in svg
    assert svg.count('class="flow deposit"') == 1 and svg.count('class="flow withdrawal"') == 1
    assert "Withdrawal ₹1,00,000.00" in svg and "Closed equity ₹51,70,000.00" in svg
    empty = charts.equity_svg([], [], start=NOW, end=NOW)
    assert "No ledger entries" in empty


def test_timeline_links_each_signal_with_its_outcome_colour():
    marks = [charts.SignalMark(7, "GOLD_MINI", NOW - timedelta(minutes=30), "executed", "BASE_ENTRY Long_1",
                               "/admin/signals/signallog/7/change/"),
             charts.SignalMark(8, "COPPER", NOW - timedelta(minutes=10), "held", "PYRAMID Long_2", "/s/8/"),
             charts.SignalMark(9, "COPPER", NOW, "brand_new", "EXIT ALL <x>", "/s/9/")]
    start, end = charts.timeline_window(marks, day_start=NOW - timedelta(hours=14, minutes=30), now=NOW)
    # The first signal at 14:00 IST: the window opens at that IST hour and spans at least an hour.
    assert start == datetime(2026, 1, 12, 8, 30, tzinfo=dt_timezone.utc) and end == NOW + timedelta(minutes=30)
    svg = charts.timeline_svg(["COPPER", "GOLD_MINI"], marks, start=start, end=end)
    assert svg.count("<circle") == 3 and 'data-signal-id="7"' in svg
    assert 'href="/admin/signals/signallog/7/change/"' in svg
    assert f'fill="{figures.STATUS_COLOURS["held"]}"' in svg and f'fill="{figures.NEUTRAL}"' in svg
    assert "&lt;x&gt;" in svg and "<x>" not in svg
