"""The signal page: the decision's checks as a table with their numbers, the order intents with
broker states and fills, links to the positions the signal touched."""

from __future__ import annotations

import pytest

from signals.models import SignalLog

pytestmark = pytest.mark.django_db


def test_signal_page_shows_checks_orders_and_positions(ops_admin, live_portfolio, webhook):
    webhook.entry(minute=0, price=72000, stop=71500, atr=500, er=0.9)
    webhook.bar(minute=5, price=73900)
    webhook.entry(position="Long_2", minute=6, price=73900, stop=73400, atr=500)
    signal = SignalLog.objects.get(signal_type="BASE_ENTRY")
    page = ops_admin.get(f"/admin/signals/signallog/{signal.pk}/change/").content.decode()
    checks = page.split('id="signal-checks"')[1].split("</table>")[0]
    assert checks.count('<tr class="check-passed">') == len(signal.result["checks"])
    assert "50,00,000" in checks  # the sizing numbers, grouped
    orders = page.split('id="signal-orders"')[1].split("</table>")[0]
    assert "FILLED" in orders and "72,000.00" in orders and "9/9" in orders
    assert 'class="touched-position"' in page and "GOLD_MINI_Long_1" in page and "(opened, open)" in page

    bar = SignalLog.objects.get(signal_type="MARKET_DATA")
    page = ops_admin.get(f"/admin/signals/signallog/{bar.pk}/change/").content.decode()
    touched = page.split('class="touched-position"')[1].split("</div>")[0]
    assert "GOLD_MINI_Long_1" in touched and "trailed / exited" in touched  # named in the bar's stops_moved


def test_blocked_signal_shows_the_failed_check(ops_admin, live_portfolio, webhook):
    webhook.entry("COPPER", minute=0, price=800, stop=700, atr=10, er=0.5)
    signal = SignalLog.objects.get()
    page = ops_admin.get(f"/admin/signals/signallog/{signal.pk}/change/").content.decode()
    assert '<tr class="check-failed"><td>zero_lots</td>' in page
    assert "limiter <strong>risk</strong>" in page and "order intents" in page.lower()
    listing = ops_admin.get("/admin/signals/signallog/").content.decode()
    assert '<span class="pm-status pm-status-blocked">blocked</span>' in listing
